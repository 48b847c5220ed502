from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.polls import service
from domain.polls.models import PollStatus
from domain.polls.tally import channel
from schema.context import Context
from schema.ids import decode_id
from schema.polls.types import PollResults

PUSH_INTERVAL = 0.5  # at most one push per subscriber every 500 ms


@strawberry.type
class PollSubscription:
    @strawberry.subscription(description="Ranked results of a poll, pushed when they change "
                             "(at most every 500 ms); ends after the final results.")
    async def poll_results(
        self, info: Info[Context, Any], poll_id: relay.GlobalID
    ) -> AsyncGenerator[PollResults, None]:
        ctx = info.context
        pid = decode_id(poll_id, "Poll", "pollId")
        actor = ctx.authenticated_actor()
        live = ctx.services.live_polls

        async def read() -> service.Results:
            async with ctx.sessionmaker() as session:
                return await service.results(session, live, actor, pid)

        async with ctx.services.hub.listen(channel(pid)) as changed:
            results = await read()
            yield PollResults.from_domain(results)
            last = time.monotonic()
            while results.poll.status is PollStatus.OPEN:
                try:
                    await asyncio.wait_for(changed.wait(), timeout=5.0)
                except TimeoutError:
                    # Also wake up now and then: a poll can close without a vote.
                    pass
                wait = PUSH_INTERVAL - (time.monotonic() - last)
                if wait > 0:
                    await asyncio.sleep(wait)
                changed.clear()
                fresh = await read()
                if _signature(fresh) != _signature(results):
                    results = fresh
                    yield PollResults.from_domain(results)
                last = time.monotonic()


def _signature(r: service.Results) -> tuple[object, ...]:
    return (r.poll.status, r.final, r.total_voters,
            tuple((o.option.id, o.votes, o.rank) for o in r.options))
