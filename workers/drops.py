"""Drop jobs: open and close on time, keep counters equal to PostgreSQL, expire unpaid orders,
close group-buy teams at their deadline, cancel the orders of a cancelled drop, sweep uploads
never completed."""

from __future__ import annotations

from domain.drops import counters, lifecycle, orders, teams, uploads
from infra.services import Services
from workers.common import each_due
from workers.registry import SERVICES, job, on_worker_start


@job("drop.rebuild_counters")
async def rebuild_counters(drop_id: int, services: Services = SERVICES) -> int:
    return await counters.rebuild_counters(services.sessionmaker, services.reservations, drop_id)


@job("drop.open_due", every_seconds=5)
async def open_due(services: Services = SERVICES) -> int:
    return await each_due(services, lifecycle.due_to_open, lifecycle.open_if_due)


@job("drop.early_access_due", every_seconds=5)
async def early_access_due(services: Services = SERVICES) -> int:
    """Tell the voters of scheduled drops whose head start began (each drop once)."""
    return await each_due(services, lifecycle.due_for_early_access, lifecycle.early_access_if_due)


@job("drop.close_due", every_seconds=5)
async def close_due(services: Services = SERVICES) -> int:
    return await each_due(services, lifecycle.due_to_close, lifecycle.close_if_due)


@job("drop.cancelled")
async def cancel_orders(drop_id: int, services: Services = SERVICES) -> int:
    """Cancel every live order of a cancelled drop; paid ones are refunded. Each order in its own
    transaction, guarded by its status: a rerun changes nothing more."""
    async with services.sessionmaker() as session:
        live = await orders.live_orders_of(session, drop_id)
    done = 0
    for order_id, status in live:
        async with services.unit_of_work() as session:
            done += await orders.cancel_for_cancelled_drop(session, order_id, status)
    await counters.rebuild_counters(services.sessionmaker, services.reservations, drop_id)
    return done


@job("team.close_due", every_seconds=10)
async def close_due_teams(services: Services = SERVICES) -> int:
    """Fail the open teams whose deadline passed and apply their policy; each team in its own
    transaction, guarded by its status: a rerun or a second worker changes nothing more."""
    return await each_due(
        services,
        teams.due_to_close,
        lambda session, team_id: teams.close_team(session, services.reservations, team_id),
    )


@job("order.expire_due", every_seconds=10)
async def expire_due(services: Services = SERVICES) -> int:
    return await each_due(
        services,
        orders.due_to_expire,
        lambda session, order_id: orders.expire_order(session, services.reservations, order_id),
    )


@job("drop.reconcile_selling", every_seconds=15)
async def reconcile_selling(services: Services = SERVICES) -> int:
    """Compare every selling drop's counters with PostgreSQL and rebuild those that differ:
    phantom reservations of processes that died between Redis and their commit, releases that
    were lost, a Redis that came back behind."""
    return await counters.reconcile_selling(services.sessionmaker, services.reservations)


@on_worker_start
async def reconcile_on_start(services: Services) -> int:
    return await reconcile_selling(services)


@job("upload.expire_abandoned", every_seconds=3600)
async def expire_abandoned_uploads(services: Services = SERVICES) -> int:
    """Delete the bytes of uploads never completed, a day after their link expired (each upload
    in its own transaction, locked and checked: a completion racing the sweep wins or loses
    whole)."""
    return await each_due(
        services,
        uploads.due_to_expire,
        lambda session, upload_id: uploads.expire_abandoned(
            session, services.media_store, upload_id
        ),
    )
