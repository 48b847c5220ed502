from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.notifications import inbox, models
from schema.context import Context
from schema.errors import UserError
from schema.ids import node_pks

NotificationKind = models.NotificationKind
strawberry.enum(
    models.NotificationKind, name="NotificationKind"
)  # registers the domain enum with GraphQL


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
        return cls(
            id=n.id,
            title=n.title,
            body=n.body,
            link=n.link,
            voted_for_it=n.priority == 0,
            created_at=n.created_at,
            read_at=n.read_at,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, Any], node_ids: Iterable[str], required: bool = False
    ) -> list[Notification | None]:
        ctx = info.context
        pks = node_pks(node_ids)
        async with ctx.read_session() as session:
            found = await inbox.visible_notifications(session, ctx.actor, [p for p in pks if p])
        return [cls.from_model(found[p]) if p in found else None for p in pks]


@strawberry.type
class MarkReadPayload:
    marked: int = 0
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OptOutPayload:
    kind: NotificationKind | None = None
    opted_out: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)
