from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay
from strawberry.types import Info

from domain.community import communities, membership, profiles
from domain.identity.actor import Actor
from schema.community.types import (
    Community,
    CommunityPayload,
    MemberProfile,
    MemberProfilePayload,
    OkPayload,
)
from schema.context import Context
from schema.errors import mutate
from schema.ids import decode_id


@strawberry.input
class CommunityInput:
    name: str
    description: str = ""
    cover_image_url: str | None = None

    def to_domain(self) -> communities.CommunityInput:
        return communities.CommunityInput(self.name, self.description, self.cover_image_url)


@strawberry.input
class MemberProfileInput:
    height_cm: int | None = None
    weight_kg: int | None = None
    usual_sizes: list[str] | None = None
    body_notes: str | None = None
    style_tags: list[str] | None = None


def _community_id(gid: relay.GlobalID) -> int:
    return decode_id(gid, "Community", "communityId")


@strawberry.type
class CommunityMutation:
    @strawberry.mutation(
        description="KOCs: create a community. A retry with the same "
        "idempotencyKey and input returns the same community; other input "
        "under that key is IDEMPOTENCY_KEY_REUSED."
    )
    async def create_community(
        self, info: Info[Context, Any], input: CommunityInput, idempotency_key: str | None = None
    ) -> CommunityPayload:
        async def work(session: AsyncSession, actor: Actor) -> CommunityPayload:
            c = await communities.create_community(
                session, actor, input.to_domain(), idempotency_key
            )
            return CommunityPayload(community=Community.from_model(c))

        return await mutate(info, CommunityPayload, work)

    @strawberry.mutation(description="KOCs: edit a community.")
    async def update_community(
        self, info: Info[Context, Any], community_id: relay.GlobalID, input: CommunityInput
    ) -> CommunityPayload:
        async def work(session: AsyncSession, actor: Actor) -> CommunityPayload:
            c = await communities.update_community(
                session, actor, _community_id(community_id), input.to_domain()
            )
            return CommunityPayload(community=Community.from_model(c))

        return await mutate(info, CommunityPayload, work)

    @strawberry.mutation(
        description="Join with an invite code (records who invited you). "
        "Joining again changes nothing."
    )
    async def join_community(self, info: Info[Context, Any], invite_code: str) -> CommunityPayload:
        async def work(session: AsyncSession, actor: Actor) -> CommunityPayload:
            c = await membership.join(session, actor, invite_code)
            return CommunityPayload(community=Community.from_model(c))

        return await mutate(info, CommunityPayload, work)

    @strawberry.mutation(description="Leave a community (idempotent).")
    async def leave_community(
        self, info: Info[Context, Any], community_id: relay.GlobalID
    ) -> OkPayload:
        async def work(session: AsyncSession, actor: Actor) -> OkPayload:
            await membership.leave(session, actor, _community_id(community_id))
            return OkPayload(ok=True)

        return await mutate(info, OkPayload, work)

    @strawberry.mutation(
        description="KOCs: remove a member; they cannot rejoin (idempotent), and their ballots "
        "in this community's open polls stop counting (live and final results)."
    )
    async def remove_community_member(
        self, info: Info[Context, Any], community_id: relay.GlobalID, user_id: relay.GlobalID
    ) -> OkPayload:
        live = info.context.services.live_polls

        async def work(session: AsyncSession, actor: Actor) -> OkPayload:
            await membership.remove_member(
                session,
                actor,
                _community_id(community_id),
                decode_id(user_id, "User", "userId"),
                live,
            )
            return OkPayload(ok=True)

        return await mutate(info, OkPayload, work)

    @strawberry.mutation(description="Set the viewer's profile (every field replaced).")
    async def update_member_profile(
        self, info: Info[Context, Any], input: MemberProfileInput
    ) -> MemberProfilePayload:
        async def work(session: AsyncSession, actor: Actor) -> MemberProfilePayload:
            p = await profiles.update_profile(
                session,
                actor,
                profiles.ProfileInput(
                    input.height_cm,
                    input.weight_kg,
                    input.usual_sizes,
                    input.body_notes,
                    input.style_tags,
                ),
            )
            return MemberProfilePayload(profile=MemberProfile.from_model(p))

        return await mutate(info, MemberProfilePayload, work)
