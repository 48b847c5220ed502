"""Payment jobs: refunds (idempotent by our refund number)."""

from __future__ import annotations

from domain.payments import refunds
from infra.metrics import REFUNDED_FEN, REFUNDS
from infra.services import Services
from workers.registry import SERVICES, job


def counted(fen: int) -> int:
    """Count a refund that committed (for metrics), and pass its amount on."""
    REFUNDS.labels("refunded" if fen else "nothing_owed").inc()
    if fen:
        REFUNDED_FEN.inc(fen)
    return fen


@job("order.refund")
async def refund(order_id: int, services: Services = SERVICES) -> int:
    async with services.unit_of_work() as session:
        fen = await refunds.refund_order(session, services.payments, order_id)
    return counted(fen)
