"""What several jobs share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from infra.services import Services


async def each_due(
    services: Services,
    find: Callable[[AsyncSession], Awaitable[list[int]]],
    step: Callable[[AsyncSession, int], Awaitable[bool | int]],
) -> int:
    """The ids ``find`` reads, then ``step`` on each in its own transaction (guarded by the
    state it changes, so a rerun or a second worker changes nothing more); how many changed."""
    async with services.sessionmaker() as session:
        ids = await find(session)
    done = 0
    for item in ids:
        async with services.unit_of_work() as session:
            done += int(await step(session, item))
    return done
