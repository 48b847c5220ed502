"""Housekeeping jobs: the outbox relay, token purge, a ping through the queue."""

from __future__ import annotations

import logging

from domain import jobs
from domain.identity import sessions
from infra.services import Services
from infra.uow import push
from workers.registry import SERVICES, job, on_worker_start

log = logging.getLogger(__name__)


@job("system.ping")
async def ping(marker: str, services: Services = SERVICES) -> str:
    """Round-trips through the queue; used by health checks and tests (who wait on the list)."""
    key = f"c2m:ping:{marker}"
    async with services.redis.pipeline(transaction=True) as pipe:
        pipe.rpush(key, "pong")
        pipe.expire(key, 300)
        await pipe.execute()
    return marker


@job("identity.purge_expired_tokens", every_seconds=3600)
async def purge_expired_tokens(services: Services = SERVICES) -> int:
    async with services.unit_of_work() as session:
        return await sessions.purge_expired_tokens(session)


@job("jobs.relay_outbox", every_seconds=5)
async def relay_outbox(services: Services = SERVICES) -> int:
    """Push the outbox's jobs that were never pushed, or pushed long ago and never done (the
    queue lost them): no follow-up of a commit is lost to a failure between commit and push."""
    async with services.sessionmaker() as session, session.begin():
        due = await jobs.due_for_relay(session)
        recorded = [(row.id, jobs.Job(row.name, row.kwargs)) for row in due]
    if recorded:
        log.info("relaying %s jobs from the outbox", len(recorded))
        await push(services.sessionmaker, services.queue, recorded)
    return len(recorded)


@on_worker_start
async def relay_on_start(services: Services) -> int:
    return await relay_outbox(services)
