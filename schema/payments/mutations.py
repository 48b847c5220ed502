from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay
from strawberry.types import Info

from domain.identity.actor import Actor
from domain.payments import checkout
from schema.context import Context
from schema.errors import mutate
from schema.ids import decode_id
from schema.payments.types import JsapiPayParams, PayOrderPayload


@strawberry.type
class PaymentMutation:
    @strawberry.mutation(
        description="Start paying an order (WeChat Pay JSAPI). The order "
        "becomes DEPOSIT_PAID or PAID when the payment notification arrives."
    )
    async def pay_order(
        self, info: Info[Context, Any], order_id: relay.GlobalID
    ) -> PayOrderPayload:
        async def work(session: AsyncSession, actor: Actor) -> PayOrderPayload:
            p = await checkout.prepay(
                session,
                info.context.services.payments,
                actor,
                decode_id(order_id, "Order", "orderId"),
            )
            return PayOrderPayload(
                params=JsapiPayParams(
                    app_id=p.app_id,
                    time_stamp=p.time_stamp,
                    nonce_str=p.nonce_str,
                    package=p.package,
                    sign_type=p.sign_type,
                    pay_sign=p.pay_sign,
                )
            )

        return await mutate(info, PayOrderPayload, work)
