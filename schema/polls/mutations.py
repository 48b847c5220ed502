from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.errors import ValidationFailed
from domain.polls import service
from schema.context import Context
from schema.errors import UserError, in_unit_of_work
from schema.ids import decode_id
from schema.polls.types import Poll, PollPayload, VotePayload


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

    def to_domain(self) -> service.PollInput:
        if len(self.community_ids) > 20:
            raise ValidationFailed("Choose 1 to 20 communities.", field="communityIds")
        return service.PollInput(
            title=self.title,
            description=self.description,
            community_ids=[decode_id(c, "Community", "communityIds") for c in self.community_ids],
            options=[service.OptionInput(o.title, list(o.image_urls), o.designer_notes,
                                         o.reference_price_fen) for o in self.options],
            opens_at=self.opens_at,
            closes_at=self.closes_at,
            max_choices=self.max_choices,
            advance_count=self.advance_count,
        )


def _poll(out: Poll | UserError) -> PollPayload:
    return PollPayload(errors=[out]) if isinstance(out, UserError) else PollPayload(poll=out)


@strawberry.type
class PollMutation:
    @strawberry.mutation(description="KOCs: create a draft poll for your communities.")
    async def create_poll(self, info: Info[Context, Any], input: PollInput,
                          idempotency_key: str | None = None) -> PollPayload:
        ctx = info.context

        async def work(session: Any) -> Poll:
            p = await service.create_poll(session, ctx.authenticated_actor(), input.to_domain(),
                                          idempotency_key)
            return Poll.from_model(p)

        return _poll(await in_unit_of_work(ctx, work))

    @strawberry.mutation(description="KOCs: replace a draft poll's fields and options.")
    async def update_poll(self, info: Info[Context, Any], poll_id: relay.GlobalID,
                          input: PollInput) -> PollPayload:
        ctx = info.context

        async def work(session: Any) -> Poll:
            pid = decode_id(poll_id, "Poll", "pollId")
            p = await service.update_poll(session, ctx.authenticated_actor(), pid,
                                          input.to_domain())
            return Poll.from_model(p)

        return _poll(await in_unit_of_work(ctx, work))

    @strawberry.mutation(description="KOCs: open a draft poll (voting starts at opensAt).")
    async def publish_poll(self, info: Info[Context, Any], poll_id: relay.GlobalID) -> PollPayload:
        return await _transition(info, poll_id, service.publish_poll)

    @strawberry.mutation(description="KOCs: cancel a draft or open poll.")
    async def cancel_poll(self, info: Info[Context, Any], poll_id: relay.GlobalID) -> PollPayload:
        return await _transition(info, poll_id, service.cancel_poll)

    @strawberry.mutation(description="KOCs: close an open poll now; the final ranking is counted "
                         "from the ballots.")
    async def close_poll(self, info: Info[Context, Any], poll_id: relay.GlobalID) -> PollPayload:
        ctx = info.context

        async def close(session: Any, actor: Any, pid: int) -> Any:
            poll, _ = await service.close_poll(session, pid, actor=actor,
                                               live=ctx.services.live_polls)
            return poll

        return await _transition(info, poll_id, close)

    @strawberry.mutation(description="Vote (or re-vote) in a poll: your ballot is replaced by "
                         "these picks. Casting the same ballot again changes nothing.")
    async def cast_vote(self, info: Info[Context, Any], poll_id: relay.GlobalID,
                        option_ids: list[relay.GlobalID]) -> VotePayload:
        ctx = info.context

        async def work(session: Any) -> service.VoteOutcome:
            pid = decode_id(poll_id, "Poll", "pollId")
            if len(option_ids) > service.MAX_OPTIONS:
                raise ValidationFailed("Too many options.", field="optionIds",
                                       code=service.ErrorCode.TOO_MANY_CHOICES)
            oids = [_option_id(o) for o in option_ids]
            return await service.cast_vote(session, ctx.services.live_polls,
                                           ctx.authenticated_actor(), pid, oids)

        out = await in_unit_of_work(ctx, work)
        if isinstance(out, UserError):
            return VotePayload(errors=[out])
        return VotePayload(
            poll_id=relay.GlobalID("Poll", str(out.poll_id)),
            option_ids=[relay.GlobalID("PollOption", str(o)) for o in out.option_ids],
            changed=out.changed,
        )


def _option_id(gid: relay.GlobalID) -> int:
    try:
        return decode_id(gid, "PollOption", "optionIds")
    except service.NotFound as exc:
        raise ValidationFailed("An option does not belong to this poll.", field="optionIds",
                               code=service.ErrorCode.OPTION_NOT_IN_POLL) from exc


async def _transition(info: Info[Context, Any], poll_id: relay.GlobalID, action: Any) -> PollPayload:
    ctx = info.context

    async def work(session: Any) -> Poll:
        pid = decode_id(poll_id, "Poll", "pollId")
        p = await action(session, ctx.authenticated_actor(), pid)
        return Poll.from_model(p)

    return _poll(await in_unit_of_work(ctx, work))
