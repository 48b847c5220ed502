"""Payment jobs: refunds (idempotent by our refund number)."""

from __future__ import annotations

from domain.payments import refunds
from infra.services import Services
from workers.registry import SERVICES, job


@job("order.refund")
async def refund(order_id: int, services: Services = SERVICES) -> int:
    async with services.unit_of_work() as session:
        return await refunds.refund_order(session, services.payments, order_id)
