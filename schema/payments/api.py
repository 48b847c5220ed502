from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.payments import models, service
from domain.payments.provider import ProviderError
from schema.common import Money
from schema.context import Context
from schema.errors import UserError, in_unit_of_work
from schema.ids import decode_id

LedgerKind = strawberry.enum(models.EntryKind, name="LedgerKind")


@strawberry.type(description="Arguments for wx.requestPayment in the mini-program.")
class JsapiPayParams:
    app_id: str
    time_stamp: str
    nonce_str: str
    package: str
    sign_type: str
    pay_sign: str


@strawberry.type(description="One line of an order's append-only money ledger.")
class LedgerEntry:
    kind: LedgerKind  # type: ignore[valid-type]
    amount: Money
    created_at: datetime


@strawberry.type
class PayOrderPayload:
    params: JsapiPayParams | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PaymentMutation:
    @strawberry.mutation(description="Start paying an order (WeChat Pay JSAPI). The order "
                         "becomes DEPOSIT_PAID or PAID when the payment notification arrives.")
    async def pay_order(self, info: Info[Context, Any], order_id: relay.GlobalID) -> PayOrderPayload:
        ctx = info.context

        async def work(session: Any) -> JsapiPayParams:
            oid = decode_id(order_id, "Order", "orderId")
            try:
                p = await service.prepay(session, ctx.services.payments,
                                         ctx.authenticated_actor(), oid)
            except ProviderError as exc:
                raise service.DomainError("The payment service is unavailable; retry shortly.",
                                          code=service.ErrorCode.UPSTREAM_ERROR) from exc
            return JsapiPayParams(app_id=p.app_id, time_stamp=p.time_stamp,
                                  nonce_str=p.nonce_str, package=p.package,
                                  sign_type=p.sign_type, pay_sign=p.pay_sign)

        out = await in_unit_of_work(ctx, work)
        return PayOrderPayload(errors=[out]) if isinstance(out, UserError) else PayOrderPayload(
            params=out)


async def order_ledger(info: Info[Context, Any], order_id: int) -> list[LedgerEntry]:
    ctx = info.context
    async with ctx.read_session() as session:
        rows = await service.ledger(session, ctx.authenticated_actor(), order_id)
    return [LedgerEntry(kind=r.kind, amount=Money(amount_fen=r.amount_fen, currency=r.currency),
                        created_at=r.created_at) for r in rows]
