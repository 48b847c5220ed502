"""The job queue, end to end through a real worker on the real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from domain import jobs
from infra.config import Settings
from workers.main import run_worker


@contextlib.asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[None]:
    assert settings.database_url and settings.redis_url
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_worker(settings, settings.database_url, settings.redis_url, stop)
    )
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def test_jobs_run_after_commit_and_not_after_rollback(
    services: Any, settings: Settings
) -> None:
    committed, rolled_back = uuid.uuid4().hex, uuid.uuid4().hex
    with contextlib.suppress(RuntimeError):
        async with services.unit_of_work():
            jobs.enqueue("system.ping", marker=rolled_back)
            raise RuntimeError("rollback")
    async with services.unit_of_work():
        jobs.enqueue("system.ping", marker=committed)

    # What reached the queue: the committed job only (read from the stream itself).
    queued = str(await services.redis.xrange(settings.queue_name))
    assert committed in queued and rolled_back not in queued

    # A worker started afterwards still runs it (its consumer group reads from the start).
    async with running_worker(settings):
        assert await services.redis.blpop([f"c2m:ping:{committed}"], timeout=15) is not None
    assert await services.redis.exists(f"c2m:ping:{rolled_back}") == 0


def test_enqueue_outside_a_unit_of_work_is_a_bug() -> None:
    try:
        jobs.enqueue("system.ping", marker="x")
    except RuntimeError:
        return
    raise AssertionError("enqueue outside a unit of work must raise")


async def test_a_running_worker_is_seen_alive(client: Any, settings: Settings) -> None:
    async def workers() -> dict[str, int]:
        resp = await client.http.get("/readyz")
        assert resp.status_code == 200
        return dict(resp.json()["workers"])

    assert await workers() == {"alive": 0, "reaching_queue": 0}
    async with running_worker(settings):
        for _ in range(100):  # it beats as soon as it starts
            if await workers() == {"alive": 1, "reaching_queue": 1}:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the worker never reported alive")
    assert await workers() == {"alive": 0, "reaching_queue": 0}  # a clean stop says goodbye


async def test_a_worker_reports_its_jobs_and_the_queue(services: Any, settings: Settings) -> None:
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    marker = uuid.uuid4().hex
    async with services.unit_of_work():
        jobs.enqueue("system.ping", marker=marker)
    observed = settings.model_copy(update={"worker_metrics_port": port})
    async with running_worker(observed):
        assert await services.redis.blpop([f"c2m:ping:{marker}"], timeout=15) is not None
        async with httpx.AsyncClient() as http:
            for _ in range(50):
                text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
                if 'c2m_jobs_total{outcome="ok",task="system.ping"}' in text:
                    break
                await asyncio.sleep(0.1)
    assert 'c2m_jobs_total{outcome="ok",task="system.ping"}' in text
    assert 'c2m_job_wait_seconds_count{task="system.ping"}' in text
    assert "c2m_job_duration_seconds_bucket" in text
    assert "c2m_queue_depth" in text
