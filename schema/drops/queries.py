from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from domain.drops import orders, teams, visibility
from domain.drops.models import DropStatus as DomainDropStatus
from domain.errors import NotFound
from schema.context import Context
from schema.drops.types import Drop, DropStatus, Order, Team
from schema.pagination import (
    Connection,
    build_connection,
    decode_int_cursor,
    key_page,
    page_connection,
    page_size,
)


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

    @strawberry.field(
        description="The viewer's orders, oldest first; `last` (with `before`) pages from the "
        "newest back."
    )
    async def my_orders(
        self,
        info: Info[Context, Any],
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Order]:
        ctx = info.context
        actor = ctx.authenticated_actor()
        page = key_page("order", first, after, last, before)
        async with ctx.read_session() as session:
            rows = await orders.my_orders(session, actor, page)

        async def count() -> int:
            async with ctx.read_session() as session:
                return await orders.count_my_orders(session, actor)

        return page_connection(rows, page, "order", lambda o: o.id, Order.from_model, count)

    @strawberry.field(
        description="A group-buy team by its share token (what a shared link carries): public "
        "fields only. Null when no team has that token."
    )
    async def team(self, info: Info[Context, Any], share_token: str) -> Team | None:
        ctx = info.context
        async with ctx.read_session() as session:
            try:
                view = await teams.by_token(session, ctx.authenticated_actor(), share_token)
            except NotFound:
                return None
        return Team.from_view(view)

    @strawberry.field(description="Teams the viewer has an order in, newest first.")
    async def my_teams(
        self, info: Info[Context, Any], first: int | None = None, after: str | None = None
    ) -> Connection[Team]:
        ctx = info.context
        limit = page_size(first)
        after_id = decode_int_cursor("team", after)
        async with ctx.read_session() as session:
            rows = await teams.my_teams(session, ctx.authenticated_actor(), after_id, limit + 1)
        return build_connection(rows, limit, "team", lambda v: v.team.id, Team.from_view)
