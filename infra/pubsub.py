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
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from infra.outages import OutageLog, is_outage

log = logging.getLogger(__name__)
OUTAGES = OutageLog(log)


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


T = TypeVar("T")
PUSH_INTERVAL = 0.5  # at most one read (and one push) per channel every 500 ms
IDLE_RECHECK = 5.0  # re-read now and then: a state can change without a message


@dataclass
class _Feed:
    value: Any = None
    version: int = 0
    done: bool = False
    subscribers: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task[None] | None = None


class SharedFeeds:
    """One reader per channel in this API process, shared by all its subscribers.

    However many sockets follow a poll or a drop, this process reads its state once per change
    (at most every ``PUSH_INTERVAL``) and hands the same value to every follower: a member with
    hundreds of subscriptions costs queue slots, not database connections. ``read`` must not
    depend on who follows (authorize each follower before it joins). A failing read (an outage)
    is retried; followers simply see no change meanwhile.
    """

    def __init__(self, hub: PubSubHub) -> None:
        self._hub = hub
        self._feeds: dict[str, _Feed] = {}

    async def follow(
        self,
        channel: str,
        read: Callable[[], Awaitable[T]],
        signature: Callable[[T], Hashable],
        keep_going: Callable[[T], bool],
        last: Hashable,
        key: str | None = None,
    ) -> AsyncIterator[T]:
        """Values of ``channel`` whose signature differs from the previous one (starting from
        ``last``, what the follower already has); ends when ``keep_going`` says so. ``key``
        names the feed when several reads follow one channel (a drop's progress and each of
        its teams): followers share a feed by key."""
        name = key or channel
        feed = self._feeds.get(name)
        if feed is None or feed.done:
            feed = _Feed()
            self._feeds[name] = feed
            feed.task = asyncio.create_task(self._run(channel, feed, read, keep_going))
        feed.subscribers += 1
        seen = 0

        def moved() -> bool:
            return feed.version > seen or feed.done

        try:
            while True:
                async with feed.changed:
                    await feed.changed.wait_for(moved)
                if feed.version > seen:
                    seen = feed.version
                    value = feed.value
                    if signature(value) != last:
                        last = signature(value)
                        yield value
                    if not keep_going(value):
                        return
                elif feed.done:
                    return
        finally:
            feed.subscribers -= 1
            if feed.subscribers == 0 and feed.task is not None:
                feed.task.cancel()
                if self._feeds.get(name) is feed:
                    del self._feeds[name]

    async def _run(
        self,
        channel: str,
        feed: _Feed,
        read: Callable[[], Awaitable[T]],
        keep_going: Callable[[T], bool],
    ) -> None:
        try:
            async with self._hub.listen(channel) as changed:
                while True:
                    changed.clear()
                    current = await self._read(channel, read)
                    async with feed.changed:
                        feed.value, feed.version = current, feed.version + 1
                        feed.changed.notify_all()
                    if not keep_going(current):
                        return
                    started = time.monotonic()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(changed.wait(), timeout=IDLE_RECHECK)
                    wait = PUSH_INTERVAL - (time.monotonic() - started)
                    if wait > 0:
                        await asyncio.sleep(wait)
        finally:
            feed.done = True
            with contextlib.suppress(RuntimeError):
                async with feed.changed:
                    feed.changed.notify_all()

    @staticmethod
    async def _read(channel: str, read: Callable[[], Awaitable[T]]) -> T:
        delay = 0.5
        while True:
            try:
                return await read()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - retried: followers just see no change
                if is_outage(e):
                    OUTAGES.report(f"live feed {channel}", e)
                else:
                    log.exception("live feed %s: read failed; retrying", channel)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
