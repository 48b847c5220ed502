from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay
from strawberry.types import Info

from domain.identity.actor import Actor
from domain.referrals import service
from schema.context import Context
from schema.errors import mutate
from schema.ids import decode_id
from schema.referrals.types import PayoutPayload, ReferralAccount, ReferralPayload, RewardEntry


@strawberry.type
class ReferralMutation:
    @strawberry.mutation(
        description="You opened a drop link someone shared (its referralCode): record who "
        "brought you. The first touch wins (a member's invite into the community counts "
        "first); SELF_REFERRAL, REFERRAL_CYCLE and unknown codes are refused."
    )
    async def record_referral(
        self, info: Info[Context, Any], drop_id: relay.GlobalID, referral_code: str
    ) -> ReferralPayload:
        codes = info.context.services.referral_codes

        async def work(session: AsyncSession, actor: Actor) -> ReferralPayload:
            did = decode_id(drop_id, "Drop", "dropId")
            touch = await service.record_referral(session, codes, actor, did, referral_code)
            return ReferralPayload(
                referrer_id=relay.GlobalID("User", str(touch.referrer_id))
                if touch.referrer_id is not None
                else None,
                recorded=touch.recorded,
            )

        return await mutate(info, ReferralPayload, work)

    @strawberry.mutation(
        description="Operators: mark part of a member's reward balance paid out (a ledger "
        "line; never more than the balance). A retry with the same idempotencyKey changes "
        "nothing."
    )
    async def pay_referral_rewards(
        self,
        info: Info[Context, Any],
        user_id: relay.GlobalID,
        amount_fen: int,
        idempotency_key: str,
    ) -> PayoutPayload:
        async def work(session: AsyncSession, actor: Actor) -> PayoutPayload:
            uid = decode_id(user_id, "User", "userId")
            entry, acc = await service.pay_out(session, actor, uid, amount_fen, idempotency_key)
            return PayoutPayload(
                entry=RewardEntry.from_model(entry),
                account=ReferralAccount.from_domain(acc),
            )

        return await mutate(info, PayoutPayload, work)
