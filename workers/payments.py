"""Payment jobs: refunds (idempotent by our refund number)."""

from __future__ import annotations

from domain.payments import service
from workers.registry import job
from workers.runtime import runtime


@job("order.refund")
async def refund(order_id: int) -> int:
    rt = runtime()
    async with rt.unit_of_work() as session:
        return await service.refund_order(session, rt.payments, order_id)
