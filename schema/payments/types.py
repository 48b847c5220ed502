from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from domain.payments import ledger, models
from schema.common import Money
from schema.context import Context
from schema.errors import UserError

LedgerKind = models.EntryKind
strawberry.enum(models.EntryKind, name="LedgerKind")  # registers the domain enum with GraphQL


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
    kind: LedgerKind
    amount: Money
    created_at: datetime


@strawberry.type
class PayOrderPayload:
    params: JsapiPayParams | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def order_ledger(info: Info[Context, Any], order_id: int) -> list[LedgerEntry]:
    ctx = info.context
    async with ctx.read_session() as session:
        rows = await ledger.ledger(session, ctx.authenticated_actor(), order_id)
    return [
        LedgerEntry(
            kind=r.kind,
            amount=Money(amount_fen=r.amount_fen, currency=r.currency),
            created_at=r.created_at,
        )
        for r in rows
    ]
