from __future__ import annotations

from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.referrals import service
from schema.context import Context
from schema.ids import decode_id
from schema.pagination import Connection, build_connection, decode_int_cursor, page_size
from schema.referrals.types import DropReferrer, ReferralAccount, ReferralNode, RewardEntry

MAX_REFERRERS = 100


@strawberry.type
class ReferralQuery:
    @strawberry.field(
        description="Your referral code and rewards (operators: anyone's, by userId)."
    )
    async def referral_account(
        self, info: Info[Context, Any], user_id: relay.GlobalID | None = None
    ) -> ReferralAccount:
        ctx = info.context
        uid = decode_id(user_id, "User", "userId") if user_id is not None else None
        async with ctx.read_session() as session:
            acc = await service.account(
                session, ctx.authenticated_actor(), uid, ctx.services.referral_codes
            )
        return ReferralAccount.from_domain(acc)

    @strawberry.field(description="The rewards ledger, newest first (yours; operators: anyone's).")
    async def referral_rewards(
        self,
        info: Info[Context, Any],
        user_id: relay.GlobalID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[RewardEntry]:
        ctx = info.context
        uid = decode_id(user_id, "User", "userId") if user_id is not None else None
        limit = page_size(first)
        after_id = decode_int_cursor("reward", after)
        async with ctx.read_session() as session:
            rows = await service.entries(
                session, ctx.authenticated_actor(), uid, after_id, limit + 1
            )
        return build_connection(rows, limit, "reward", lambda e: e.id, RewardEntry.from_model)

    @strawberry.field(
        description="A drop's referrers: buyers they brought, units and rewards, most "
        "rewarded first (its KOC, operators)."
    )
    async def drop_referrers(
        self, info: Info[Context, Any], drop_id: relay.GlobalID, first: int | None = None
    ) -> list[DropReferrer]:
        ctx = info.context
        did = decode_id(drop_id, "Drop", "dropId")
        limit = min(page_size(first), MAX_REFERRERS)
        async with ctx.read_session() as session:
            rows = await service.top_referrers(session, ctx.authenticated_actor(), did, limit)
        return [DropReferrer.from_row(r) for r in rows]

    @strawberry.field(
        description="One level of a community's referral tree: the members inviterId brought "
        "(without it: those who came by the KOC's code or none), each with how many they "
        "brought in turn (its KOC, operators)."
    )
    async def community_referrals(
        self,
        info: Info[Context, Any],
        community_id: relay.GlobalID,
        inviter_id: relay.GlobalID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ReferralNode]:
        ctx = info.context
        cid = decode_id(community_id, "Community", "communityId")
        iid = decode_id(inviter_id, "User", "inviterId") if inviter_id is not None else None
        limit = page_size(first)
        after_id = decode_int_cursor("referral", after)
        async with ctx.read_session() as session:
            rows = await service.referral_tree(
                session, ctx.authenticated_actor(), cid, iid, after_id, limit + 1
            )
        return build_connection(
            rows, limit, "referral", lambda r: int(r.user_id), ReferralNode.from_row
        )
