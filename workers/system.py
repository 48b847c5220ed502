"""Housekeeping jobs."""

from __future__ import annotations

from domain.identity import sessions
from infra.services import Services
from workers.registry import SERVICES, job


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
