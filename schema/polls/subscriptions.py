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
from schema.live import throttled
from schema.polls.types import PollResults


def _signature(r: results.Results) -> tuple[object, ...]:
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
        "(at most every 500 ms); ends after the final results."
    )
    async def poll_results(
        self, info: Info[Context, Any], poll_id: relay.GlobalID
    ) -> AsyncGenerator[PollResults, None]:
        ctx = info.context
        pid = decode_id(poll_id, "Poll", "pollId")
        actor = ctx.authenticated_actor()

        async def read() -> results.Results:
            async with ctx.sessionmaker() as session:
                return await results.results(session, ctx.services.live_polls, actor, pid)

        async for current in throttled(
            ctx.services.hub,
            channel(pid),
            read,
            _signature,
            lambda r: r.poll.status is PollStatus.OPEN,
        ):
            yield PollResults.from_domain(current)
