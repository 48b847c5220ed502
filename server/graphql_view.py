"""The strawberry view: builds the request context, resolves persisted documents, and answers
HTTP-level problems as GraphQL-shaped JSON instead of plain text."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, cast

import orjson
from cross_web import HTTPException
from graphql import GraphQLError, GraphQLSyntaxError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.types import ExecutionResult

from infra.logging import request_id_var
from infra.metrics import WEBSOCKETS
from infra.outages import is_outage
from infra.services import Services
from schema.context import Context
from schema.fast import FastLane
from server.auth import authenticate
from server.persisted import PersistedDocuments, PersistedError

MAX_JSON_NESTING = 32
REJECTED = "c2m.rejected_document"
GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def _q(params: list[str]) -> float:
    for p in params:
        name, _, value = p.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def negotiate(accept: str | None) -> tuple[str, bool]:
    """The response media type, and whether a document that fails to parse or validate is
    answered 400 (GraphQL over HTTP):

    - ``application/graphql-response+json`` when the client names it and does not prefer
      ``application/json`` (Apollo Client 4, urql): such a document is 400;
    - ``application/json`` when the client names that and prefers it (a legacy client): 200;
    - ``application/json`` with 400 for ``*/*`` or no ``Accept`` at all: the media type every
      client reads, and the status the specification gives past its 2025 watershed (the
      graphql-http audit asks for exactly this pair)."""
    if not accept:
        return JSON, True
    wanted: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = part.split(";")
        media = media.strip().lower()
        if media in (GRAPHQL_RESPONSE, JSON):
            wanted[media] = max(wanted.get(media, 0.0), _q(params))
    json_q, graphql_q = wanted.get(JSON, 0.0), wanted.get(GRAPHQL_RESPONSE, 0.0)
    if graphql_q > 0 and graphql_q >= json_q:
        return GRAPHQL_RESPONSE, True
    if json_q > 0:
        return JSON, False
    return JSON, True


def _nesting(value: object) -> int:
    """How deep JSON nests (iteratively: a hostile depth cannot blow the stack here)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_NESTING:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _document_error(error: GraphQLError) -> GraphQLError:
    if error.extensions and "code" in error.extensions:
        return error
    code = (
        "GRAPHQL_PARSE_FAILED"
        if isinstance(error, GraphQLSyntaxError)
        else ("GRAPHQL_VALIDATION_FAILED")
    )
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        extensions={"code": code},
    )


def _error_body(code: str, message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def client_of(context: Context) -> str:
    """Who is asking, for per-client limits: the member, the factory, or the address."""
    if context.actor.user_id is not None:
        return f"user:{context.actor.user_id}"
    if context.actor.factory_id is not None:
        return f"factory:{context.actor.factory_id}"
    client = context.request.client if context.request is not None else None
    return f"ip:{client.host if client else '-'}"


class TransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with the same rules as HTTP: a subscribe message may name a persisted
    document (``payload.extensions.persistedQuery``) and must, in trusted-documents mode; the
    socket's slot for its identity is given back when it closes."""

    async def handle(self) -> Any:
        try:
            return await super().handle()
        finally:
            cast("C2MGraphQL", self.view).sockets.release(self.context)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        view = cast("C2MGraphQL", self.view)
        payload = message.get("payload") or {}
        extensions = payload.get("extensions")
        try:
            resolved = await view.persisted.resolve(
                payload.get("query"),
                extensions if isinstance(extensions, dict) else None,
                client=client_of(self.context),
            )
            if resolved.query is None:
                raise PersistedError("BAD_REQUEST", "A subscribe message needs a query.", 400)
        except PersistedError as e:
            error = GraphQLError(e.message, extensions={"code": e.code})
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [error.formatted]}
            )
            return
        message["payload"]["query"] = resolved.query
        await super().handle_subscribe(message)


class SocketSlots:
    """At most ``limit`` open sockets per identity (member, factory, or address for anonymous
    sockets) in this API process: one client cannot hold the process's connections."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}

    def acquire(self, context: Context) -> bool:
        key = client_of(context)
        if self._open.get(key, 0) >= self.limit:
            return False
        self._open[key] = self._open.get(key, 0) + 1
        context.loaders["socket_slot"] = key
        WEBSOCKETS.inc()
        return True

    def release(self, context: Context) -> None:
        key = context.loaders.pop("socket_slot", None)
        if key is None:
            return
        WEBSOCKETS.dec()
        left = self._open.get(key, 1) - 1
        if left > 0:
            self._open[key] = left
        else:
            self._open.pop(key, None)


class C2MGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWS

    def __init__(
        self,
        schema: Any,
        services: Services,
        persisted: PersistedDocuments,
        fast: FastLane | None = None,
        **kwargs: Any,
    ) -> None:
        # graphql-transport-ws only: the legacy graphql-ws protocol is not offered.
        super().__init__(schema, subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,), **kwargs)
        self.services = services
        self.persisted = persisted
        self.fast = fast
        settings = services.settings
        self.sockets = SocketSlots(settings.ws_max_sockets_per_identity)
        self.max_subscriptions_per_connection = settings.ws_max_subscriptions_per_socket
        self.connection_init_wait_timeout = timedelta(
            seconds=settings.ws_connection_init_timeout_seconds
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        media_type, reject_400 = negotiate(request.headers.get("accept"))
        if self.fast is not None and scope["method"] == "POST":
            fast = await self._fast_lane(request)
            if fast is not None:
                fast.headers["content-type"] = media_type
                await fast(scope, receive, send)
                return
        try:
            response = await self.run(request)
        except HTTPException as e:
            status = e.status_code
            if isinstance(e.__cause__, InvalidOperationTypeError):
                status = 405  # a mutation over GET, a subscription over POST (use the socket)
            code = "BAD_REQUEST" if status == 400 else f"HTTP_{status}"
            response = JSONResponse(_error_body(code, e.reason), status_code=status)
            if status == 405:
                response.headers["allow"] = "POST" if scope["method"] == "GET" else "GET, POST"
        else:
            # A document that failed to parse or validate: 400, or 200 for legacy
            # application/json clients (GraphQL over HTTP; ``negotiate``).
            if scope.get(REJECTED) and response.status_code == 200 and reject_400:
                response.status_code = 400
        if response.headers.get("content-type", "").startswith(JSON):
            response.headers["content-type"] = media_type
        await response(scope, receive, send)

    async def _fast_lane(self, request: Request) -> Response | None:
        """The response when the fast lane serves this request (``schema/fast.py``), else None
        (and the body stays readable: Starlette keeps it on the request)."""
        assert self.fast is not None
        if not request.headers.get("content-type", "").startswith("application/json"):
            return None
        try:
            body = self.decode_json(await request.body())
        except ValueError:
            return None
        if not isinstance(body, dict):
            return None
        query, extensions = body.get("query"), body.get("extensions")
        if not (query is None or isinstance(query, str)) or not (
            extensions is None or isinstance(extensions, dict)
        ):
            return None
        if query is not None and self.fast.plan(query) is None:
            # A document the lane does not serve (every query, a drop page among them): the
            # executor's, before any of the lane's own work (the token, the persisted lookup).
            return None
        context = await self.get_context(request, response=None)
        try:
            resolved = await self.persisted.resolve(query, extensions, client=client_of(context))
        except PersistedError:
            return None
        plan = self.fast.plan(resolved.query) if resolved.query else None
        if plan is None:
            return None
        operation_name = body.get("operationName")
        if operation_name is not None and (
            plan.operation.name is None or operation_name != plan.operation.name.value
        ):
            return None
        if context.actor.user_id is None:  # anonymous or a bad token: the executor says so
            return None
        result = await self.fast.run(plan, body.get("variables"), context)
        if result is None:
            return None
        if resolved.registration is not None and "errors" not in result:
            try:
                await self.persisted.register(resolved.registration)
            except Exception as e:  # noqa: BLE001
                if not is_outage(e):
                    raise
        if context.retry_after_seconds is not None:  # RATE_LIMITED: 429 with Retry-After
            return Response(
                orjson.dumps(result),
                status_code=429,
                media_type="application/json",
                headers={"Retry-After": str(context.retry_after_seconds)},
            )
        return Response(orjson.dumps(result), media_type="application/json")

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            # The document was rejected before anything ran (syntax, validation, limits): the
            # client must change it, so GraphQL-over-HTTP's 400 rather than 200. A persisted
            # query miss keeps its own status (Apollo clients expect 200 there).
            result.errors = [_document_error(e) for e in result.errors]
            if not any(
                (e.extensions or {}).get("code") == "PERSISTED_QUERY_NOT_FOUND"
                for e in result.errors
            ):
                # In the request's own scope: ``request.state`` can be shared between requests
                # (the lifespan state is copied shallowly, or not at all by some servers).
                request.scope[REJECTED] = True
            # Nothing ran: a request error, whose response has no "data" entry.
            return {"errors": [e.formatted for e in result.errors]}
        return process_result(result)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        actor, error = await authenticate(self.services, request.headers.get("authorization"))
        return Context(
            request=request,
            response=response,
            services=self.services,
            actor=actor,
            auth_error=error,
            request_id=request_id_var.get(),
        )

    async def on_ws_connect(self, context: Context) -> Any:
        """graphql-transport-ws: a token may come in connection_init's payload (browsers cannot
        set headers on a WebSocket): {"Authorization": "Bearer <token>"}."""
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        if isinstance(header, str) and header:
            context.actor, context.auth_error = await authenticate(self.services, header)
        if not self.sockets.acquire(context):
            # Closed with 4403: this identity already holds its sockets in this process.
            raise ConnectionRejectionError({"code": "TOO_MANY_CONNECTIONS"})
        return await super().on_ws_connect(context)

    async def execute_single(  # noqa: PLR0917
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            resolved = await self.persisted.resolve(
                request_data.query, request_data.extensions, client=client_of(context)
            )
        except PersistedError as e:
            if isinstance(sub_response, Response):
                sub_response.status_code = e.status
            return ExecutionResult(
                data=None, errors=[GraphQLError(e.message, extensions={"code": e.code})]
            )
        request_data.query = resolved.query
        result = await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )
        rejected = (
            result.data is None
            and bool(result.errors)
            and all(e.path is None for e in result.errors or [])
        )
        if resolved.registration is not None and not rejected:
            # Kept only once it parsed, validated and passed the limits; a registration that
            # cannot be kept now (Redis away, a limit reached) is simply sent again next time.
            try:
                await self.persisted.register(resolved.registration)
            except Exception as e:  # noqa: BLE001
                if not is_outage(e):
                    raise
        return result

    def encode_json(self, data: object) -> str:
        # Text, not bytes: strawberry sends a str as a WebSocket text frame (what graphql-ws
        # clients read) and bytes as a binary one. The fast lane sends orjson's bytes as they are.
        return orjson.dumps(data).decode()

    def decode_json(self, data: str | bytes) -> object:
        """JSON from a request body or a WebSocket message, by orjson: bytes that are not UTF-8,
        a lone surrogate (``"\\ud800"``), NaN or Infinity, or nesting past orjson's 1,024 levels
        are invalid JSON (``orjson.JSONDecodeError`` is a ``json.JSONDecodeError``), and a value
        nested deeper than ``MAX_JSON_NESTING`` is refused here."""
        value = orjson.loads(data)
        # A value nests no deeper than the brackets its text opens: most bodies open a handful,
        # and only those opening more than the limit are walked.
        opened = (
            data.count(b"{") + data.count(b"[")
            if isinstance(data, bytes)
            else (data.count("{") + data.count("["))
        )
        if opened > MAX_JSON_NESTING and _nesting(value) > MAX_JSON_NESTING:
            raise json.JSONDecodeError(f"nested deeper than {MAX_JSON_NESTING}", "", 0)
        return value

    def parse_json(self, data: str | bytes) -> Any:
        """A request body is one JSON object (batches are off): a number, a string, null or a list
        is a 400 like any other malformed request."""
        value = super().parse_json(data)
        if not isinstance(value, dict):
            raise HTTPException(400, "The request body must be a JSON object.")
        return value
