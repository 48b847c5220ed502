"""Settlement and production jobs."""

from __future__ import annotations

import logging

from sqlalchemy import select

from domain.drops import repository as drop_repo
from domain.drops import settlement
from domain.drops.models import Drop, DropStatus
from domain.errors import DomainError
from domain.production import planner
from workers.registry import job
from workers.runtime import runtime

log = logging.getLogger(__name__)


@job("drop.settle")
async def settle(drop_id: int) -> bool:
    """Exactly once whatever the delivery count: guarded by the drop's status."""
    rt = runtime()
    try:
        async with rt.unit_of_work() as session:
            return (await settlement.settle_drop(session, drop_id)).settled_now
    except DomainError as error:
        log.info("drop %s not settled: %s", drop_id, error.message)
        return False


@job("drop.settle_due", every_seconds=30)
async def settle_due() -> int:
    """Catches closed drops whose settle job was lost."""
    rt = runtime()
    async with rt.sessionmaker() as session:
        ids = list((await session.execute(select(Drop.id).where(
            Drop.status == DropStatus.CLOSED))).scalars())
    return sum([await settle(i) for i in ids])


@job("drop.refund_excess")
async def refund_excess(drop_id: int) -> int:
    """Refund every order of a settled drop that holds more than its member owes; each order in
    its own transaction, idempotent (a rerun finds nothing left to refund)."""
    from domain.payments import service as payments

    rt = runtime()
    refunded, after = 0, 0
    while True:
        async with rt.sessionmaker() as session:
            ids = await settlement.orders_to_refund(session, drop_id, after, 500)
        if not ids:
            return refunded
        for order_id in ids:
            async with rt.unit_of_work() as session:
                refunded += await payments.refund_order(session, rt.payments, order_id)
        after = ids[-1]


@job("production.plan")
async def plan(drop_id: int) -> int:
    rt = runtime()
    async with rt.unit_of_work() as session:
        return len(await planner.plan(session, drop_id))


@job("order.balance_overdue", every_seconds=60)
async def balance_overdue() -> int:
    rt = runtime()
    async with rt.sessionmaker() as session:
        drops = await drop_repo.drops_in(session, [DropStatus.SUCCEEDED])
    done = 0
    for drop in drops:
        async with rt.unit_of_work() as session:
            fresh = await drop_repo.get(session, drop.id)
            assert fresh is not None
            done += await settlement.default_overdue_balances(session, fresh)
    return done
