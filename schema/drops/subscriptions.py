from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.drops import service
from domain.drops.reservations import channel
from schema.context import Context
from schema.drops.types import DropProgress
from schema.ids import decode_id

PUSH_INTERVAL = 0.5


@strawberry.type
class DropSubscription:
    @strawberry.subscription(description="Live progress of a drop, pushed when it changes (at "
                             "most every 500 ms) while it sells.")
    async def drop_progress(
        self, info: Info[Context, Any], drop_id: relay.GlobalID
    ) -> AsyncGenerator[DropProgress, None]:
        ctx = info.context
        did = decode_id(drop_id, "Drop", "dropId")
        actor = ctx.authenticated_actor()

        async def read() -> service.DropProgress:
            async with ctx.sessionmaker() as session:
                return await service.progress(session, ctx.sessionmaker,
                                              ctx.services.reservations, actor, did)

        async with ctx.services.hub.listen(channel(did)) as changed:
            current = await read()
            yield DropProgress.from_domain(current)
            last = time.monotonic()
            while current.drop.status in service.SELLING:
                try:
                    await asyncio.wait_for(changed.wait(), timeout=5.0)
                except TimeoutError:
                    pass
                wait = PUSH_INTERVAL - (time.monotonic() - last)
                if wait > 0:
                    await asyncio.sleep(wait)
                changed.clear()
                fresh = await read()
                if (fresh.reserved, fresh.buyers, fresh.drop.status) != (
                        current.reserved, current.buyers, current.drop.status):
                    current = fresh
                    yield DropProgress.from_domain(current)
                last = time.monotonic()
