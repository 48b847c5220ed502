from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from domain.notifications import inbox
from schema.context import Context
from schema.notifications.types import Notification
from schema.pagination import Connection, key_page, page_connection


@strawberry.type
class NotificationQuery:
    @strawberry.field(
        description="The viewer's in-app inbox, newest first; `last` (with `before`) pages "
        "from the oldest forward, e.g. what arrived since a cursor."
    )
    async def my_notifications(
        self,
        info: Info[Context, Any],
        first: int | None = None,
        after: str | None = None,
        unread_only: bool = False,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Notification]:
        ctx = info.context
        actor = ctx.authenticated_actor()
        page = key_page("notification", first, after, last, before)
        async with ctx.read_session() as session:
            rows = await inbox.inbox(session, actor, page, unread_only)

        async def count() -> int:
            async with ctx.read_session() as session:
                return await inbox.count_inbox(session, actor, unread_only)

        return page_connection(
            rows, page, "notification", lambda n: n.id, Notification.from_model, count
        )

    @strawberry.field
    async def unread_notification_count(self, info: Info[Context, Any]) -> int:
        ctx = info.context
        async with ctx.read_session() as session:
            return await inbox.unread_count(session, ctx.authenticated_actor())
