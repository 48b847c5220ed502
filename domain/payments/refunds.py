"""Refunds: what an order holds beyond what its member owes goes back, exactly once.

Per order, payments minus refunds equal what the member owes. Refunds are computed, not
remembered: under the order's row lock, the excess is refunded with the next refund number
``R<order>-<n>``, so a retry after a crash reuses the same number and the provider returns the
same refund, and any rerun refunds nothing more."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from domain.drops import repository as drop_repo
from domain.drops.models import OrderStatus
from domain.payments import repository as repo
from domain.payments.models import EntryKind, LedgerEntry
from domain.payments.provider import PaymentProvider, RefundRequest
from domain.payments.trade import out_trade_no


async def refund_order(session: AsyncSession, provider: PaymentProvider, order_id: int) -> int:
    """Refund what an order holds beyond what its member owes; returns the amount refunded.

    What is owed: ``owed_fen`` when settlement (or a default) set it, else nothing for a
    cancelled order, and nothing to decide yet for a live unsettled one. Runs under the order's
    row lock; refund numbers are ``R<order>-<n>`` with n counted under that lock, so a retry after
    a crash reuses the same number and the provider returns the same refund."""
    order = await drop_repo.get_order_for_update(session, order_id)
    if order is None:
        return 0
    cancelled = order.status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED)
    owed = order.owed_fen if order.owed_fen is not None else (0 if cancelled else None)
    if owed is None:
        return 0
    entries = await repo.entries(session, order_id)
    paid = sum(e.amount_fen for e in entries if e.kind is EntryKind.PAYMENT)
    refunds = [e for e in entries if e.kind is EntryKind.REFUND]
    excess = paid - sum(e.amount_fen for e in refunds) - owed
    refunded = 0
    n = len(refunds)
    for payment in reversed([e for e in entries if e.kind is EntryKind.PAYMENT]):
        if excess <= 0:
            break
        left = payment.amount_fen - sum(
            r.amount_fen for r in refunds if r.refund_of_id == payment.id
        )
        take = min(left, excess)
        if take <= 0:
            continue
        refund_no = f"R{order_id}-{n}"
        assert payment.step is not None
        provider_id = await provider.refund(
            RefundRequest(
                out_trade_no=out_trade_no(order_id, payment.step),
                out_refund_no=refund_no,
                refund_fen=take,
                total_fen=payment.amount_fen,
                currency=payment.currency,
            )
        )
        await repo.add(
            session,
            LedgerEntry(
                order_id=order_id,
                kind=EntryKind.REFUND,
                amount_fen=take,
                currency=payment.currency,
                provider=provider.name,
                refund_no=refund_no,
                provider_refund_id=provider_id,
                refund_of_id=payment.id,
            ),
        )
        n += 1
        excess -= take
        refunded += take
    if order.status is OrderStatus.CANCELLED and paid > 0 and owed == 0:
        await drop_repo.set_order_status(
            session, order_id, [OrderStatus.CANCELLED], OrderStatus.REFUNDED
        )
    return refunded
