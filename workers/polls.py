"""Poll jobs: close polls when their time comes; keep live tallies equal to PostgreSQL."""

from __future__ import annotations

import logging

from domain.base import utcnow
from domain.errors import DomainError
from domain.polls import repository as repo
from domain.polls import service
from domain.polls.live import LivePolls
from workers.registry import job, on_worker_start
from workers.runtime import Runtime, runtime

log = logging.getLogger(__name__)


def _live(rt: Runtime) -> LivePolls:
    return LivePolls(rt.sessionmaker, rt.redis)


@job("poll.close_due", every_seconds=5)
async def close_due() -> int:
    """Close every OPEN poll whose closes_at has passed. Each close is its own transaction and
    idempotent (a poll already closed by another worker or the KOC is left alone)."""
    rt = runtime()
    async with rt.sessionmaker() as session:
        due = await repo.due_for_closing(session, utcnow())
    closed = 0
    for poll_id in due:
        closed += await close_one(rt, poll_id)
    return closed


async def close_one(rt: Runtime, poll_id: int) -> int:
    try:
        async with rt.unit_of_work() as session:
            _, closed_now = await service.close_poll(session, poll_id, live=_live(rt))
    except DomainError as error:
        log.info("poll %s not closed: %s", poll_id, error.message)
        return 0
    return int(closed_now)


@job("poll.reconcile_open", every_seconds=60)
async def reconcile_open() -> int:
    """Rebuild the live tallies of every open poll from PostgreSQL (repairs any drift, e.g. a
    process that died between its commit and its Redis script)."""
    rt = runtime()
    live = _live(rt)
    async with rt.sessionmaker() as session:
        ids = await repo.open_poll_ids(session)
    for poll_id in ids:
        await live.rebuild(poll_id, force=True)
    return len(ids)


@on_worker_start
async def reconcile_on_start(rt: Runtime) -> None:
    live = _live(rt)
    async with rt.sessionmaker() as session:
        ids = await repo.open_poll_ids(session)
    for poll_id in ids:
        await live.rebuild(poll_id, force=True)
    if ids:
        log.info("rebuilt live tallies of %s open polls", len(ids))
