from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.drops import progress
from domain.drops.models import SELLING
from domain.drops.reservations import channel
from schema.context import Context
from schema.drops.types import DropProgress
from schema.ids import decode_id
from schema.live import throttled


@strawberry.type
class DropSubscription:
    @strawberry.subscription(
        description="Live progress of a drop, pushed when it changes (at "
        "most every 500 ms) while it sells."
    )
    async def drop_progress(
        self, info: Info[Context, Any], drop_id: relay.GlobalID
    ) -> AsyncGenerator[DropProgress, None]:
        ctx = info.context
        did = decode_id(drop_id, "Drop", "dropId")
        actor = ctx.authenticated_actor()

        async def read() -> progress.DropProgress:
            async with ctx.sessionmaker() as session:
                return await progress.progress(
                    session, ctx.sessionmaker, ctx.services.reservations, actor, did
                )

        async for current in throttled(
            ctx.services.hub,
            channel(did),
            read,
            lambda p: (p.reserved, p.buyers, p.drop.status),
            lambda p: p.drop.status in SELLING,
        ):
            yield DropProgress.from_domain(current)
