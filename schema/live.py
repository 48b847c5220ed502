"""Live pushes for subscriptions: wake on a Redis pub/sub channel, re-read, push when changed, at
most every PUSH_INTERVAL; also re-read now and then (a state can change without a message)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable
from typing import TypeVar

from infra.pubsub import PubSubHub

T = TypeVar("T")
PUSH_INTERVAL = 0.5  # at most one push per subscriber every 500 ms
IDLE_RECHECK = 5.0


async def throttled(
    hub: PubSubHub,
    channel: str,
    read: Callable[[], Awaitable[T]],
    signature: Callable[[T], Hashable],
    keep_going: Callable[[T], bool],
) -> AsyncGenerator[T, None]:
    async with hub.listen(channel) as changed:
        current = await read()
        yield current
        last = time.monotonic()
        while keep_going(current):
            try:
                await asyncio.wait_for(changed.wait(), timeout=IDLE_RECHECK)
            except TimeoutError:
                pass
            wait = PUSH_INTERVAL - (time.monotonic() - last)
            if wait > 0:
                await asyncio.sleep(wait)
            changed.clear()
            fresh = await read()
            if signature(fresh) != signature(current):
                current = fresh
                yield current
            last = time.monotonic()
