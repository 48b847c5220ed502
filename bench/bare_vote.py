"""The bare paths of the vote, pre-order and team-join benchmarks: a Starlette endpoint behind
the same HTTP middleware as the API (request ids, body limit, metrics) that authenticates the same
JWT and makes the same domain call as the GraphQL resolver (votes and pre-orders through the same
group commit: the PostgreSQL write and the Redis script), with no GraphQL. The GraphQL / bare
ratio is then what GraphQL costs."""

from __future__ import annotations

import contextlib
import gc
import json
import sys
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.drops import inputs, preorders, teams
from domain.errors import DomainError
from domain.identity.actor import Actor
from domain.polls import voting
from infra.config import Settings
from infra.services import Services, open_services
from server.middleware import BodySizeLimitMiddleware, RequestIdMiddleware


def create_app(settings: Settings) -> Starlette:
    state: dict[str, Services] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_services(
            settings, settings.database_url or "", settings.redis_url or ""
        ) as services:
            state["services"] = services
            gc.collect()
            gc.freeze()  # as the API does
            yield

    async def vote(request: Request) -> Response:
        services = state["services"]
        user_id = services.tokens.verify(request.headers["authorization"].split(" ", 1)[1])
        body = json.loads(await request.body())
        try:
            out = await voting.vote(
                services.votes,
                Actor(user_id=user_id),
                int(body["pollId"]),
                [int(o) for o in body["optionIds"]],
            )
        except DomainError as e:
            return Response(json.dumps({"error": e.code.value}), media_type="application/json")
        return Response(json.dumps({"changed": out.changed}), media_type="application/json")

    async def place(request: Request) -> Response:
        services = state["services"]
        user_id = services.tokens.verify(request.headers["authorization"].split(" ", 1)[1])
        body = json.loads(await request.body())
        try:
            order = await preorders.preorder(
                services.preorders,
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

    async def join(request: Request) -> Response:
        services = state["services"]
        user_id = services.tokens.verify(request.headers["authorization"].split(" ", 1)[1])
        body = json.loads(await request.body())
        try:
            placed = await teams.join_team(
                services.unit_of_work,
                services.sessionmaker,
                services.reservations,
                Actor(user_id=user_id),
                body["token"],
                [(int(v), int(q)) for v, q in body["lines"]],
                body["key"],
                inputs.Address(**body["address"]),
                reads=services.read_sessionmaker,
            )
        except DomainError as e:
            return Response(json.dumps({"error": e.code.value}), media_type="application/json")
        return Response(
            json.dumps({"order": placed.order.id, "team": placed.team.team.id}),
            media_type="application/json",
        )

    return Starlette(
        routes=[
            Route("/vote", vote, methods=["POST"]),
            Route("/preorder", place, methods=["POST"]),
            Route("/join", join, methods=["POST"]),
        ],
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes),
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
