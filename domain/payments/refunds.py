"""Refunds: what an order holds beyond what its member owes goes back, exactly once.

Per order, payments minus refunds equal what the member owes. Refunds are computed, not
remembered: under the order's row lock, the excess is refunded with the next refund number
``R<order>-<n>``, so a retry after a crash reuses the same number and the provider returns the
same refund, and any rerun refunds nothing more."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from domain.drops import repository as drop_repo
from domain.drops.models import Order, OrderStatus
from domain.payments import repository as repo
from domain.payments.models import EntryKind, LedgerEntry
from domain.payments.provider import PaymentProvider, RefundRequest
from domain.payments.trade import out_trade_no
from domain.referrals import service as referrals


def owed_now(order: Order) -> int:
    """What the member owes today: what settlement (or a default) fixed; nothing for a cancelled
    order or one not paid yet; before settlement, the step paid (the deposit, or the full price).
    Anything paid beyond it (a second payment, a payment of the wrong step or amount, one that
    came after a cancellation) is refunded."""
    if order.owed_fen is not None:
        return order.owed_fen
    if order.status in (OrderStatus.DEPOSIT_PAID, OrderStatus.PAID):
        return order.amount_due_fen
    return 0


async def refund_order(session: AsyncSession, provider: PaymentProvider, order_id: int) -> int:
    """Refund what an order holds beyond what its member owes; returns the amount refunded.

    Runs under the order's row lock; refund numbers are ``R<order>-<n>`` with n counted under
    that lock, so a retry after a crash reuses the same number and the provider returns the same
    refund, and whatever the provider (sandbox or WeChat Pay) a payment is returned once."""
    order = await drop_repo.get_order_for_update(session, order_id)
    if order is None:
        return 0
    owed = owed_now(order)
    entries = await repo.entries(session, order_id)
    payments = [e for e in entries if e.kind is EntryKind.PAYMENT]
    refunds = [e for e in entries if e.kind is EntryKind.REFUND]

    def left(payment: LedgerEntry) -> int:
        return payment.amount_fen - sum(
            r.amount_fen for r in refunds if r.refund_of_id == payment.id
        )

    # Payments the order never awaited go back whole; of the others, what exceeds the debt goes
    # back, the latest payments first.
    applied = [p for p in payments if p.applied is not False]
    excess = sum(left(p) for p in applied) - owed
    plan: list[tuple[LedgerEntry, int]] = [(p, left(p)) for p in payments if p.applied is False]
    for payment in reversed(applied):
        take = min(left(payment), excess)
        if take > 0:
            plan.append((payment, take))
            excess -= take
    n = len(refunds)
    refunded = 0
    for payment, take in plan:
        if take <= 0:
            continue
        refund_no = f"R{order_id}-{n}"
        if payment.step is None:
            raise RuntimeError(f"payment {payment.id} has no step")
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
        refunded += take
    if refunded:
        await session.flush()
        await referrals.reverse_for_order(session, order_id)  # its reward, pro rata
    paid = sum(p.amount_fen for p in payments)
    if order.status is OrderStatus.CANCELLED and paid > 0 and owed == 0:
        await drop_repo.set_order_status(
            session, order_id, [OrderStatus.CANCELLED], OrderStatus.REFUNDED
        )
    return refunded
