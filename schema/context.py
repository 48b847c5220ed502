"""The per-request context: a sessionmaker (never a shared session), Redis, the caller, loaders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from taskiq import AsyncBroker

from domain.drops.reservations import ReservationStore
from domain.errors import DomainError
from domain.identity.actor import Actor
from domain.identity.tokens import TokenIssuer
from domain.identity.wechat import WeChatLogin
from domain.payments.provider import PaymentProvider
from domain.polls.live import LivePolls
from server.config import Settings
from server.pubsub import PubSubHub
from server.uow import unit_of_work


@dataclass
class Services:
    """Long-lived collaborators, built once in the lifespan."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis
    broker: AsyncBroker
    tokens: TokenIssuer
    wechat: WeChatLogin
    live_polls: LivePolls
    hub: PubSubHub
    reservations: ReservationStore
    payments: PaymentProvider


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    services: Services
    actor: Actor
    auth_error: DomainError | None = None
    request_id: str = "-"
    loaders: dict[str, Any] = field(default_factory=dict)
    connection_params: dict[str, Any] | None = None

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self.services.sessionmaker

    @property
    def redis(self) -> Redis:
        return self.services.redis

    def authenticated_actor(self) -> Actor:
        """The caller; a bad or expired token is reported as such rather than as 'anonymous'."""
        if self.actor.is_anonymous and self.auth_error is not None:
            raise self.auth_error
        return self.actor

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One transaction; jobs and hooks queued inside run only after it commits."""
        async with unit_of_work(self.sessionmaker, self.services.broker) as session:
            yield session

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    def set_status(self, status: int) -> None:
        if isinstance(self.response, Response):
            self.response.status_code = status
