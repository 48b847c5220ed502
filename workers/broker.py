"""The job queue: taskiq on a Redis stream (consumer group, explicit acks).

Why taskiq + taskiq-redis: async-native, works with redis-py 5+ (arq pins redis<6), a stream
broker with consumer groups gives at-least-once delivery (a message is acked only after the job
finished; a killed worker's messages are re-claimed by another after ``idle_timeout``), retries
with exponential backoff come from its SmartRetryMiddleware, and more worker processes join the
same consumer group to scale out. See docs/architecture.md.
"""

from __future__ import annotations

from typing import Any

from taskiq import AsyncBroker, SmartRetryMiddleware, TaskiqScheduler
from taskiq.schedule_sources import LabelScheduleSource
from taskiq_redis import ListRedisScheduleSource, RedisStreamBroker

from domain.jobs import Job
from server.config import Settings
from workers.registry import JOBS, PERIODIC, load_all

# A message not acked this long after delivery (its worker died) is re-delivered.
REDELIVER_AFTER_MS = 60_000


def _schedule_prefix(settings: Settings) -> str:
    return f"{settings.queue_name}:schedule"


def make_broker(settings: Settings, redis_url: str) -> tuple[AsyncBroker, ListRedisScheduleSource]:
    load_all()
    retry_source = ListRedisScheduleSource(redis_url, prefix=_schedule_prefix(settings))
    broker = RedisStreamBroker(
        redis_url,
        queue_name=settings.queue_name,
        consumer_group_name="c2m-workers",
        idle_timeout=REDELIVER_AFTER_MS,
        unacknowledged_lock_timeout=30,
        xread_block=1000,
        maxlen=100_000,
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
    for name, func in JOBS.items():
        labels: dict[str, Any] = {}
        if name in PERIODIC:
            labels["schedule"] = [{"interval": PERIODIC[name]}]
        broker.register_task(func, task_name=name, **labels)
    return broker, retry_source


def make_scheduler(broker: AsyncBroker, retry_source: ListRedisScheduleSource) -> TaskiqScheduler:
    return TaskiqScheduler(broker, sources=[LabelScheduleSource(broker), retry_source])


async def kick(broker: AsyncBroker, job: Job) -> None:
    task = broker.find_task(job.name)
    if task is None:
        raise RuntimeError(f"unknown job {job.name!r}")
    await task.kiq(**job.kwargs)
