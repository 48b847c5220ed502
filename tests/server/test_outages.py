"""Outages are told apart from bugs (UNAVAILABLE, retry) and logged once, not once per request;
a burst of Redis commands waits for a free connection instead of failing."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from infra.config import Settings
from infra.outages import OutageLog, is_outage
from infra.resources import make_redis


def _dbapi(orig: BaseException) -> DBAPIError:
    return DBAPIError("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    "error",
    [
        RedisConnectionError("Connection reset by peer"),
        PoolTimeout("QueuePool limit reached, connection timed out"),
        _dbapi(asyncpg.exceptions.CannotConnectNowError("the database system is starting up")),
        _dbapi(asyncpg.exceptions.AdminShutdownError("terminating connection")),
        _dbapi(asyncpg.exceptions.TooManyConnectionsError("too many clients")),
        ConnectionRefusedError(111, "Connection refused"),
        FileNotFoundError(2, "No such file: /tmp/.s.PGSQL.5432"),
    ],
)
def test_outages_are_unavailable(error: BaseException) -> None:
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("a bug"),
        KeyError("a bug"),
        _dbapi(asyncpg.exceptions.UniqueViolationError("duplicate key")),
    ],
)
def test_bugs_are_not_outages(error: BaseException) -> None:
    assert not is_outage(error)


def test_an_outage_is_logged_once_not_per_request(caplog: pytest.LogCaptureFixture) -> None:
    log = OutageLog(logging.getLogger("test.outages"))
    with caplog.at_level(logging.WARNING, logger="test.outages"):
        for _ in range(500):
            log.report("castVote", RedisConnectionError("Connection refused"))
    assert len(caplog.records) == 1


async def test_a_burst_waits_for_a_free_connection(redis_url: str) -> None:
    redis = make_redis(Settings(redis_max_connections=2, redis_pool_timeout_seconds=5), redis_url)
    try:
        script = redis.register_script("redis.call('INCR', KEYS[1]) return 1")
        done = await asyncio.gather(*[script(keys=["c2m:test:burst"]) for _ in range(50)])
        assert done == [1] * 50
        assert int(await redis.get("c2m:test:burst")) == 50
    finally:
        await redis.aclose()
