from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.community import communities, membership, models
from schema.context import Context
from schema.errors import UserError
from schema.ids import node_pks


@strawberry.enum
class CommunityRole(enum.Enum):
    OWNER = "OWNER"
    MEMBER = "MEMBER"


@strawberry.type(
    description="Long-tail needs; visible only to the member and the KOCs of their communities."
)
class MemberProfile:
    height_cm: int | None
    weight_kg: int | None
    usual_sizes: list[str]
    body_notes: str
    style_tags: list[str]

    @classmethod
    def from_model(cls, p: models.MemberProfile | None) -> MemberProfile:
        if p is None:
            return cls(height_cm=None, weight_kg=None, usual_sizes=[], body_notes="", style_tags=[])
        return cls(
            height_cm=p.height_cm,
            weight_kg=p.weight_kg,
            usual_sizes=list(p.usual_sizes),
            body_notes=p.body_notes,
            style_tags=list(p.style_tags),
        )


@strawberry.type
class Community(relay.Node):
    id: relay.NodeID[int]
    name: str
    description: str
    cover_image_url: str | None
    created_at: datetime
    owner_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, c: models.Community) -> Community:
        return cls(
            id=c.id,
            name=c.name,
            description=c.description,
            cover_image_url=c.cover_image_url,
            created_at=c.created_at,
            owner_id=c.owner_id,
        )

    @strawberry.field(
        description="OWNER for the community's KOC (while they hold the role), MEMBER otherwise."
    )
    async def viewer_role(self, info: Info[Context, Any]) -> CommunityRole:
        ctx = info.context
        if ctx.actor.user_id != self.owner_id:
            return CommunityRole.MEMBER
        if "viewer_runs" not in ctx.loaders:  # once per request
            async with ctx.read_session() as session:
                runs = await communities.runs(session, ctx.actor, self.owner_id)
            ctx.loaders["viewer_runs"] = runs
        return CommunityRole.OWNER if ctx.loaders["viewer_runs"] else CommunityRole.MEMBER

    @strawberry.field(description="Members (active), for everyone in the community.")
    async def member_count(self, info: Info[Context, Any]) -> int:
        async with info.context.read_session() as session:
            return await communities.member_count(session, self.id)

    @strawberry.field(
        description="The viewer's own invite code: people who join with it are "
        "recorded as invited by the viewer."
    )
    async def invite_code(self, info: Info[Context, Any]) -> str:
        ctx = info.context
        async with ctx.unit_of_work() as session:
            return await membership.invite_code(session, ctx.authenticated_actor(), self.id)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, Any], node_ids: Iterable[str], required: bool = False
    ) -> list[Community | None]:
        ctx = info.context
        pks = node_pks(node_ids)
        async with ctx.read_session() as session:
            found = await communities.visible_communities(session, ctx.actor, [p for p in pks if p])
        return [cls.from_model(found[p]) if p in found else None for p in pks]


@strawberry.type
class CommunityMember:
    user_id: strawberry.Private[int]
    display_name: str
    avatar_url: str | None
    joined_at: datetime
    invited_by_id: strawberry.Private[int | None]
    profile: MemberProfile

    @strawberry.field
    def id(self) -> relay.GlobalID:
        return relay.GlobalID("User", str(self.user_id))

    @strawberry.field(description="Who invited this member (the referral edge), if anyone.")
    def invited_by(self) -> relay.GlobalID | None:
        return relay.GlobalID("User", str(self.invited_by_id)) if self.invited_by_id else None


@strawberry.type
class CommunityPayload:
    community: Community | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OkPayload:
    ok: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class MemberProfilePayload:
    profile: MemberProfile | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)
