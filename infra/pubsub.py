"""Fan-out of Redis pub/sub to the subscriptions of this API process.

One Redis pub/sub connection per process, whatever the number of WebSocket subscribers: each
channel is subscribed while at least one local listener wants it, and a message wakes every local
listener of its channel. Several API processes each run their own hub, so a change published by
any process (or worker) reaches subscribers everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

log = logging.getLogger(__name__)


class PubSubHub:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._pubsub = redis.pubsub()
        self._listeners: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def listen(self, channel: str) -> AsyncIterator[asyncio.Event]:
        """An event set whenever something is published on ``channel``."""
        event = asyncio.Event()
        async with self._lock:
            first = not self._listeners[channel]
            self._listeners[channel].add(event)
            if first:
                await self._pubsub.subscribe(channel)
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read())
        try:
            yield event
        finally:
            async with self._lock:
                self._listeners[channel].discard(event)
                if not self._listeners[channel]:
                    del self._listeners[channel]
                    with contextlib.suppress(Exception):
                        await self._pubsub.unsubscribe(channel)

    async def _read(self) -> None:
        while True:
            try:
                if not self._pubsub.subscribed:
                    await asyncio.sleep(0.05)
                    continue
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
            except asyncio.CancelledError:
                raise
            except (RedisConnectionError, OSError):
                log.warning("pub/sub connection lost; resubscribing")
                await asyncio.sleep(0.5)
                with contextlib.suppress(Exception):
                    await self._pubsub.reset()
                    async with self._lock:
                        if self._listeners:
                            await self._pubsub.subscribe(*self._listeners)
                for events in list(self._listeners.values()):
                    for event in events:
                        event.set()  # subscribers re-read: they may have missed something
                continue
            if message is None:
                continue
            channel = message["channel"]
            for event in list(self._listeners.get(channel, ())):
                event.set()

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        with contextlib.suppress(Exception):
            await self._pubsub.reset()
