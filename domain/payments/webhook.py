"""The payment notification (webhook): verified, then recorded exactly once.

A notification is verified (signature, age, order, amount, currency) before anything changes and
is idempotent by the provider's transaction id; a replay changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from domain import jobs
from domain.base import utcnow
from domain.drops import repository as drop_repo
from domain.drops import teams
from domain.drops.models import OrderStatus
from domain.errors import DomainError, ErrorCode
from domain.payments import repository as repo
from domain.payments.models import PaymentStep
from domain.payments.provider import BadNotification, PaymentNotice, PaymentProvider
from domain.payments.trade import parse_trade_no, step_of
from domain.referrals import service as referrals

log = logging.getLogger(__name__)


class NotificationRejected(DomainError):
    code = ErrorCode.PAYMENT_REJECTED
    default_message = "The payment notification was rejected."


async def handle_notification(
    session: AsyncSession, provider: PaymentProvider, headers: Mapping[str, str], body: bytes
) -> str:
    """Verify, then record a payment exactly once. Returns what happened (for the log).

    A notification that does not verify changes nothing (400, the provider's problem). One that
    verifies is money the member paid: it is recorded whatever it is. If it is what the order
    awaits (its current step, its amount, its currency) the order moves on; if not (a second
    payment, the wrong step, the wrong amount, an order cancelled meanwhile) it is refunded."""
    try:
        notice: PaymentNotice = provider.parse_notification(headers, body)
    except BadNotification as exc:
        raise NotificationRejected(f"Rejected: {exc}") from exc
    if notice.trade_state != "SUCCESS":
        return f"ignored trade_state {notice.trade_state}"
    parsed = parse_trade_no(notice.out_trade_no)
    if parsed is None:
        raise NotificationRejected("Unknown out_trade_no.")
    order_id, step = parsed
    order = await drop_repo.get_order_for_update(session, order_id)
    drop = await drop_repo.get(session, order.drop_id) if order is not None else None
    if order is None or drop is None:
        raise NotificationRejected("Unknown order.")
    if notice.amount_fen <= 0:
        raise NotificationRejected("A payment of nothing.", code=ErrorCode.AMOUNT_MISMATCH)
    awaited = (
        order.status in (OrderStatus.PENDING_PAYMENT, OrderStatus.DEPOSIT_PAID)
        and step is step_of(order, drop.payment_mode)
        and notice.amount_fen == order.amount_due_fen
        and notice.currency == order.currency
        and (order.status is OrderStatus.PENDING_PAYMENT or order.balance_due_at is not None)
    )
    inserted = await repo.record_payment(
        session,
        order_id=order_id,
        step=step,
        amount_fen=notice.amount_fen,
        currency=notice.currency,
        provider=provider.name,
        txn=notice.transaction_id,
        applied=awaited,
    )
    if inserted is None:
        return "replay: already recorded"
    if not awaited:
        log.warning(
            "order %s (%s) got a payment it does not await (%s %s %s): refunding it",
            order_id,
            order.status.value,
            step.value,
            notice.amount_fen,
            notice.currency,
        )
        jobs.enqueue("order.refund", order_id=order_id)
        return f"order {order_id}: unawaited payment recorded, refunding"
    if step is PaymentStep.BALANCE:
        await drop_repo.set_order_status(
            session,
            order_id,
            [OrderStatus.DEPOSIT_PAID],
            OrderStatus.CONFIRMED,
            paid_at=utcnow(),
            balance_due_at=None,
        )
        jobs.enqueue("production.plan", drop_id=order.drop_id)
        await referrals.earn_for_order(session, order.drop_id, order_id)
        return f"order {order_id} balance paid: CONFIRMED"
    new = OrderStatus.DEPOSIT_PAID if step is PaymentStep.DEPOSIT else OrderStatus.PAID
    await drop_repo.set_order_status(
        session, order_id, [OrderStatus.PENDING_PAYMENT], new, paid_at=utcnow(), expires_at=None
    )
    if order.team_id is not None and await teams.seat_paid(session, order.team_id):
        return f"order {order_id} {new.value}; team {order.team_id} FULL"
    return f"order {order_id} {new.value}"


def outcome_kind(outcome: str) -> str:
    """A bounded label for what ``handle_notification`` said (for metrics)."""
    if outcome.startswith("ignored"):
        return "ignored"
    if outcome.startswith("replay"):
        return "replay"
    if "refunding" in outcome:
        return "refunding"
    return "recorded"
