from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.polls import results
from domain.polls.models import PollStatus
from domain.polls.tally import channel
from schema.context import Context
from schema.ids import decode_id
from schema.polls.types import PollResults


def _open(r: results.Results | None) -> bool:
    return r is not None and r.poll.status is PollStatus.OPEN


def _signature(r: results.Results | None) -> tuple[object, ...]:
    if r is None:
        return ()
    return (
        r.poll.status,
        r.final,
        r.total_voters,
        tuple((o.option.id, o.votes, o.rank) for o in r.options),
    )


@strawberry.type
class PollSubscription:
    @strawberry.subscription(
        description="Ranked results of a poll, pushed when they change "
        "(at most every 500 ms); ends after the final results. Who may follow is checked "
        "when the subscription starts."
    )
    async def poll_results(
        self, info: Info[Context, Any], poll_id: relay.GlobalID
    ) -> AsyncGenerator[PollResults, None]:
        ctx = info.context
        pid = decode_id(poll_id, "Poll", "pollId")
        actor = ctx.authenticated_actor()
        live = ctx.services.live_polls
        async with ctx.sessionmaker() as session:  # this follower's own check, once
            first = await results.results(session, live, actor, pid)
        yield PollResults.from_domain(first)
        if not _open(first):
            return

        async def read() -> results.Results | None:
            async with ctx.sessionmaker() as session:
                return await results.current_results(session, live, pid)

        async for current in ctx.services.feeds.follow(
            channel(pid), read, _signature, _open, last=_signature(first)
        ):
            if current is not None:
                yield PollResults.from_domain(current)
