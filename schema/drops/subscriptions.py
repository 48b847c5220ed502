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


@strawberry.type
class DropSubscription:
    @strawberry.subscription(
        description="Live progress of a drop, pushed when it changes (at "
        "most every 500 ms) while it sells. Who may follow is checked when the subscription "
        "starts."
    )
    async def drop_progress(
        self, info: Info[Context, Any], drop_id: relay.GlobalID
    ) -> AsyncGenerator[DropProgress, None]:
        ctx = info.context
        did = decode_id(drop_id, "Drop", "dropId")
        actor = ctx.authenticated_actor()
        services = ctx.services
        async with ctx.sessionmaker() as session:  # this follower's own check, once
            first = await progress.progress(
                session,
                ctx.sessionmaker,
                services.reservations,
                actor,
                did,
                services.published_variants,
            )
        yield DropProgress.from_domain(first)
        if not _selling(first):
            return

        async def read() -> progress.DropProgress | None:
            async with ctx.sessionmaker() as session:
                return await progress.current_progress(
                    session,
                    ctx.sessionmaker,
                    services.reservations,
                    did,
                    services.published_variants,
                )

        async for current in services.feeds.follow(
            channel(did), read, _signature, _selling, last=_signature(first)
        ):
            if current is not None:
                yield DropProgress.from_domain(current)


def _selling(p: progress.DropProgress | None) -> bool:
    return p is not None and p.drop.status in SELLING


def _signature(p: progress.DropProgress | None) -> tuple[object, ...]:
    return () if p is None else (p.reserved, p.buyers, p.drop.status)
