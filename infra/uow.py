"""The unit of work: one session, one transaction; queued jobs and hooks run after the commit."""

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
    except BaseException:
        jobs.end(token)
        raise
    pending = jobs.end(token)
    for hook in pending.hooks:
        try:
            await hook()
        except Exception:  # the commit stands; reconcilers repair derived state
            log.exception("after-commit hook failed")
    for job in pending.jobs:
        if broker is None:
            raise RuntimeError(f"job {job.name} queued where no queue is available")
        await kick(broker, job)
