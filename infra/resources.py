"""Connections to PostgreSQL and Redis, built from settings."""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
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
        # A request waits this long for a connection, then answers UNAVAILABLE (retry).
        pool_timeout=settings.db_pool_timeout_seconds,
        # No pre-ping: it costs a round trip per checkout on the hot path. A connection the server
        # dropped fails its statement (UNAVAILABLE), and SQLAlchemy then recycles every pooled
        # connection older than the failure, so one request per process sees an outage end.
        pool_pre_ping=False,
        pool_recycle=1800,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def make_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for reads: each statement on its own (AUTOCOMMIT), the same pool. Under READ
    COMMITTED every statement takes its own snapshot anyway, so a read loses nothing, and it
    saves the BEGIN and the ROLLBACK: two round trips, two turns of a busy event loop."""
    return async_sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
    )


def redis_connection_options(settings: Settings) -> dict[str, Any]:
    """How every Redis client of ours connects: a dead pooled connection (Redis restarted) is
    retried at once on a fresh one; idle connections are checked; a burst waits for a free
    connection instead of failing."""
    return {
        "retry": Retry(ExponentialWithJitterBackoff(base=0.02, cap=0.5), retries=3),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError, ConnectionError, OSError],
        "health_check_interval": 10,
        "socket_keepalive": True,
        "socket_connect_timeout": 2,
    }


def make_redis(settings: Settings, url: str) -> Redis:
    pool = BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout_seconds,
        **redis_connection_options(settings),
    )
    return Redis.from_pool(pool)
