"""Housekeeping jobs."""

from __future__ import annotations

from sqlalchemy import delete

from domain.base import utcnow
from domain.identity.models import RefreshToken
from workers.registry import job
from workers.runtime import runtime


@job("system.ping")
async def ping(marker: str) -> str:
    """Round-trips through the queue; used by health checks and tests."""
    rt = runtime()
    await rt.redis.set(f"c2m:ping:{marker}", "pong", ex=300)
    return marker


@job("identity.purge_expired_tokens", every_seconds=3600)
async def purge_expired_tokens() -> int:
    rt = runtime()
    async with rt.sessionmaker() as session, session.begin():
        result = await session.execute(
            delete(RefreshToken).where(RefreshToken.expires_at < utcnow())
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
