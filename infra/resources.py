"""Connections to PostgreSQL and Redis, built from settings."""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

import domain.models  # noqa: F401  - every context's tables, so mappers and FKs resolve
from infra.config import Settings


def normalise_database_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def make_engine(settings: Settings, url: str, *, pool_size: int | None = None) -> AsyncEngine:
    return create_async_engine(
        normalise_database_url(url),
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # No pre-ping: it costs a round trip per checkout on the hot path. A connection the server
        # dropped fails its statement, SQLAlchemy invalidates the pool, and the request is retried
        # by the client; recycling keeps connections from ageing out behind proxies.
        pool_pre_ping=False,
        pool_recycle=1800,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def make_redis(url: str) -> Redis:
    return Redis.from_url(url, decode_responses=True, health_check_interval=30)
