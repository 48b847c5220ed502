from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay
from strawberry.types import Info

from domain.identity.actor import Actor
from domain.notifications import inbox
from schema.context import Context
from schema.errors import mutate
from schema.ids import decode_ids
from schema.notifications.types import MarkReadPayload, NotificationKind, OptOutPayload


@strawberry.type
class NotificationMutation:
    @strawberry.mutation(description="Mark notifications read (all of them when ids is omitted).")
    async def mark_notifications_read(
        self, info: Info[Context, Any], ids: list[relay.GlobalID] | None = None
    ) -> MarkReadPayload:
        async def work(session: AsyncSession, actor: Actor) -> MarkReadPayload:
            pks = None if ids is None else decode_ids(ids, "Notification", "ids")
            return MarkReadPayload(marked=await inbox.mark_read(session, actor, pks))

        return await mutate(info, MarkReadPayload, work)

    @strawberry.mutation(description="Opt out of (or back into) a kind of notification.")
    async def set_notification_opt_out(
        self,
        info: Info[Context, Any],
        kind: NotificationKind,
        opted_out: bool,
    ) -> OptOutPayload:
        async def work(session: AsyncSession, actor: Actor) -> OptOutPayload:
            done = await inbox.set_opt_out(session, actor, kind, opted_out)
            return OptOutPayload(kind=kind, opted_out=done)

        return await mutate(info, OptOutPayload, work)
