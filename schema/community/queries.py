from __future__ import annotations

from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.community import communities, membership, profiles
from schema.community.types import Community, CommunityMember, MemberProfile
from schema.context import Context
from schema.ids import decode_id
from schema.pagination import Connection, build_connection, decode_int_cursor, page_size


@strawberry.type
class CommunityQuery:
    @strawberry.field(description="Communities the viewer runs or belongs to.")
    async def my_communities(
        self, info: Info[Context, Any], first: int | None = None, after: str | None = None
    ) -> Connection[Community]:
        ctx = info.context
        limit = page_size(first)
        after_id = decode_int_cursor("community", after)
        async with ctx.read_session() as session:
            rows = await communities.my_communities(
                session, ctx.authenticated_actor(), after_id, limit + 1
            )
        return build_connection(
            rows, limit, "community", lambda r: r[0].id, lambda r: Community.from_model(r[0])
        )

    @strawberry.field(
        description="A community's members (its KOC only), searchable by style "
        "tag, usual size and name."
    )
    async def community_members(
        self,
        info: Info[Context, Any],
        community_id: relay.GlobalID,
        first: int | None = None,
        after: str | None = None,
        tag: str | None = None,
        size: str | None = None,
        search: str | None = None,
    ) -> Connection[CommunityMember]:
        ctx = info.context
        limit = page_size(first)
        after_id = decode_int_cursor("member", after)
        cid = decode_id(community_id, "Community", "communityId")
        async with ctx.read_session() as session:
            rows = await membership.members(
                session,
                ctx.authenticated_actor(),
                cid,
                after_id,
                limit + 1,
                tag=tag,
                size=size,
                search=search,
            )
        return build_connection(
            rows,
            limit,
            "member",
            lambda r: r[0].user_id,
            lambda r: CommunityMember(
                user_id=r[1].id,
                display_name=r[1].display_name,
                avatar_url=r[1].avatar_url,
                joined_at=r[0].joined_at,
                invited_by_id=r[0].invited_by_id,
                profile=MemberProfile.from_model(r[2]),
            ),
        )

    @strawberry.field(description="The viewer's own profile.")
    async def my_profile(self, info: Info[Context, Any]) -> MemberProfile:
        ctx = info.context
        async with ctx.read_session() as session:
            return MemberProfile.from_model(
                await profiles.my_profile(session, ctx.authenticated_actor())
            )
