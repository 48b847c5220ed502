from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.notifications import models, service
from schema.context import Context
from schema.errors import UserError, in_unit_of_work
from schema.ids import decode_id
from schema.pagination import Connection, build_connection, decode_int_cursor, page_size

NotificationKind = strawberry.enum(models.NotificationKind, name="NotificationKind")


@strawberry.type
class Notification(relay.Node):
    id: relay.NodeID[int]
    title: str
    body: str
    link: str
    voted_for_it: bool = strawberry.field(description="True when the member voted for this style.")
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def from_model(cls, n: models.Notification) -> Notification:
        return cls(id=n.id, title=n.title, body=n.body, link=n.link, voted_for_it=n.priority == 0,
                   created_at=n.created_at, read_at=n.read_at)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, Any], node_ids: Any, required: bool = False
    ) -> list[Notification | None]:
        ctx = info.context
        out: list[Notification | None] = []
        async with ctx.read_session() as session:
            for raw in node_ids:
                n = await session.get(models.Notification, int(raw)) if raw.isdigit() else None
                out.append(cls.from_model(n) if n and n.user_id == ctx.actor.user_id else None)
        return out


@strawberry.type
class MarkReadPayload:
    marked: int = 0
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OptOutPayload:
    kind: NotificationKind | None = None  # type: ignore[valid-type]
    opted_out: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class NotificationQuery:
    @strawberry.field(description="The viewer's in-app inbox, newest first.")
    async def my_notifications(
        self, info: Info[Context, Any], first: int | None = None, after: str | None = None,
        unread_only: bool = False,
    ) -> Connection[Notification]:
        ctx = info.context
        limit = page_size(first)
        before_id = decode_int_cursor("notification", after)
        async with ctx.read_session() as session:
            rows = await service.inbox(session, ctx.authenticated_actor(), before_id, limit + 1,
                                       unread_only)
        return build_connection(rows, limit, "notification", lambda n: n.id,
                                Notification.from_model)

    @strawberry.field
    async def unread_notification_count(self, info: Info[Context, Any]) -> int:
        ctx = info.context
        async with ctx.read_session() as session:
            return await service.unread_count(session, ctx.authenticated_actor())


@strawberry.type
class NotificationMutation:
    @strawberry.mutation(description="Mark notifications read (all of them when ids is omitted).")
    async def mark_notifications_read(
        self, info: Info[Context, Any], ids: list[relay.GlobalID] | None = None
    ) -> MarkReadPayload:
        ctx = info.context

        async def work(session: Any) -> int:
            pks = None if ids is None else [decode_id(i, "Notification", "ids") for i in ids]
            return await service.mark_read(session, ctx.authenticated_actor(), pks)

        out = await in_unit_of_work(ctx, work)
        return MarkReadPayload(errors=[out]) if isinstance(out, UserError) else MarkReadPayload(
            marked=out)

    @strawberry.mutation(description="Opt out of (or back into) a kind of notification.")
    async def set_notification_opt_out(
        self, info: Info[Context, Any], kind: NotificationKind,  # type: ignore[valid-type]
        opted_out: bool,
    ) -> OptOutPayload:
        ctx = info.context

        async def work(session: Any) -> bool:
            return await service.set_opt_out(session, ctx.authenticated_actor(), kind, opted_out)

        out = await in_unit_of_work(ctx, work)
        if isinstance(out, UserError):
            return OptOutPayload(errors=[out])
        return OptOutPayload(kind=kind, opted_out=out)
