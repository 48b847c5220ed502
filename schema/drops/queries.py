from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from domain.drops import orders, visibility
from domain.drops.models import DropStatus as DomainDropStatus
from schema.context import Context
from schema.drops.types import Drop, DropStatus, Order
from schema.pagination import Connection, build_connection, decode_int_cursor, page_size


@strawberry.type
class DropQuery:
    @strawberry.field(description="Drops of the viewer's communities (default: selling ones).")
    async def drops(
        self,
        info: Info[Context, Any],
        status: list[DropStatus] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Drop]:
        ctx = info.context
        limit = page_size(first)
        after_id = decode_int_cursor("drop", after)
        statuses = list(status) if status else [DomainDropStatus.SCHEDULED, DomainDropStatus.OPEN]
        async with ctx.read_session() as session:
            rows = await visibility.drops_for_member(
                session, ctx.authenticated_actor(), statuses, after_id, limit + 1
            )
        return build_connection(rows, limit, "drop", lambda d: d.id, Drop.from_model)

    @strawberry.field(description="The viewer's orders, oldest first.")
    async def my_orders(
        self, info: Info[Context, Any], first: int | None = None, after: str | None = None
    ) -> Connection[Order]:
        ctx = info.context
        limit = page_size(first)
        after_id = decode_int_cursor("order", after)
        async with ctx.read_session() as session:
            rows = await orders.my_orders(session, ctx.authenticated_actor(), after_id, limit + 1)
        return build_connection(rows, limit, "order", lambda o: o.id, Order.from_model)
