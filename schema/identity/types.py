from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.identity import console_login, factories, models, roles, sessions
from schema.context import Context
from schema.errors import UserError
from schema.ids import node_pks


@strawberry.enum
class Role(enum.Enum):
    MEMBER = "MEMBER"
    KOC = "KOC"
    OPERATOR = "OPERATOR"


@strawberry.type
class User(relay.Node):
    id: relay.NodeID[int]
    display_name: str
    avatar_url: str | None
    roles: list[Role]
    created_at: datetime

    @classmethod
    def from_model(cls, user: models.User) -> User:
        return cls(
            id=user.id,
            display_name=user.display_name,
            avatar_url=user.avatar_url,
            roles=[Role(r) for r in user.roles],
            created_at=user.created_at,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, Any], node_ids: Iterable[str], required: bool = False
    ) -> list[User | None]:
        pks = node_pks(node_ids)
        async with info.context.read_session() as session:
            users = await roles.visible_users(session, info.context.actor, [p for p in pks if p])
        return [cls.from_model(users[p]) if p in users else None for p in pks]


@strawberry.type
class FactoryApiKey(relay.Node):
    id: relay.NodeID[int]
    name: str
    prefix: str = strawberry.field(description="The public part of the key, to tell keys apart.")
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def from_model(cls, key: models.FactoryApiKey) -> FactoryApiKey:
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, Any], node_ids: Iterable[str], required: bool = False
    ) -> list[FactoryApiKey | None]:
        ctx = info.context
        pks = node_pks(node_ids)
        async with ctx.read_session() as session:
            found = await factories.visible_api_keys(session, ctx.actor, [p for p in pks if p])
        return [cls.from_model(found[p]) if p in found else None for p in pks]


@strawberry.type
class Factory(relay.Node):
    id: relay.NodeID[int]
    name: str
    contact: str
    categories: list[str]
    min_batch: int
    capacity_per_day: int
    lead_time_days: int
    created_at: datetime

    @classmethod
    def from_model(cls, factory: models.Factory) -> Factory:
        return cls(
            id=factory.id,
            name=factory.name,
            contact=factory.contact,
            categories=list(factory.categories or []),
            min_batch=factory.min_batch,
            capacity_per_day=factory.capacity_per_day,
            lead_time_days=factory.lead_time_days,
            created_at=factory.created_at,
        )

    @strawberry.field(description="API keys of this factory (operators only).")
    async def api_keys(self, info: Info[Context, Any]) -> list[FactoryApiKey]:
        ctx = info.context
        async with ctx.read_session() as session:
            keys = await factories.api_keys_of(session, ctx.authenticated_actor(), self.id)
        return [FactoryApiKey.from_model(k) for k in keys]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, Any], node_ids: Iterable[str], required: bool = False
    ) -> list[Factory | None]:
        ctx = info.context
        pks = node_pks(node_ids)
        async with ctx.read_session() as session:
            found = await factories.visible_factories(session, ctx.actor, [p for p in pks if p])
        return [cls.from_model(found[p]) if p in found else None for p in pks]


@strawberry.type(
    description="Tokens for a signed-in member. Send the access token as "
    "`Authorization: Bearer <token>`."
)
class AuthSession:
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    refresh_token_expires_at: datetime
    user: User

    @classmethod
    def from_domain(cls, s: sessions.Session) -> AuthSession:
        return cls(
            access_token=s.access_token,
            access_token_expires_at=s.access_token_expires_at,
            refresh_token=s.refresh_token,
            refresh_token_expires_at=s.refresh_token_expires_at,
            user=User.from_model(s.user),
        )


@strawberry.type
class AuthPayload:
    session: AuthSession | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class LogoutPayload:
    ok: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class UserPayload:
    user: User | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class FactoryPayload:
    factory: Factory | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class FactoryApiKeyPayload:
    api_key: FactoryApiKey | None = None
    secret: str | None = strawberry.field(
        default=None,
        description="The full key, shown only in the response that created it. Keep it safe.",
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="Who started a console sign-in, shown before it is approved.")
class ConsoleLoginRequest:
    requested_at: datetime
    expires_at: datetime
    ip_address: str | None = strawberry.field(
        description="The address the console's browser asked from (as this server sees it)."
    )
    user_agent: str | None = strawberry.field(
        description="The browser's User-Agent, as it sent it (at most 300 characters)."
    )

    @classmethod
    def from_domain(cls, r: console_login.LoginRequest) -> ConsoleLoginRequest:
        return cls(
            requested_at=r.requested_at,
            expires_at=r.expires_at,
            ip_address=r.address,
            user_agent=r.user_agent,
        )
