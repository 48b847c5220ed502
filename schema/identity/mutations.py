from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay
from strawberry.types import Info

from domain.errors import DomainError
from domain.identity import factories, roles, sessions
from domain.identity.actor import Actor
from schema.context import Context
from schema.errors import UserError, mutate
from schema.identity.types import (
    AuthPayload,
    AuthSession,
    Factory,
    FactoryApiKey,
    FactoryApiKeyPayload,
    FactoryPayload,
    LogoutPayload,
    User,
    UserPayload,
)
from schema.ids import decode_id


@strawberry.input
class CreateFactoryInput:
    name: str
    contact: str = ""


@strawberry.input
class FactoryProfileInput:
    contact: str | None = None
    categories: list[str] | None = None
    min_batch: int | None = None
    capacity_per_day: int | None = None
    lead_time_days: int | None = None


def _user_id(gid: relay.GlobalID) -> int:
    return decode_id(gid, "User", "userId")


def _factory_id(gid: relay.GlobalID) -> int:
    return decode_id(gid, "Factory", "factoryId")


@strawberry.type
class IdentityMutation:
    @strawberry.mutation(description="Sign in with a WeChat mini-program login code (wx.login).")
    async def login_with_wechat(self, info: Info[Context, Any], code: str) -> AuthPayload:
        s = info.context.services

        address = info.context.client_address()

        async def work(session: AsyncSession, actor: Actor) -> AuthPayload:
            result = await sessions.login_with_wechat(
                session,
                s.wechat_login,
                code,
                s.tokens,
                s.settings.refresh_token_ttl_seconds,
                s.throttle,
                address,
            )
            return AuthPayload(session=AuthSession.from_domain(result))

        return await mutate(info, AuthPayload, work, signed_in=False)

    @strawberry.mutation(
        description="Trade a refresh token for new tokens; the old one stops working."
    )
    async def refresh_session(self, info: Info[Context, Any], refresh_token: str) -> AuthPayload:
        s = info.context.services

        async def work(session: AsyncSession, actor: Actor) -> AuthPayload:
            try:
                result = await sessions.refresh_session(
                    session, refresh_token, s.tokens, s.settings.refresh_token_ttl_seconds
                )
            except DomainError as error:
                # Committed all the same: a reused token revokes its family for good.
                return AuthPayload(errors=[UserError.from_domain(error)])
            return AuthPayload(session=AuthSession.from_domain(result))

        return await mutate(info, AuthPayload, work, signed_in=False)

    @strawberry.mutation(description="End the session this refresh token belongs to.")
    async def logout(self, info: Info[Context, Any], refresh_token: str) -> LogoutPayload:
        async def work(session: AsyncSession, actor: Actor) -> LogoutPayload:
            await sessions.logout(session, refresh_token)
            return LogoutPayload(ok=True)

        return await mutate(info, LogoutPayload, work, signed_in=False)

    @strawberry.mutation
    async def update_profile(
        self, info: Info[Context, Any], display_name: str, avatar_url: str | None = None
    ) -> UserPayload:
        async def work(session: AsyncSession, actor: Actor) -> UserPayload:
            user = await roles.update_profile_name(session, actor, display_name, avatar_url)
            return UserPayload(user=User.from_model(user))

        return await mutate(info, UserPayload, work)

    @strawberry.mutation(description="Operators: make a member a KOC.")
    async def grant_koc_role(
        self, info: Info[Context, Any], user_id: relay.GlobalID
    ) -> UserPayload:
        return await _set_koc(info, user_id, True)

    @strawberry.mutation(description="Operators: take the KOC role away.")
    async def revoke_koc_role(
        self, info: Info[Context, Any], user_id: relay.GlobalID
    ) -> UserPayload:
        return await _set_koc(info, user_id, False)

    @strawberry.mutation(description="Operators: register a factory.")
    async def create_factory(
        self, info: Info[Context, Any], input: CreateFactoryInput
    ) -> FactoryPayload:
        async def work(session: AsyncSession, actor: Actor) -> FactoryPayload:
            f = await factories.create_factory(session, actor, input.name, input.contact)
            return FactoryPayload(factory=Factory.from_model(f))

        return await mutate(info, FactoryPayload, work)

    @strawberry.mutation(
        description="Operators: a factory's categories, minimum batch, "
        "capacity per day, lead time and contact."
    )
    async def update_factory(
        self, info: Info[Context, Any], factory_id: relay.GlobalID, input: FactoryProfileInput
    ) -> FactoryPayload:
        async def work(session: AsyncSession, actor: Actor) -> FactoryPayload:
            f = await factories.update_factory(
                session,
                actor,
                _factory_id(factory_id),
                contact=input.contact,
                categories=input.categories,
                min_batch=input.min_batch,
                capacity_per_day=input.capacity_per_day,
                lead_time_days=input.lead_time_days,
            )
            return FactoryPayload(factory=Factory.from_model(f))

        return await mutate(info, FactoryPayload, work)

    @strawberry.mutation(
        description="Operators: create an API key for a factory. The secret is shown once."
    )
    async def create_factory_api_key(
        self, info: Info[Context, Any], factory_id: relay.GlobalID, name: str = ""
    ) -> FactoryApiKeyPayload:
        async def work(session: AsyncSession, actor: Actor) -> FactoryApiKeyPayload:
            key, secret = await factories.create_factory_api_key(
                session, actor, _factory_id(factory_id), name
            )
            return FactoryApiKeyPayload(api_key=FactoryApiKey.from_model(key), secret=secret)

        return await mutate(info, FactoryApiKeyPayload, work)

    @strawberry.mutation(description="Operators: revoke a factory API key (idempotent).")
    async def revoke_factory_api_key(
        self, info: Info[Context, Any], key_id: relay.GlobalID
    ) -> FactoryApiKeyPayload:
        async def work(session: AsyncSession, actor: Actor) -> FactoryApiKeyPayload:
            key = await factories.revoke_factory_api_key(
                session, actor, decode_id(key_id, "FactoryApiKey", "keyId")
            )
            return FactoryApiKeyPayload(api_key=FactoryApiKey.from_model(key))

        return await mutate(info, FactoryApiKeyPayload, work)


async def _set_koc(info: Info[Context, Any], user_id: relay.GlobalID, granted: bool) -> UserPayload:
    async def work(session: AsyncSession, actor: Actor) -> UserPayload:
        user = await roles.set_koc_role(session, actor, _user_id(user_id), granted)
        return UserPayload(user=User.from_model(user))

    return await mutate(info, UserPayload, work)
