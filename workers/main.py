"""The worker process: taskiq receiver + scheduler (periodic jobs, delayed retries)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import start_http_server
from taskiq import AsyncBroker, TaskiqScheduler
from taskiq.acks import AcknowledgeType
from taskiq.api import run_scheduler_task
from taskiq.receiver import Receiver
from taskiq.schedule_sources import LabelScheduleSource

from infra import heartbeat, tracing
from infra.config import Settings
from infra.metrics import QUEUE_DEPTH, QUEUE_PENDING
from infra.queue import make_broker, make_retry_source
from infra.services import Services, open_services
from workers import drops, notifications, payments, polls, production, system
from workers.metrics import JobMetrics
from workers.outbox import OutboxMiddleware
from workers.registry import JOBS, PERIODIC, STARTUP

# Every module that registers jobs (importing them fills the registry).
JOB_MODULES = (drops, notifications, payments, polls, production, system)

log = logging.getLogger("c2m.worker")

# How long a stopping worker lets its running jobs finish.
JOB_GRACE_SECONDS = 20


def register_all(broker: AsyncBroker, services: Services) -> None:
    """Give the broker every job, and the services they take."""
    broker.add_dependency_context({Services: services})
    broker.add_middlewares(OutboxMiddleware(services), JobMetrics())
    for name, func in JOBS.items():
        labels: dict[str, Any] = {}
        if name in PERIODIC:
            labels["schedule"] = [{"interval": PERIODIC[name]}]
        broker.register_task(func, task_name=name, **labels)


async def _beat(services: Services, broker: AsyncBroker, worker_id: str) -> None:
    """Say every few seconds that this worker is alive and whether it reaches the queue."""
    started = datetime.now(UTC)
    while True:
        queue_ok = getattr(broker, "unreachable_since", None) is None
        try:
            async with services.sessionmaker() as session, session.begin():
                await heartbeat.beat(session, worker_id, os.getpid(), started, queue_ok)
        except Exception as exc:  # noqa: BLE001 - PostgreSQL down: the next beat tells
            log.debug("heartbeat not recorded: %s", exc)
        await _sample_queue(services)
        await asyncio.sleep(heartbeat.BEAT_EVERY_SECONDS)


async def _sample_queue(services: Services) -> None:
    """The queue's depth and what workers hold unacknowledged, for /metrics."""
    name = services.settings.queue_name
    try:
        QUEUE_DEPTH.set(await services.redis.xlen(name))
        pending = await services.redis.xpending(name, "c2m-workers")
        QUEUE_PENDING.set(int(pending.get("pending", 0)) if isinstance(pending, dict) else 0)
    except Exception as exc:  # noqa: BLE001 - Redis away or no group yet: the next beat tells
        log.debug("queue not sampled: %s", exc)


async def on_start(services: Services) -> None:
    """Work every worker does once when it starts (reconcilers register here)."""
    for hook in STARTUP:
        try:
            await hook(services)
        except Exception:  # a failing reconciler must not keep the worker down
            log.exception("startup hook %s failed", getattr(hook, "__name__", hook))


async def run_worker(
    settings: Settings, database_url: str, redis_url: str, stop: asyncio.Event | None = None
) -> None:
    tracing.setup_tracing(settings, "c2m-worker")
    retry_source = make_retry_source(settings, redis_url)
    broker = make_broker(settings, redis_url, retry_source)
    broker.is_worker_process = True
    async with open_services(
        settings, database_url, redis_url, pool_size=10, queue=broker
    ) as services:
        register_all(broker, services)
        scheduler = TaskiqScheduler(broker, sources=[LabelScheduleSource(broker), retry_source])
        await broker.startup()
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        metrics_server = None
        if settings.worker_metrics_port:
            # This worker's own /metrics (Prometheus scrapes every worker, as every API process).
            metrics_server, _ = start_http_server(settings.worker_metrics_port, addr=settings.host)
        await on_start(services)
        receiver = Receiver(
            broker,
            run_startup=False,
            max_async_tasks=settings.worker_concurrency,
            ack_type=AcknowledgeType.WHEN_SAVED,  # ack after the job ran: at-least-once
            wait_tasks_timeout=JOB_GRACE_SECONDS,
        )
        finish = asyncio.Event()
        receiving = asyncio.create_task(receiver.listen(finish))
        # Read the schedules (retries waiting in Redis among them) every 2 s, not every minute.
        sched = asyncio.create_task(run_scheduler_task(scheduler, interval=timedelta(seconds=2)))
        worker_id = f"{heartbeat.this_host()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        beating = asyncio.create_task(_beat(services, broker, worker_id))
        log.info("worker started (queue %s)", settings.queue_name)
        try:
            await stop.wait()
        finally:
            # Stop taking jobs, let the running ones finish (a job cut off is not acked, so
            # another worker takes it again: every job is idempotent).
            log.info("worker stopping")
            beating.cancel()
            sched.cancel()
            finish.set()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sched
            try:
                await asyncio.wait_for(receiving, JOB_GRACE_SECONDS + 5)
            except (TimeoutError, Exception):  # noqa: BLE001 - stopping regardless
                receiving.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await receiving
            with contextlib.suppress(Exception):
                await broker.shutdown()
            if metrics_server is not None:
                metrics_server.shutdown()
                metrics_server.server_close()
            with contextlib.suppress(Exception):
                async with services.sessionmaker() as session, session.begin():
                    await heartbeat.forget(session, worker_id)
