from __future__ import annotations

from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.polls import integrity, results, visibility
from domain.polls.models import PollStatus as DomainPollStatus
from schema.context import Context
from schema.identity.types import User
from schema.ids import decode_id
from schema.pagination import Connection, build_connection, decode_int_cursor, page_size
from schema.polls.types import FlaggedBallot, Poll, PollStatus


@strawberry.type
class PollQuery:
    @strawberry.field(
        description="Polls of the viewer's communities (or of one of them), "
        "oldest first. Default: open polls."
    )
    async def polls(
        self,
        info: Info[Context, Any],
        community_id: relay.GlobalID | None = None,
        status: list[PollStatus] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Poll]:
        ctx = info.context
        limit = page_size(first)
        after_id = decode_int_cursor("poll", after)
        cid = decode_id(community_id, "Community", "communityId") if community_id else None
        statuses = list(status) if status else [DomainPollStatus.OPEN]
        async with ctx.read_session() as session:
            rows = await visibility.polls_for_member(
                session, ctx.authenticated_actor(), statuses, after_id, limit + 1, cid
            )
        return build_connection(rows, limit, "poll", lambda p: p.id, Poll.from_model)

    @strawberry.field(
        description="Members who voted for an option (the poll's KOC only): the "
        "people to notify first when the style opens for pre-sale."
    )
    async def poll_option_voters(
        self,
        info: Info[Context, Any],
        option_id: relay.GlobalID,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[User]:
        ctx = info.context
        limit = page_size(first)
        after_id = decode_int_cursor("voter", after)
        oid = decode_id(option_id, "PollOption", "optionId")
        async with ctx.read_session() as session:
            users = await results.voters_of_option(
                session, ctx.authenticated_actor(), oid, after_id, limit + 1
            )
        return build_connection(users, limit, "voter", lambda u: u.id, User.from_model)

    @strawberry.field(
        description="The suspicious-vote report of a poll: flagged ballots and why, oldest "
        "first (its KOC, operators). Flagging changes no result; void with voidBallots."
    )
    async def suspicious_ballots(
        self, info: Info[Context, Any], poll_id: relay.GlobalID
    ) -> list[FlaggedBallot]:
        ctx = info.context
        pid = decode_id(poll_id, "Poll", "pollId")
        async with ctx.read_session() as session:
            rows = await integrity.suspicious(session, ctx.authenticated_actor(), pid)
        return [FlaggedBallot.from_domain(f) for f in rows]
