"""Drop jobs: open and close on time, keep counters equal to PostgreSQL, expire unpaid orders."""

from __future__ import annotations

import logging

from sqlalchemy import update

from domain import jobs
from domain.base import utcnow
from domain.drops import repository as repo
from domain.drops import service
from domain.drops.models import Drop, DropStatus
from domain.drops.reservations import ReservationStore
from domain.notifications import service as notifications
from domain.notifications.models import NotificationKind
from workers.registry import job, on_worker_start
from workers.runtime import Runtime, runtime

log = logging.getLogger(__name__)


def _store(rt: Runtime) -> ReservationStore:
    return ReservationStore(rt.redis)


@job("drop.rebuild_counters")
async def rebuild_counters(drop_id: int) -> int:
    rt = runtime()
    return await service.rebuild_counters(rt.sessionmaker, _store(rt), drop_id)


async def _transition(rt: Runtime, drop_id: int, before: DropStatus, after: DropStatus,
                      due_column: str) -> bool:
    """Guarded status change under the drop's exclusive lock; idempotent."""
    async with rt.unit_of_work() as session:
        await repo.lock_exclusive(session, drop_id)
        column = getattr(Drop, due_column)
        stmt = (update(Drop).where(Drop.id == drop_id, Drop.status == before,
                                   column <= utcnow())
                .values(status=after, **({"closed_at": utcnow()} if after is DropStatus.CLOSED
                                         else {}))
                .returning(Drop.id))
        changed = (await session.execute(stmt)).scalar_one_or_none() is not None
        if changed:
            jobs.enqueue("drop.rebuild_counters", drop_id=drop_id)
            if after is DropStatus.OPEN:
                await notifications.record_event(session, NotificationKind.DROP_OPENED, drop_id)
            if after is DropStatus.CLOSED:
                jobs.enqueue("drop.settle", drop_id=drop_id)
    return changed


@job("drop.cancelled")
async def cancel_orders(drop_id: int) -> int:
    """Cancel every live order of a cancelled drop; paid ones are refunded. Idempotent: each
    order moves under a guarded status change."""
    from sqlalchemy import select

    from domain.drops.models import Order, OrderStatus

    rt = runtime()
    async with rt.sessionmaker() as session:
        rows = (await session.execute(select(Order.id, Order.status).where(
            Order.drop_id == drop_id,
            Order.status.in_([OrderStatus.PENDING_PAYMENT, OrderStatus.DEPOSIT_PAID,
                              OrderStatus.PAID, OrderStatus.CONFIRMED])))).all()
    done = 0
    for order_id, status in rows:
        async with rt.unit_of_work() as session:
            if await repo.set_order_status(session, order_id, [status], OrderStatus.CANCELLED,
                                           cancelled_at=utcnow(), cancel_reason="DROP_CANCELLED"):
                done += 1
                if status is not OrderStatus.PENDING_PAYMENT:
                    jobs.enqueue("order.refund", order_id=order_id)
    jobs_after = done
    await service.rebuild_counters(rt.sessionmaker, _store(rt), drop_id)
    return jobs_after


@job("drop.open_due", every_seconds=5)
async def open_due() -> int:
    rt = runtime()
    async with rt.sessionmaker() as session:
        ids = await repo.drops_due(session, DropStatus.SCHEDULED, "opens_at", utcnow())
    return sum([await _transition(rt, i, DropStatus.SCHEDULED, DropStatus.OPEN, "opens_at")
                for i in ids])


@job("drop.close_due", every_seconds=5)
async def close_due() -> int:
    rt = runtime()
    closed = 0
    for status in (DropStatus.OPEN, DropStatus.SCHEDULED):
        async with rt.sessionmaker() as session:
            ids = await repo.drops_due(session, status, "closes_at", utcnow())
        for i in ids:
            closed += await _transition(rt, i, status, DropStatus.CLOSED, "closes_at")
    return closed


@job("order.expire_due", every_seconds=10)
async def expire_due() -> int:
    rt = runtime()
    store = _store(rt)
    async with rt.sessionmaker() as session:
        due = await repo.expired_unpaid(session, utcnow())
    expired = 0
    for order_id, _ in due:
        async with rt.unit_of_work() as session:
            expired += await service.expire_order(session, store, order_id)
    return expired


@job("drop.reconcile_selling", every_seconds=60)
async def reconcile_selling() -> int:
    """Rebuild the counters of every selling drop: drops phantom reservations of processes that
    died between Redis and their commit, and repairs anything else that drifted."""
    rt = runtime()
    async with rt.sessionmaker() as session:
        drops = await repo.drops_in(session, service.SELLING)
    for d in drops:
        await service.rebuild_counters(rt.sessionmaker, _store(rt), d.id)
    return len(drops)


@on_worker_start
async def reconcile_on_start(rt: Runtime) -> None:
    async with rt.sessionmaker() as session:
        drops = await repo.drops_in(session, service.SELLING)
    for d in drops:
        await service.rebuild_counters(rt.sessionmaker, _store(rt), d.id)
