from __future__ import annotations

from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.community import service
from schema.community.types import (
    Community,
    CommunityPayload,
    MemberProfile,
    MemberProfilePayload,
    OkPayload,
)
from schema.context import Context
from schema.errors import UserError, in_unit_of_work
from schema.ids import decode_id


@strawberry.input
class CommunityInput:
    name: str
    description: str = ""
    cover_image_url: str | None = None

    def to_domain(self) -> service.CommunityInput:
        return service.CommunityInput(self.name, self.description, self.cover_image_url)


@strawberry.input
class MemberProfileInput:
    height_cm: int | None = None
    weight_kg: int | None = None
    usual_sizes: list[str] | None = None
    body_notes: str | None = None
    style_tags: list[str] | None = None


def _community(out: Community | UserError) -> CommunityPayload:
    return CommunityPayload(errors=[out]) if isinstance(out, UserError) else CommunityPayload(
        community=out)


def _ok(out: bool | UserError) -> OkPayload:
    return OkPayload(errors=[out]) if isinstance(out, UserError) else OkPayload(ok=True)


@strawberry.type
class CommunityMutation:
    @strawberry.mutation(description="KOCs: create a community. A retry with the same "
                         "idempotencyKey returns the same community.")
    async def create_community(self, info: Info[Context, Any], input: CommunityInput,
                               idempotency_key: str | None = None) -> CommunityPayload:
        ctx = info.context

        async def work(session: Any) -> Community:
            c = await service.create_community(session, ctx.authenticated_actor(),
                                               input.to_domain(), idempotency_key)
            return Community.from_model(c)

        return _community(await in_unit_of_work(ctx, work))

    @strawberry.mutation(description="KOCs: edit a community.")
    async def update_community(self, info: Info[Context, Any], community_id: relay.GlobalID,
                               input: CommunityInput) -> CommunityPayload:
        ctx = info.context

        async def work(session: Any) -> Community:
            cid = decode_id(community_id, "Community", "communityId")
            c = await service.update_community(session, ctx.authenticated_actor(), cid,
                                               input.to_domain())
            return Community.from_model(c)

        return _community(await in_unit_of_work(ctx, work))

    @strawberry.mutation(description="Join with an invite code (records who invited you). "
                         "Joining again changes nothing.")
    async def join_community(self, info: Info[Context, Any], invite_code: str) -> CommunityPayload:
        ctx = info.context

        async def work(session: Any) -> Community:
            c = await service.join(session, ctx.authenticated_actor(), invite_code)
            return Community.from_model(c)

        return _community(await in_unit_of_work(ctx, work))

    @strawberry.mutation(description="Leave a community (idempotent).")
    async def leave_community(self, info: Info[Context, Any],
                              community_id: relay.GlobalID) -> OkPayload:
        ctx = info.context

        async def work(session: Any) -> bool:
            cid = decode_id(community_id, "Community", "communityId")
            await service.leave(session, ctx.authenticated_actor(), cid)
            return True

        return _ok(await in_unit_of_work(ctx, work))

    @strawberry.mutation(description="KOCs: remove a member; they cannot rejoin (idempotent).")
    async def remove_community_member(self, info: Info[Context, Any],
                                      community_id: relay.GlobalID,
                                      user_id: relay.GlobalID) -> OkPayload:
        ctx = info.context

        async def work(session: Any) -> bool:
            cid = decode_id(community_id, "Community", "communityId")
            uid = decode_id(user_id, "User", "userId")
            await service.remove_member(session, ctx.authenticated_actor(), cid, uid)
            return True

        return _ok(await in_unit_of_work(ctx, work))

    @strawberry.mutation(description="Set the viewer's profile (every field replaced).")
    async def update_member_profile(self, info: Info[Context, Any],
                                    input: MemberProfileInput) -> MemberProfilePayload:
        ctx = info.context

        async def work(session: Any) -> MemberProfile:
            p = await service.update_profile(session, ctx.authenticated_actor(),
                                             service.ProfileInput(
                                                 input.height_cm, input.weight_kg,
                                                 input.usual_sizes, input.body_notes,
                                                 input.style_tags))
            return MemberProfile.from_model(p)

        out = await in_unit_of_work(ctx, work)
        if isinstance(out, UserError):
            return MemberProfilePayload(errors=[out])
        return MemberProfilePayload(profile=out)
