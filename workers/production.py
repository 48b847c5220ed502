"""Settlement and production jobs."""

from __future__ import annotations

import logging

from domain.drops import settlement
from domain.errors import DomainError
from domain.payments import refunds
from domain.production import planner
from infra.services import Services
from workers.common import each_due
from workers.payments import counted
from workers.registry import SERVICES, job

log = logging.getLogger(__name__)


@job("drop.settle")
async def settle(drop_id: int, services: Services = SERVICES) -> bool:
    """Exactly once whatever the delivery count: guarded by the drop's status."""
    try:
        async with services.unit_of_work() as session:
            return (await settlement.settle_drop(session, drop_id)).settled_now
    except DomainError as error:
        log.info("drop %s not settled: %s", drop_id, error.message)
        return False


@job("drop.settle_due", every_seconds=30)
async def settle_due(services: Services = SERVICES) -> int:
    """Catches closed drops whose settle job was lost."""
    async with services.sessionmaker() as session:
        ids = await settlement.due_to_settle(session)
    return sum([await settle(i, services) for i in ids])


@job("drop.refund_excess")
async def refund_excess(drop_id: int, services: Services = SERVICES) -> int:
    """Refund every order of a settled drop that holds more than its member owes; each order in
    its own transaction, idempotent (a rerun finds nothing left to refund)."""
    refunded, after = 0, 0
    while True:
        async with services.sessionmaker() as session:
            ids = await settlement.orders_to_refund(session, drop_id, after, 500)
        if not ids:
            return refunded
        for order_id in ids:
            async with services.unit_of_work() as session:
                fen = await refunds.refund_order(session, services.payments, order_id)
            refunded += counted(fen)
        after = ids[-1]


@job("production.plan")
async def plan(drop_id: int, services: Services = SERVICES) -> int:
    async with services.unit_of_work() as session:
        return len(await planner.plan(session, drop_id))


@job("order.balance_overdue", every_seconds=60)
async def balance_overdue(services: Services = SERVICES) -> int:
    return await each_due(
        services, settlement.with_balances_due, settlement.default_overdue_balances_of
    )
