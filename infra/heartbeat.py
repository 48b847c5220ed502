"""Worker liveness: each worker records a heartbeat in PostgreSQL every few seconds (and whether
it reaches the job queue); ``/readyz`` and ``c2m workers`` read them."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

BEAT_EVERY_SECONDS = 5.0
ALIVE_WITHIN = timedelta(seconds=30)

BEAT = text(
    """
    INSERT INTO worker_heartbeats (worker_id, host, pid, started_at, seen_at, queue_ok)
    VALUES (:worker_id, :host, :pid, :started_at, now(), :queue_ok)
    ON CONFLICT (worker_id) DO UPDATE SET seen_at = now(), queue_ok = EXCLUDED.queue_ok
    """
)


@dataclass(frozen=True)
class Heartbeat:
    worker_id: str
    host: str
    pid: int
    started_at: datetime
    seen_at: datetime
    queue_ok: bool
    alive: bool


def this_host() -> str:
    return socket.gethostname()


async def beat(
    session: AsyncSession, worker_id: str, pid: int, started_at: datetime, queue_ok: bool
) -> None:
    await session.execute(
        BEAT,
        {
            "worker_id": worker_id,
            "host": this_host(),
            "pid": pid,
            "started_at": started_at,
            "queue_ok": queue_ok,
        },
    )
    await session.execute(
        text("DELETE FROM worker_heartbeats WHERE seen_at < now() - interval '1 day'")
    )


async def forget(session: AsyncSession, worker_id: str) -> None:
    await session.execute(
        text("DELETE FROM worker_heartbeats WHERE worker_id = :w"), {"w": worker_id}
    )


async def heartbeats(session: AsyncSession) -> list[Heartbeat]:
    rows = await session.execute(
        text(
            "SELECT worker_id, host, pid, started_at, seen_at, queue_ok, "
            "seen_at > now() - CAST(:alive AS interval) AS alive "
            "FROM worker_heartbeats ORDER BY started_at"
        ),
        {"alive": ALIVE_WITHIN},
    )
    return [Heartbeat(*row) for row in rows.all()]
