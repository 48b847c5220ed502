"""The job queue, end to end through a real worker on the real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from domain import jobs
from infra.config import Settings
from workers.main import run_worker


@pytest.fixture
async def worker(settings: Settings) -> AsyncIterator[None]:
    assert settings.database_url and settings.redis_url
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(settings, settings.database_url, settings.redis_url, stop))
    await asyncio.sleep(0.5)
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 15)


async def _wait_for(redis: Redis, key: str, timeout: float = 10) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        value = await redis.get(key)
        if value is not None:
            return value
        await asyncio.sleep(0.05)
    return None


async def test_jobs_run_after_commit_and_not_after_rollback(
    services: Any, worker: None, settings: Settings
) -> None:
    from schema.context import Context

    ctx = Context(request=None, response=None, services=services, actor=None)  # type: ignore[arg-type]
    committed, rolled_back = uuid.uuid4().hex, uuid.uuid4().hex

    async with ctx.unit_of_work():
        jobs.enqueue("system.ping", marker=committed)

    with contextlib.suppress(RuntimeError):
        async with ctx.unit_of_work():
            jobs.enqueue("system.ping", marker=rolled_back)
            raise RuntimeError("rollback")

    redis = Redis.from_url(settings.redis_url or "", decode_responses=True)
    try:
        assert await _wait_for(redis, f"c2m:ping:{committed}") == "pong"
        await asyncio.sleep(0.5)
        assert await redis.get(f"c2m:ping:{rolled_back}") is None
    finally:
        await redis.aclose()


def test_enqueue_outside_a_unit_of_work_is_a_bug() -> None:
    with pytest.raises(RuntimeError):
        jobs.enqueue("system.ping", marker="x")
