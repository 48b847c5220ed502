"""Work that must happen only after the unit of work commits.

* :func:`enqueue` queues a background job. The unit of work records it in ``job_outbox`` in the
  same transaction as the change that implies it (a transactional outbox), and pushes it to the
  queue after the commit. The job deletes its row when it has run; a relay pushes again whatever
  was never pushed (Redis down, process killed) or was lost from the queue (Redis restarted
  empty). So no failure between a commit and its push loses a refund or a notice; jobs are
  idempotent, so one pushed twice does no harm.
* :func:`after_commit` registers a coroutine to run in-process right after the commit (for
  example moving a live Redis tally); reconcilers repair what a failed hook leaves. On rollback
  both are dropped.

Job names read ``context.event`` and payloads carry ids only: a job re-reads its rows.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Identity, Integer, String, delete, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.base import Base, Timestamped

# A job pushed this long ago and still not done is taken as lost from the queue and pushed again.
REDELIVER_AFTER = timedelta(minutes=5)
# A job never pushed (the push failed) is pushed by the relay once it is this old.
UNPUSHED_GRACE = timedelta(seconds=5)
# After this many relays a job is left for an operator (logged, counted), not pushed again.
MAX_RELAYS = 12


class OutboxJob(Timestamped, Base):
    """A job recorded with the change that implies it; deleted once it has run."""

    __tablename__ = "job_outbox"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSONB)
    pushed_at: Mapped[datetime | None]
    relays: Mapped[int] = mapped_column(Integer, default=0)


@dataclass(frozen=True)
class Job:
    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Pending:
    jobs: list[Job] = field(default_factory=list)
    hooks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


_buffer: contextvars.ContextVar[Pending | None] = contextvars.ContextVar(
    "c2m_pending_work", default=None
)


def current() -> Pending:
    buf = _buffer.get()
    if buf is None:
        raise RuntimeError("called outside a unit of work")
    return buf


def enqueue(name: str, **kwargs: Any) -> None:
    current().jobs.append(Job(name, kwargs))


def after_commit(hook: Callable[[], Awaitable[None]]) -> None:
    current().hooks.append(hook)


def begin() -> contextvars.Token[Pending | None]:
    return _buffer.set(Pending())


def end(token: contextvars.Token[Pending | None]) -> Pending:
    pending = _buffer.get() or Pending()
    _buffer.reset(token)
    return pending


# --- the outbox --------------------------------------------------------------------------------


async def record(session: AsyncSession, pending: Sequence[Job]) -> list[int]:
    """Write the jobs in the caller's transaction, not yet pushed. Returns their ids, in order.
    If the process never gets to push them (the reply to COMMIT was lost, it died), the relay
    pushes them a few seconds later."""
    rows = [{"name": j.name, "kwargs": j.kwargs} for j in pending]
    stmt = insert(OutboxJob).values(rows).returning(OutboxJob.id)
    return list((await session.execute(stmt)).scalars())


async def pushed(session: AsyncSession, ids: Sequence[int]) -> None:
    """These are in the queue now: the relay leaves them alone unless they are never done."""
    await session.execute(
        update(OutboxJob).where(OutboxJob.id.in_(ids)).values(pushed_at=func.now())
    )


async def done(session: AsyncSession, outbox_id: int) -> None:
    await session.execute(delete(OutboxJob).where(OutboxJob.id == outbox_id))


async def due_for_relay(session: AsyncSession, limit: int = 500) -> list[OutboxJob]:
    """Jobs never pushed, or pushed long ago and not done; locked for this relay (SKIP LOCKED
    lets several workers relay at once) and counted; the push marks them pushed."""
    never = OutboxJob.pushed_at.is_(None) & (OutboxJob.created_at < func.now() - UNPUSHED_GRACE)
    lost = OutboxJob.pushed_at < func.now() - REDELIVER_AFTER
    stmt = (
        select(OutboxJob)
        .where(never | lost, OutboxJob.relays < MAX_RELAYS)
        .order_by(OutboxJob.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list((await session.execute(stmt)).scalars())
    if rows:
        await session.execute(
            update(OutboxJob)
            .where(OutboxJob.id.in_([r.id for r in rows]))
            .values(relays=OutboxJob.relays + 1)
        )
    return rows


async def stuck(session: AsyncSession) -> int:
    """Jobs relayed MAX_RELAYS times and still not done: an operator must look."""
    stmt = select(func.count()).select_from(OutboxJob).where(OutboxJob.relays >= MAX_RELAYS)
    return int((await session.execute(stmt)).scalar_one())
