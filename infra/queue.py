"""The job queue: taskiq on a Redis stream (consumer group, explicit acks).

Why taskiq + taskiq-redis: async-native, works with redis-py 5+ (arq pins redis<6), a stream
broker with consumer groups gives at-least-once delivery (a message is acked only after the job
finished; a killed worker's messages are re-claimed by another after
``C2M_JOB_REDELIVER_SECONDS``),
retries with exponential backoff come from its SmartRetryMiddleware, and more worker processes
join the same consumer group to scale out. See docs/architecture.md.

This module only builds the broker and sends jobs by name; the worker process registers the job
functions (``workers/registry.py``), so nothing here depends on the workers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Awaitable
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AckableMessage, AsyncBroker, SmartRetryMiddleware
from taskiq.kicker import AsyncKicker
from taskiq_redis import ListRedisScheduleSource, RedisStreamBroker

from domain.jobs import Job
from infra.config import Settings
from infra.resources import redis_connection_options

log = logging.getLogger(__name__)

OUTBOX_LABEL = "outbox_id"


class StreamBroker(RedisStreamBroker):
    """taskiq-redis's stream broker, made to survive Redis restarts by itself.

    taskiq-redis creates the consumer group once, at start-up. A Redis that restarts empty
    forgets it (and the API's next push recreates the stream without it), after which reading
    fails with NOGROUP for good; a Redis that is down fails every read at once. Here the listener
    recreates the group on NOGROUP and backs off while Redis is unreachable (logging once per
    outage, not per attempt), so a worker never needs a restart."""

    unreachable_since: float | None = None

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        delay = 0.1
        while True:
            try:
                async for message in super().listen():
                    self._reached()
                    delay = 0.1
                    yield message
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                log.warning(
                    "the job stream's consumer group is gone (Redis restarted empty?); "
                    "recreating it"
                )
                await self._try(self._declare_consumer_group())
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                self._unreached(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _try(self, step: Awaitable[None]) -> None:
        try:
            await step
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            self._unreached(exc)
            await asyncio.sleep(1)

    def _unreached(self, exc: BaseException) -> None:
        if self.unreachable_since is None:
            self.unreachable_since = time.monotonic()
            log.warning("the job queue is unreachable (%s); retrying with backoff", exc)

    def _reached(self) -> None:
        if self.unreachable_since is not None:
            log.warning(
                "the job queue is back after %.1f s", time.monotonic() - self.unreachable_since
            )
            self.unreachable_since = None


def schedule_prefix(settings: Settings) -> str:
    return f"{settings.queue_name}:schedule"


def make_retry_source(settings: Settings, redis_url: str) -> ListRedisScheduleSource:
    """Where delayed retries wait (a Redis schedule source read by the worker's scheduler)."""
    return ListRedisScheduleSource(redis_url, prefix=schedule_prefix(settings))


def make_broker(
    settings: Settings, redis_url: str, retry_source: ListRedisScheduleSource | None = None
) -> AsyncBroker:
    retry_source = retry_source or make_retry_source(settings, redis_url)
    return StreamBroker(
        redis_url,
        queue_name=settings.queue_name,
        consumer_group_name="c2m-workers",
        # A message not acked this long after delivery (its worker died) is re-delivered.
        idle_timeout=settings.job_redeliver_seconds * 1000,
        unacknowledged_lock_timeout=30,
        xread_block=1000,
        maxlen=100_000,
        # A group made after jobs were queued (a new install, or Redis restarted empty) still
        # reads them: start from the beginning of the stream, not from "now".
        consumer_id="0",
        max_connection_pool_size=settings.redis_max_connections,
        **redis_connection_options(settings),
    ).with_middlewares(
        SmartRetryMiddleware(
            default_retry_count=8,
            default_retry_label=True,
            default_delay=1,
            use_jitter=True,
            use_delay_exponent=True,
            max_delay_exponent=300,
            schedule_source=retry_source,
        )
    )


ENQUEUED_AT = "enqueued_at"  # when it was sent, for the wait the worker measures


async def kick(broker: AsyncBroker, job: Job, outbox_id: int | None = None) -> None:
    """Send a job by its name (the process sending it need not know the function); the outbox
    row it came from travels as a label, so the worker deletes it once the job has run."""
    labels: dict[str, Any] = {ENQUEUED_AT: f"{time.time():.3f}"}
    if outbox_id is not None:
        labels[OUTBOX_LABEL] = outbox_id
    await AsyncKicker(task_name=job.name, broker=broker, labels=labels).kiq(**job.kwargs)
