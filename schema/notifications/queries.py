from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from domain.notifications import inbox
from schema.context import Context
from schema.notifications.types import Notification
from schema.pagination import Connection, build_connection, decode_int_cursor, page_size


@strawberry.type
class NotificationQuery:
    @strawberry.field(description="The viewer's in-app inbox, newest first.")
    async def my_notifications(
        self,
        info: Info[Context, Any],
        first: int | None = None,
        after: str | None = None,
        unread_only: bool = False,
    ) -> Connection[Notification]:
        ctx = info.context
        limit = page_size(first)
        before_id = decode_int_cursor("notification", after)
        async with ctx.read_session() as session:
            rows = await inbox.inbox(
                session, ctx.authenticated_actor(), before_id, limit + 1, unread_only
            )
        return build_connection(
            rows, limit, "notification", lambda n: n.id, Notification.from_model
        )

    @strawberry.field
    async def unread_notification_count(self, info: Info[Context, Any]) -> int:
        ctx = info.context
        async with ctx.read_session() as session:
            return await inbox.unread_count(session, ctx.authenticated_actor())
