"""The bare paths of the vote and pre-order benchmarks: a Starlette endpoint that authenticates
the same JWT and runs the same domain vote (the PostgreSQL write and the Redis script), with no
GraphQL."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.drops import inputs, preorders
from domain.drops.reservations import ReservationStore
from domain.errors import DomainError
from domain.identity.actor import Actor
from domain.identity.tokens import TokenIssuer
from domain.polls import voting
from domain.polls.live import LivePolls
from infra.config import Settings
from infra.resources import make_engine, make_redis, make_sessionmaker
from infra.uow import unit_of_work


def create_app(settings: Settings) -> Starlette:
    state: dict[str, object] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = make_engine(settings, settings.database_url or "")
        redis = make_redis(settings, settings.redis_url or "")
        state["sessionmaker"] = make_sessionmaker(engine)
        state["live"] = LivePolls(state["sessionmaker"], redis)  # type: ignore[arg-type]
        state["tokens"] = TokenIssuer(settings.jwt_secret, settings.access_token_ttl_seconds)
        state["store"] = ReservationStore(redis)
        yield
        await redis.aclose()
        await engine.dispose()

    async def vote(request: Request) -> Response:
        tokens: TokenIssuer = state["tokens"]  # type: ignore[assignment]
        user_id = tokens.verify(request.headers["authorization"].split(" ", 1)[1])
        body = json.loads(await request.body())
        try:
            async with unit_of_work(state["sessionmaker"], None) as session:  # type: ignore[arg-type]
                out = await voting.cast_vote(
                    session,
                    state["live"],
                    Actor(user_id=user_id),  # type: ignore[arg-type]
                    int(body["pollId"]),
                    [int(o) for o in body["optionIds"]],
                )
        except DomainError as e:
            return Response(json.dumps({"error": e.code.value}), media_type="application/json")
        return Response(json.dumps({"changed": out.changed}), media_type="application/json")

    async def place(request: Request) -> Response:
        tokens: TokenIssuer = state["tokens"]  # type: ignore[assignment]
        user_id = tokens.verify(request.headers["authorization"].split(" ", 1)[1])
        body = json.loads(await request.body())
        sm = state["sessionmaker"]
        try:
            order = await preorders.place_preorder(
                lambda: unit_of_work(sm, None),
                sm,
                state["store"],  # type: ignore[arg-type]
                Actor(user_id=user_id),
                int(body["dropId"]),
                [(int(v), int(q)) for v, q in body["lines"]],
                body["key"],
                inputs.Address(**body["address"]),
            )
        except DomainError as e:
            return Response(json.dumps({"error": e.code.value}), media_type="application/json")
        return Response(
            json.dumps({"order": order.id, "quantity": order.quantity}),
            media_type="application/json",
        )

    return Starlette(
        routes=[
            Route("/vote", vote, methods=["POST"]),
            Route("/preorder", place, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


if __name__ == "__main__":
    uvicorn.run(
        create_app(Settings()),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
    )
