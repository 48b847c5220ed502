"""The unit of work: one session, one transaction; the jobs it queued are recorded in the same
transaction (the outbox) and pushed after the commit; hooks run after the commit."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from taskiq import AsyncBroker

from domain import jobs
from infra.queue import kick

log = logging.getLogger(__name__)


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession], broker: AsyncBroker | None
) -> AsyncIterator[AsyncSession]:
    token = jobs.begin()
    try:
        async with sessionmaker() as session, session.begin():
            yield session
            pending = jobs.current()
            outbox_ids = await jobs.record(session, pending.jobs) if pending.jobs else []
    finally:
        pending = jobs.end(token)
    # The commit stands from here on: nothing below may turn the request into a failure.
    for hook in pending.hooks:
        try:
            await hook()
        except Exception:  # reconcilers repair derived state
            log.exception("after-commit hook failed")
    if pending.jobs:
        await push(sessionmaker, broker, list(zip(outbox_ids, pending.jobs, strict=True)))


async def push(
    sessionmaker: async_sessionmaker[AsyncSession],
    broker: AsyncBroker | None,
    recorded: list[tuple[int, jobs.Job]],
) -> None:
    """Push recorded jobs and mark them pushed; those that could not be pushed (or not marked)
    are left for the relay, which pushes unmarked jobs after a few seconds."""
    done: list[int] = []
    for outbox_id, job in recorded:
        try:
            if broker is None:
                raise RuntimeError("no queue in this process")
            await kick(broker, job, outbox_id)
        except Exception as exc:  # noqa: BLE001 - the outbox keeps the job
            log.warning("job %s not pushed (%s); the relay will push it", job.name, exc)
            continue
        done.append(outbox_id)
    if done:
        try:
            async with sessionmaker() as session, session.begin():
                await jobs.pushed(session, done)
        except Exception as exc:  # noqa: BLE001 - at worst the relay pushes them once more
            log.warning("could not mark %s jobs pushed (%s)", len(done), exc)
