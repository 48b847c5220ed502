from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay
from strawberry.types import Info

from domain.errors import DomainError
from domain.identity import console_login, factories, roles, sessions
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
class ConsoleLoginPayload:
    challenge: str | None = strawberry.field(
        default=None, description="Show it as a QR code; keep it to complete the sign-in."
    )
    expires_at: datetime | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ApprovePayload:
    approved: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


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
        description="The web console's sign-in: a challenge to show as a QR code (valid 2 "
        "minutes). A KOC or operator scans it in the mini-program, which calls "
        "approveConsoleLogin; the console then calls completeConsoleLogin."
    )
    async def start_console_login(self, info: Info[Context, Any]) -> ConsoleLoginPayload:
        ctx = info.context
        s = ctx.services
        try:
            challenge, expires = await console_login.start(
                s.redis, s.throttle, ctx.client_address(), ctx.user_agent()
            )
        except DomainError as error:
            return ConsoleLoginPayload(errors=[UserError.from_domain(error)])
        return ConsoleLoginPayload(challenge=challenge, expires_at=expires)

    @strawberry.mutation(
        description="Mini-program: approve the console showing this challenge (KOCs and "
        "operators; each challenge once)."
    )
    async def approve_console_login(
        self, info: Info[Context, Any], challenge: str
    ) -> ApprovePayload:
        redis = info.context.services.redis

        async def work(session: AsyncSession, actor: Actor) -> ApprovePayload:
            await console_login.approve(session, redis, actor, challenge)
            return ApprovePayload(approved=True)

        return await mutate(info, ApprovePayload, work)

    @strawberry.mutation(
        description="Console: the session once the challenge is approved (once); "
        "CONSOLE_LOGIN_PENDING until then, NOT_FOUND once expired or used."
    )
    async def complete_console_login(self, info: Info[Context, Any], challenge: str) -> AuthPayload:
        s = info.context.services

        async def work(session: AsyncSession, actor: Actor) -> AuthPayload:
            result = await console_login.complete(
                session, s.redis, challenge, s.tokens, s.settings.refresh_token_ttl_seconds
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
