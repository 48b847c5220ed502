"""Poll jobs: close polls when their time comes; keep live tallies equal to PostgreSQL."""

from __future__ import annotations

import logging

from domain.errors import DomainError
from domain.polls import lifecycle
from infra.services import Services
from workers.registry import SERVICES, job, on_worker_start

log = logging.getLogger(__name__)


@job("poll.close_due", every_seconds=5)
async def close_due(services: Services = SERVICES) -> int:
    """Close every OPEN poll whose closes_at has passed. Each close is its own transaction and
    idempotent (a poll already closed by another worker or the KOC is left alone)."""
    async with services.sessionmaker() as session:
        due = await lifecycle.due_to_close(session)
    closed = 0
    for poll_id in due:
        closed += await close_one(services, poll_id)
    return closed


async def close_one(services: Services, poll_id: int) -> int:
    try:
        async with services.unit_of_work() as session:
            _, closed_now = await lifecycle.close_poll(session, poll_id, live=services.live_polls)
    except DomainError as error:
        log.info("poll %s not closed: %s", poll_id, error.message)
        return 0
    return int(closed_now)


@job("poll.reconcile_open", every_seconds=60)
async def reconcile_open(services: Services = SERVICES) -> int:
    """Rebuild the live tallies of every open poll from PostgreSQL (repairs any drift, e.g. a
    process that died between its commit and its Redis script)."""
    return await services.live_polls.rebuild_open()


@on_worker_start
async def reconcile_on_start(services: Services) -> int:
    return await reconcile_open(services)
