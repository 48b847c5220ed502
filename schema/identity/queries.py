from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from domain.identity import console_login, factories, roles
from schema.context import Context
from schema.identity.types import ConsoleLoginRequest, Factory, User
from schema.pagination import Connection, build_connection, decode_int_cursor, page_size


@strawberry.type
class IdentityQuery:
    @strawberry.field(
        description="The signed-in member, or null when the request carries no token."
    )
    async def viewer(self, info: Info[Context, Any]) -> User | None:
        ctx = info.context
        actor = ctx.authenticated_actor()
        if actor.user_id is None:
            return None
        async with ctx.read_session() as session:
            user = await roles.viewer(session, actor)
        return User.from_model(user) if user else None

    @strawberry.field(description="The factory whose API key signed this request, or null.")
    async def viewer_factory(self, info: Info[Context, Any]) -> Factory | None:
        ctx = info.context
        actor = ctx.authenticated_actor()
        if actor.factory_id is None:
            return None
        async with ctx.read_session() as session:
            factory = await factories.viewer_factory(session, actor)
        return Factory.from_model(factory) if factory else None

    @strawberry.field(
        description="Mini-program, before approveConsoleLogin: who asks to sign in to the console "
        "with this challenge (the address and browser that started it, and when), to show the "
        "approver. KOCs and operators; NOT_FOUND once it expired, was approved or used."
    )
    async def console_login_request(
        self, info: Info[Context, Any], challenge: str
    ) -> ConsoleLoginRequest:
        ctx = info.context
        async with ctx.read_session() as session:
            found = await console_login.describe(
                session, ctx.services.redis, ctx.authenticated_actor(), challenge
            )
        return ConsoleLoginRequest.from_domain(found)

    @strawberry.field(description="All factories (operators only), oldest first.")
    async def factories(
        self, info: Info[Context, Any], first: int | None = None, after: str | None = None
    ) -> Connection[Factory]:
        ctx = info.context
        limit = page_size(first)
        after_id = decode_int_cursor("factory", after)
        async with ctx.read_session() as session:
            rows = await factories.list_factories(
                session, ctx.authenticated_actor(), after_id, limit + 1
            )
        return build_connection(rows, limit, "factory", lambda f: f.id, Factory.from_model)
