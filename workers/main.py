"""The worker process: taskiq receiver + scheduler (periodic jobs, delayed retries)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from taskiq.acks import AcknowledgeType
from taskiq.api import run_receiver_task, run_scheduler_task

from server.adapters import make_payment_provider, make_subscribe_messages
from server.config import Settings
from server.resources import make_engine, make_redis, make_sessionmaker
from workers.broker import make_broker, make_scheduler
from workers.runtime import Runtime, set_runtime

log = logging.getLogger("c2m.worker")


async def on_start(rt: Runtime) -> None:
    """Work every worker does once when it starts (reconcilers register here)."""
    from workers.registry import STARTUP

    for hook in STARTUP:
        try:
            await hook(rt)
        except Exception:  # a failing reconciler must not keep the worker down
            log.exception("startup hook %s failed", getattr(hook, "__name__", hook))


async def run_worker(settings: Settings, database_url: str, redis_url: str,
                     stop: asyncio.Event | None = None) -> None:
    engine = make_engine(settings, database_url, pool_size=10)
    redis = make_redis(redis_url)
    broker, retry_source = make_broker(settings, redis_url)
    rt = Runtime(settings=settings, sessionmaker=make_sessionmaker(engine), redis=redis,
                 broker=broker, wechat_messages=make_subscribe_messages(settings),
                 payments=make_payment_provider(settings))
    set_runtime(rt)
    scheduler = make_scheduler(broker, retry_source)
    broker.is_worker_process = True
    await broker.startup()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await on_start(rt)
    receiver = asyncio.create_task(
        run_receiver_task(
            broker,
            max_async_tasks=settings.worker_concurrency,
            ack_time=AcknowledgeType.WHEN_SAVED,  # ack after the job ran: at-least-once
            run_startup=False,
        )
    )
    sched = asyncio.create_task(run_scheduler_task(scheduler))
    log.info("worker started (queue %s)", settings.queue_name)
    try:
        await stop.wait()
    finally:
        log.info("worker stopping")
        for task in (receiver, sched):
            task.cancel()
        for task in (receiver, sched):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await broker.shutdown()
        await rt.wechat_messages.aclose()
        await rt.payments.aclose()
        await redis.aclose()
        await engine.dispose()
        set_runtime(None)
