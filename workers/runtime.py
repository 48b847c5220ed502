"""Resources a job needs (sessionmaker, Redis, settings), set once per worker process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.config import Settings


@dataclass
class Runtime:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis
    broker: Any = None  # taskiq AsyncBroker, for jobs that queue follow-up jobs
    wechat_messages: Any = None  # SubscribeMessages adapter
    payments: Any = None  # PaymentProvider adapter

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        from server.uow import unit_of_work

        async with unit_of_work(self.sessionmaker, self.broker) as session:
            yield session


_runtime: Runtime | None = None


def set_runtime(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime


def runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("the worker runtime is not initialised")
    return _runtime
