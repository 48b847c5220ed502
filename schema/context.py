"""The per-request context: a sessionmaker (never a shared session), the services, the caller,
and the request's DataLoaders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from domain.errors import DomainError
from domain.identity.actor import Actor
from infra.config import Settings
from infra.services import Services


@dataclass
class Context:
    request: Request | WebSocket | None
    response: Response | WebSocket | None
    services: Services
    actor: Actor
    auth_error: DomainError | None = None
    request_id: str = "-"
    loaders: dict[str, Any] = field(default_factory=dict)
    connection_params: dict[str, Any] | None = None
    retry_after_seconds: int | None = None

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

    def unit_of_work(self) -> AbstractAsyncContextManager[AsyncSession]:
        """One transaction; jobs and hooks queued inside run only after it commits."""
        return self.services.unit_of_work()

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only (no transaction: see ``make_read_sessionmaker``)."""
        async with self.services.read_sessionmaker() as session:
            yield session

    def set_status(self, status: int) -> None:
        if isinstance(self.response, Response):
            self.response.status_code = status

    def client_address(self) -> str | None:
        """The caller's address as the server sees it (a trusted proxy's X-Forwarded-For)."""
        client = self.request.client if self.request is not None else None
        return client.host if client else None

    def user_agent(self) -> str | None:
        return self.request.headers.get("user-agent") if self.request is not None else None

    def retry_after(self, seconds: int) -> None:
        """A RATE_LIMITED answer: HTTP 429 with Retry-After where the transport has a status
        (the fast lane reads ``retry_after_seconds`` when it builds its response)."""
        self.retry_after_seconds = seconds
        if isinstance(self.response, Response):
            self.response.status_code = 429
            self.response.headers["Retry-After"] = str(seconds)
