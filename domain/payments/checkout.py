"""Starting a payment: the member asks to pay what an order's current step asks for."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from domain.base import utcnow
from domain.drops import repository as drop_repo
from domain.drops.models import OrderStatus
from domain.errors import Conflict, ErrorCode, InvalidTransition, NotFound, Unavailable
from domain.identity.actor import Actor
from domain.identity.roles import require_user
from domain.payments.provider import JsapiParams, PaymentProvider, PrepayRequest, ProviderError
from domain.payments.trade import out_trade_no, step_of


async def prepay(
    session: AsyncSession, provider: PaymentProvider, actor: Actor, order_id: int
) -> JsapiParams:
    user = await require_user(session, actor)
    order = await drop_repo.get_order(session, order_id)
    if order is None or order.user_id != user.id:
        raise NotFound("No such order.", field="orderId")
    paying_balance = order.status is OrderStatus.DEPOSIT_PAID and order.balance_due_at is not None
    if order.status is not OrderStatus.PENDING_PAYMENT and not paying_balance:
        raise InvalidTransition("This order is not waiting for payment.")
    deadline = order.balance_due_at if paying_balance else order.expires_at
    if deadline is not None and deadline <= utcnow():
        raise Conflict("The time to pay this order has run out.", code=ErrorCode.DROP_CLOSED)
    drop = await drop_repo.get(session, order.drop_id)
    if drop is None:
        raise NotFound("No such order.", field="orderId")
    try:
        return await provider.prepay(
            PrepayRequest(
                out_trade_no=out_trade_no(order.id, step_of(order, drop.payment_mode)),
                description=drop.title,
                amount_fen=order.amount_due_fen,
                currency=order.currency,
                openid=user.wechat_openid,
            )
        )
    except ProviderError as exc:
        raise Unavailable(
            "The payment service is unavailable; retry shortly.", code=ErrorCode.UPSTREAM_ERROR
        ) from exc
