from __future__ import annotations

from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.errors import DomainError
from domain.identity import service
from schema.context import Context
from schema.errors import UserError, in_unit_of_work
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


@strawberry.type
class IdentityMutation:
    @strawberry.mutation(description="Sign in with a WeChat mini-program login code (wx.login).")
    async def login_with_wechat(self, info: Info[Context, Any], code: str) -> AuthPayload:
        ctx = info.context
        s = ctx.services

        async def work(session: Any) -> AuthSession:
            result = await service.login_with_wechat(
                session, s.wechat, code, s.tokens, s.settings.refresh_token_ttl_seconds
            )
            return AuthSession.from_domain(result)

        out = await in_unit_of_work(ctx, work)
        return AuthPayload(errors=[out]) if isinstance(out, UserError) else AuthPayload(session=out)

    @strawberry.mutation(description="Trade a refresh token for new tokens; the old one stops working.")
    async def refresh_session(self, info: Info[Context, Any], refresh_token: str) -> AuthPayload:
        ctx = info.context
        s = ctx.services
        try:
            # Committed even when it fails: a reused token revokes its family for good.
            async with ctx.unit_of_work() as session:
                try:
                    result = await service.refresh_session(
                        session, refresh_token, s.tokens, s.settings.refresh_token_ttl_seconds
                    )
                except DomainError as error:
                    failure: DomainError | None = error
                else:
                    failure = None
        except DomainError as error:
            return AuthPayload(errors=[UserError.from_domain(error)])
        if failure is not None:
            return AuthPayload(errors=[UserError.from_domain(failure)])
        return AuthPayload(session=AuthSession.from_domain(result))

    @strawberry.mutation(description="End the session this refresh token belongs to.")
    async def logout(self, info: Info[Context, Any], refresh_token: str) -> LogoutPayload:
        async def work(session: Any) -> bool:
            await service.logout(session, refresh_token)
            return True

        out = await in_unit_of_work(info.context, work)
        return LogoutPayload(errors=[out]) if isinstance(out, UserError) else LogoutPayload(ok=True)

    @strawberry.mutation
    async def update_profile(
        self, info: Info[Context, Any], display_name: str, avatar_url: str | None = None
    ) -> UserPayload:
        ctx = info.context

        async def work(session: Any) -> User:
            user = await service.update_profile_name(
                session, ctx.authenticated_actor(), display_name, avatar_url
            )
            return User.from_model(user)

        out = await in_unit_of_work(ctx, work)
        return UserPayload(errors=[out]) if isinstance(out, UserError) else UserPayload(user=out)

    @strawberry.mutation(description="Operators: make a member a KOC.")
    async def grant_koc_role(self, info: Info[Context, Any], user_id: relay.GlobalID) -> UserPayload:
        return await _set_koc(info, user_id, True)

    @strawberry.mutation(description="Operators: take the KOC role away.")
    async def revoke_koc_role(self, info: Info[Context, Any], user_id: relay.GlobalID) -> UserPayload:
        return await _set_koc(info, user_id, False)

    @strawberry.mutation(description="Operators: register a factory.")
    async def create_factory(
        self, info: Info[Context, Any], input: CreateFactoryInput
    ) -> FactoryPayload:
        ctx = info.context

        async def work(session: Any) -> Factory:
            f = await service.create_factory(
                session, ctx.authenticated_actor(), input.name, input.contact
            )
            return Factory.from_model(f)

        out = await in_unit_of_work(ctx, work)
        return FactoryPayload(errors=[out]) if isinstance(out, UserError) else FactoryPayload(factory=out)

    @strawberry.mutation(description="Operators: create an API key for a factory. The secret is shown once.")
    async def create_factory_api_key(
        self, info: Info[Context, Any], factory_id: relay.GlobalID, name: str = ""
    ) -> FactoryApiKeyPayload:
        ctx = info.context

        async def work(session: Any) -> FactoryApiKeyPayload:
            fid = decode_id(factory_id, "Factory", "factoryId")
            key, secret = await service.create_factory_api_key(
                session, ctx.authenticated_actor(), fid, name
            )
            return FactoryApiKeyPayload(api_key=FactoryApiKey.from_model(key), secret=secret)

        out = await in_unit_of_work(ctx, work)
        return FactoryApiKeyPayload(errors=[out]) if isinstance(out, UserError) else out

    @strawberry.mutation(description="Operators: revoke a factory API key (idempotent).")
    async def revoke_factory_api_key(
        self, info: Info[Context, Any], key_id: relay.GlobalID
    ) -> FactoryApiKeyPayload:
        ctx = info.context

        async def work(session: Any) -> FactoryApiKeyPayload:
            kid = decode_id(key_id, "FactoryApiKey", "keyId")
            key = await service.revoke_factory_api_key(session, ctx.authenticated_actor(), kid)
            return FactoryApiKeyPayload(api_key=FactoryApiKey.from_model(key))

        out = await in_unit_of_work(ctx, work)
        return FactoryApiKeyPayload(errors=[out]) if isinstance(out, UserError) else out


async def _set_koc(info: Info[Context, Any], user_id: relay.GlobalID, granted: bool) -> UserPayload:
    ctx = info.context

    async def work(session: Any) -> User:
        uid = decode_id(user_id, "User", "userId")
        user = await service.set_koc_role(session, ctx.authenticated_actor(), uid, granted)
        return User.from_model(user)

    out = await in_unit_of_work(ctx, work)
    return UserPayload(errors=[out]) if isinstance(out, UserError) else UserPayload(user=out)
