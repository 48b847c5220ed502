"""Order changes as they commit, from PostgreSQL's LISTEN/NOTIFY.

A trigger on ``orders`` (migration 0022) notifies ``c2m_orders`` with the order's id whenever its
status changes, from whatever path changed it (a payment, settlement's set-based updates, a
factory's shipment, expiry): NOTIFY is delivered only when the transaction commits, so a follower
never sees a change that rolled back. Each API process holds one listening connection, opened
when the first follower arrives, and wakes the followers of each notified order; when the
connection is lost it wakes everyone (they re-read, so nothing that changed during the gap is
missed) and reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from infra.outages import OutageLog

log = logging.getLogger(__name__)
OUTAGES = OutageLog(log)
CHANNEL = "c2m_orders"


class OrderEvents:
    def __init__(self, database_url: str) -> None:
        self._dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._followers: dict[int, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

    @contextlib.asynccontextmanager
    async def follow(self, order_id: int) -> AsyncIterator[asyncio.Event]:
        """An event set whenever the order's status changes (or the listener reconnected).
        Entered before the caller reads the order, so no change falls between the two."""
        event = asyncio.Event()
        self._followers[order_id].add(event)
        if self._task is None or self._task.done():
            self._connected.clear()
            self._task = asyncio.create_task(self._listen())
        try:
            # Listening before the first read: a change after it is then never missed.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._connected.wait(), timeout=5)
            yield event
        finally:
            followers = self._followers.get(order_id)
            if followers is not None:
                followers.discard(event)
                if not followers:
                    del self._followers[order_id]

    def _notified(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        try:
            order_id = int(payload)
        except ValueError:
            return
        for event in self._followers.get(order_id, ()):
            event.set()

    def _wake_all(self) -> None:
        for events in self._followers.values():
            for event in events:
                event.set()

    async def _listen(self) -> None:
        delay = 0.2
        while self._followers:
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(self._dsn, timeout=5)
                await connection.add_listener(CHANNEL, self._notified)
                self._connected.set()
                self._wake_all()  # whatever changed while nobody listened is read again
                delay = 0.2
                while self._followers:
                    # A keepalive: a connection the server or the network dropped fails here
                    # (within seconds), and the loop reconnects.
                    await asyncio.sleep(1)
                    await connection.execute("SELECT 1", timeout=5)
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                OUTAGES.report("order listener", exc)
                self._wake_all()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                self._connected.clear()
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await connection.close(timeout=2)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
