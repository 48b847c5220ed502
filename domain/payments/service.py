"""Payments: prepay, the verified and idempotent notification, refunds, the ledger.

Invariant: per order, payments minus refunds equal what the member owes; each provider
transaction is recorded once (unique key) and each refund carries our own refund number, so a
retried refund is the same refund.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from domain import jobs
from domain.base import utcnow
from domain.drops import repository as drop_repo
from domain.drops.models import Order, OrderStatus, PaymentMode
from domain.errors import Conflict, DomainError, ErrorCode, InvalidTransition, NotFound
from domain.identity import service as identity
from domain.identity.actor import Actor
from domain.payments.models import EntryKind, LedgerEntry, PaymentStep
from domain.payments.provider import (
    BadNotification,
    JsapiParams,
    PaymentNotice,
    PaymentProvider,
    PrepayRequest,
    RefundRequest,
)

log = logging.getLogger(__name__)


class NotificationRejected(DomainError):
    code = ErrorCode.PAYMENT_REJECTED
    default_message = "The payment notification was rejected."


def out_trade_no(order_id: int, step: PaymentStep) -> str:
    return f"C2M{order_id}{step.value[0]}"


def parse_trade_no(value: str) -> tuple[int, PaymentStep] | None:
    if not value.startswith("C2M") or len(value) < 5:
        return None
    steps = {s.value[0]: s for s in PaymentStep}
    step = steps.get(value[-1])
    digits = value[3:-1]
    if step is None or not digits.isdigit():
        return None
    return int(digits), step


def step_of(order: Order, mode: PaymentMode) -> PaymentStep:
    if order.status is OrderStatus.DEPOSIT_PAID and order.balance_due_at is not None:
        return PaymentStep.BALANCE
    return PaymentStep.DEPOSIT if mode is PaymentMode.DEPOSIT else PaymentStep.FULL


async def prepay(session: AsyncSession, provider: PaymentProvider, actor: Actor,
                 order_id: int) -> JsapiParams:
    user = await identity.require_user(session, actor)
    order = await drop_repo.get_order(session, order_id)
    if order is None or order.user_id != user.id:
        raise NotFound("No such order.", field="orderId")
    paying_balance = (order.status is OrderStatus.DEPOSIT_PAID
                      and order.balance_due_at is not None)
    if order.status is not OrderStatus.PENDING_PAYMENT and not paying_balance:
        raise InvalidTransition("This order is not waiting for payment.")
    deadline = order.balance_due_at if paying_balance else order.expires_at
    if deadline is not None and deadline <= utcnow():
        raise Conflict("The time to pay this order has run out.", code=ErrorCode.DROP_CLOSED)
    drop = await drop_repo.get(session, order.drop_id)
    assert drop is not None
    return await provider.prepay(PrepayRequest(
        out_trade_no=out_trade_no(order.id, step_of(order, drop.payment_mode)),
        description=drop.title, amount_fen=order.amount_due_fen, currency=order.currency,
        openid=user.wechat_openid))


@dataclass(frozen=True)
class Balance:
    paid: int
    refunded: int

    @property
    def net(self) -> int:
        return self.paid - self.refunded


async def balance(session: AsyncSession, order_id: int) -> Balance:
    rows = (await session.execute(
        select(LedgerEntry.kind, func.coalesce(func.sum(LedgerEntry.amount_fen), 0))
        .where(LedgerEntry.order_id == order_id).group_by(LedgerEntry.kind))).all()
    sums = {k: int(v) for k, v in rows}
    return Balance(sums.get(EntryKind.PAYMENT, 0), sums.get(EntryKind.REFUND, 0))


async def ledger(session: AsyncSession, actor: Actor, order_id: int) -> list[LedgerEntry]:
    user = await identity.require_user(session, actor)
    order = await drop_repo.get_order(session, order_id)
    if order is None or (order.user_id != user.id and not user.is_operator):
        raise NotFound("No such order.", field="orderId")
    stmt = select(LedgerEntry).where(LedgerEntry.order_id == order_id).order_by(LedgerEntry.id)
    return list((await session.execute(stmt)).scalars())


RECORD_PAYMENT = text(
    """
    INSERT INTO payment_ledger (order_id, kind, step, amount_fen, currency, provider,
                                provider_txn_id)
    VALUES (:order_id, 'PAYMENT', :step, :amount, :currency, :provider, :txn)
    ON CONFLICT (provider, provider_txn_id) DO NOTHING
    RETURNING id
    """
)


async def handle_notification(session: AsyncSession, provider: PaymentProvider,
                              headers: Mapping[str, str], body: bytes) -> str:
    """Verify, then record a payment exactly once. Returns what happened (for the log)."""
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
    if order is None:
        raise NotificationRejected("Unknown order.")
    if notice.amount_fen != order.amount_due_fen or notice.currency != order.currency:
        log.error("amount mismatch on order %s: notified %s %s, expected %s %s", order_id,
                  notice.amount_fen, notice.currency, order.amount_due_fen, order.currency)
        raise NotificationRejected("The amount does not match the order.",
                                   code=ErrorCode.AMOUNT_MISMATCH)
    inserted = (await session.execute(RECORD_PAYMENT, {
        "order_id": order_id, "step": step.value, "amount": notice.amount_fen,
        "currency": notice.currency, "provider": provider.name,
        "txn": notice.transaction_id})).scalar_one_or_none()
    if inserted is None:
        return "replay: already recorded"
    if step is PaymentStep.BALANCE and order.status is OrderStatus.DEPOSIT_PAID \
            and order.balance_due_at is not None:
        await drop_repo.set_order_status(session, order_id, [OrderStatus.DEPOSIT_PAID],
                                         OrderStatus.CONFIRMED, paid_at=utcnow(),
                                         balance_due_at=None)
        jobs.enqueue("production.plan", drop_id=order.drop_id)
        return f"order {order_id} balance paid: CONFIRMED"
    if order.status is OrderStatus.PENDING_PAYMENT and step is not PaymentStep.BALANCE:
        new = OrderStatus.DEPOSIT_PAID if step is PaymentStep.DEPOSIT else OrderStatus.PAID
        await drop_repo.set_order_status(session, order_id, [OrderStatus.PENDING_PAYMENT], new,
                                         paid_at=utcnow(), expires_at=None)
        return f"order {order_id} {new.value}"
    # Paid after it expired or was cancelled: the money goes back.
    jobs.enqueue("order.refund", order_id=order_id)
    return f"order {order_id} was {order.status.value}: refunding"


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
    entries = list((await session.execute(select(LedgerEntry).where(
        LedgerEntry.order_id == order_id).order_by(LedgerEntry.id))).scalars())
    paid = sum(e.amount_fen for e in entries if e.kind is EntryKind.PAYMENT)
    refunds = [e for e in entries if e.kind is EntryKind.REFUND]
    excess = paid - sum(e.amount_fen for e in refunds) - owed
    refunded = 0
    n = len(refunds)
    for payment in reversed([e for e in entries if e.kind is EntryKind.PAYMENT]):
        if excess <= 0:
            break
        left = payment.amount_fen - sum(r.amount_fen for r in refunds
                                        if r.refund_of_id == payment.id)
        take = min(left, excess)
        if take <= 0:
            continue
        refund_no = f"R{order_id}-{n}"
        assert payment.step is not None
        provider_id = await provider.refund(RefundRequest(
            out_trade_no=out_trade_no(order_id, payment.step), out_refund_no=refund_no,
            refund_fen=take, total_fen=payment.amount_fen, currency=payment.currency))
        session.add(LedgerEntry(order_id=order_id, kind=EntryKind.REFUND, amount_fen=take,
                                currency=payment.currency, provider=provider.name,
                                refund_no=refund_no, provider_refund_id=provider_id,
                                refund_of_id=payment.id))
        await session.flush()
        n += 1
        excess -= take
        refunded += take
    if order.status is OrderStatus.CANCELLED and paid > 0 and owed == 0:
        await drop_repo.set_order_status(session, order_id, [OrderStatus.CANCELLED],
                                         OrderStatus.REFUNDED)
    return refunded
