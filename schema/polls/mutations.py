from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay
from strawberry.types import Info

from domain.errors import ErrorCode, ValidationFailed
from domain.identity.actor import Actor
from domain.polls import inputs, integrity, lifecycle, voting
from domain.polls.models import Poll as PollRow
from schema.context import Context
from schema.errors import mutate, respond
from schema.ids import decode_id, decode_ids
from schema.polls.types import BallotsPayload, Poll, PollPayload, VotePayload


@strawberry.input
class PollOptionInput:
    title: str
    image_urls: list[str]
    designer_notes: str = ""
    reference_price_fen: int | None = None


@strawberry.input
class PollInput:
    title: str
    description: str = ""
    community_ids: list[relay.GlobalID]
    options: list[PollOptionInput]
    opens_at: datetime
    closes_at: datetime
    max_choices: int = 1
    advance_count: int = 1
    min_member_age_hours: int = strawberry.field(
        default=0,
        description="A member's ballot counts only once they have been a member this many hours "
        "(0 to 8760); newer members get MEMBER_TOO_NEW.",
    )

    def to_domain(self) -> inputs.PollInput:
        return inputs.PollInput(
            title=self.title,
            description=self.description,
            community_ids=decode_ids(self.community_ids, "Community", "communityIds"),
            options=[
                inputs.OptionInput(
                    o.title, list(o.image_urls), o.designer_notes, o.reference_price_fen
                )
                for o in self.options
            ],
            opens_at=self.opens_at,
            closes_at=self.closes_at,
            max_choices=self.max_choices,
            advance_count=self.advance_count,
            min_member_age_hours=self.min_member_age_hours,
        )


OPTION_NOT_IN_POLL = ValidationFailed(
    "An option does not belong to this poll.", field="optionIds", code=ErrorCode.OPTION_NOT_IN_POLL
)

Transition = Callable[[AsyncSession, Actor, int], Awaitable[PollRow]]


async def _transition(
    info: Info[Context, Any], poll_id: relay.GlobalID, action: Transition
) -> PollPayload:
    async def work(session: AsyncSession, actor: Actor) -> PollPayload:
        p = await action(session, actor, decode_id(poll_id, "Poll", "pollId"))
        return PollPayload(poll=Poll.from_model(p))

    return await mutate(info, PollPayload, work)


@strawberry.type
class PollMutation:
    @strawberry.mutation(
        description="KOCs: create a draft poll for your communities. A retry "
        "with the same idempotencyKey and input returns the same poll; other "
        "input under that key is IDEMPOTENCY_KEY_REUSED."
    )
    async def create_poll(
        self, info: Info[Context, Any], input: PollInput, idempotency_key: str | None = None
    ) -> PollPayload:
        async def work(session: AsyncSession, actor: Actor) -> PollPayload:
            p = await lifecycle.create_poll(session, actor, input.to_domain(), idempotency_key)
            return PollPayload(poll=Poll.from_model(p))

        return await mutate(info, PollPayload, work)

    @strawberry.mutation(description="KOCs: replace a draft poll's fields and options.")
    async def update_poll(
        self, info: Info[Context, Any], poll_id: relay.GlobalID, input: PollInput
    ) -> PollPayload:
        async def update(session: AsyncSession, actor: Actor, pid: int) -> PollRow:
            return await lifecycle.update_poll(session, actor, pid, input.to_domain())

        return await _transition(info, poll_id, update)

    @strawberry.mutation(description="KOCs: open a draft poll (voting starts at opensAt).")
    async def publish_poll(self, info: Info[Context, Any], poll_id: relay.GlobalID) -> PollPayload:
        return await _transition(info, poll_id, lifecycle.publish_poll)

    @strawberry.mutation(description="KOCs: cancel a draft or open poll.")
    async def cancel_poll(self, info: Info[Context, Any], poll_id: relay.GlobalID) -> PollPayload:
        return await _transition(info, poll_id, lifecycle.cancel_poll)

    @strawberry.mutation(
        description="KOCs: close an open poll now; the final ranking is counted from the ballots."
    )
    async def close_poll(self, info: Info[Context, Any], poll_id: relay.GlobalID) -> PollPayload:
        live = info.context.services.live_polls

        async def close(session: AsyncSession, actor: Actor, pid: int) -> PollRow:
            poll, _ = await lifecycle.close_poll(session, pid, actor=actor, live=live)
            return poll

        return await _transition(info, poll_id, close)

    @strawberry.mutation(
        description="Vote (or re-vote) in a poll: your ballot is replaced by "
        "these picks. Casting the same ballot again changes nothing."
    )
    async def cast_vote(
        self, info: Info[Context, Any], poll_id: relay.GlobalID, option_ids: list[relay.GlobalID]
    ) -> VotePayload:
        async def work(actor: Actor) -> VotePayload:
            out = await voting.vote(
                info.context.services.votes,
                actor,
                decode_id(poll_id, "Poll", "pollId"),
                decode_ids(option_ids, "PollOption", "optionIds", unknown=OPTION_NOT_IN_POLL),
            )
            return VotePayload(
                poll_id=relay.GlobalID("Poll", str(out.poll_id)),
                option_ids=[relay.GlobalID("PollOption", str(o)) for o in out.option_ids],
                changed=out.changed,
            )

        return await respond(info, VotePayload, work)

    @strawberry.mutation(
        description="KOCs: void members' ballots in an open poll (recorded with the reason; "
        "reversible with restoreBallots). Live and final results no longer count them."
    )
    async def void_ballots(
        self,
        info: Info[Context, Any],
        poll_id: relay.GlobalID,
        user_ids: list[relay.GlobalID],
        reason: str,
    ) -> BallotsPayload:
        live = info.context.services.live_polls

        async def work(session: AsyncSession, actor: Actor) -> BallotsPayload:
            n = await integrity.void_ballots(
                session,
                live,
                actor,
                decode_id(poll_id, "Poll", "pollId"),
                decode_ids(user_ids, "User", "userIds"),
                reason,
            )
            return BallotsPayload(changed=n)

        return await mutate(info, BallotsPayload, work)

    @strawberry.mutation(description="KOCs: give voided ballots of an open poll back their picks.")
    async def restore_ballots(
        self, info: Info[Context, Any], poll_id: relay.GlobalID, user_ids: list[relay.GlobalID]
    ) -> BallotsPayload:
        live = info.context.services.live_polls

        async def work(session: AsyncSession, actor: Actor) -> BallotsPayload:
            n = await integrity.restore_ballots(
                session,
                live,
                actor,
                decode_id(poll_id, "Poll", "pollId"),
                decode_ids(user_ids, "User", "userIds"),
            )
            return BallotsPayload(changed=n)

        return await mutate(info, BallotsPayload, work)
