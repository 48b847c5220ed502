"""The Starlette application: GraphQL at /graphql, health, readiness and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypedDict

import httpx
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from domain import jobs
from domain.drops.storage import PUBLISHED, LocalMediaStore, UploadRejected
from domain.drops.uploads import ALLOWED_TYPES
from domain.errors import DomainError
from domain.payments import webhook
from domain.production import sheets
from infra import heartbeat, tracing
from infra.adapters import NOTIFY_PATH
from infra.config import Settings
from infra.logging import request_id_var
from infra.metrics import PAYMENT_NOTIFICATIONS, sample_pools
from infra.metrics import exposition as metrics_text
from infra.outages import OutageLog, is_outage
from infra.services import Services, open_services
from schema.build import build_schema, document_limits
from schema.fast import FastLane
from schema.ids import parse_pk
from server.auth import authenticate
from server.graphql_view import C2MGraphQL
from server.middleware import BodySizeLimitMiddleware, ConsoleFiles, RequestIdMiddleware
from server.persisted import PersistedDocuments, load_manifest

log = logging.getLogger("c2m.app")
CONSOLE_DIR = Path(__file__).resolve().parent / "console"
CONSOLE_MANIFEST = CONSOLE_DIR / "persisted-documents.json"
MEDIA_TYPES = {ext: mime for kind in ALLOWED_TYPES.values() for mime, ext in kind.items()}
MEDIA_NAME = re.compile(r"[0-9a-f]{32}\.(" + "|".join(MEDIA_TYPES) + ")")
OUTAGES = OutageLog(log)


async def _sample_pools(services: Services) -> None:
    """Pool gauges for /metrics, every few seconds (cheap counters, no I/O)."""
    while True:
        sample_pools(services.engine.sync_engine.pool, services.redis.connection_pool)
        await asyncio.sleep(5)


class State(TypedDict):
    services: Services


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    settings.check()
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("C2M_DATABASE_URL and C2M_REDIS_URL must be set for the API process")
    database_url, redis_url = settings.database_url, settings.redis_url
    tracing.setup_tracing(settings, "c2m-api")
    schema = build_schema(settings)
    # The console's own documents are always known (it works in trusted-documents mode too).
    manifest = {
        **load_manifest(CONSOLE_MANIFEST),
        **load_manifest(settings.persisted_documents_file),
    }
    holder: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        # How the sandbox provider reaches our webhook: over HTTP at C2M_PUBLIC_URL when set
        # (c2m serve sets it), otherwise through this very app in-process.
        if settings.public_url:
            self_client = httpx.AsyncClient(base_url=settings.public_url, timeout=10)
        else:
            self_client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://c2m.internal", timeout=10
            )

        async def poster(path: str, headers: dict[str, str], body: bytes) -> int:
            return (await self_client.post(path, content=body, headers=headers)).status_code

        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(self_client.aclose)
            services = await stack.enter_async_context(
                open_services(settings, database_url, redis_url, poster=poster)
            )
            persisted = PersistedDocuments(
                services.redis,
                manifest,
                trusted_only=settings.trusted_documents_only,
                ttl_seconds=settings.apq_ttl_seconds,
                max_document_bytes=settings.apq_max_document_bytes,
                per_client_per_minute=settings.apq_registrations_per_minute,
                per_hour=settings.apq_registrations_per_hour,
            )
            holder["view"] = C2MGraphQL(
                schema,
                services,
                persisted,
                FastLane(schema, document_limits(settings), settings.max_tokens)
                if settings.fast_lane
                else None,
                graphql_ide="graphiql" if settings.env == "dev" else None,
                # Queries (not mutations) over GET too: hash-only persisted queries a CDN may
                # cache; a mutation over GET is 405.
                allow_queries_via_get=True,
            )
            app.state.services = services  # for tools and tests; requests use the lifespan state
            sampler = asyncio.create_task(_sample_pools(services))
            stack.callback(sampler.cancel)
            app.state.graphql_view = holder["view"]
            holder["services"] = services
            # Everything built so far lives as long as the process: keep it out of the garbage
            # collector's sweeps (each full sweep of it was a pause every request in flight felt).
            gc.collect()
            gc.freeze()
            yield {"services": services}

    class GraphQLEndpoint:
        """An ASGI app (not a function), so Starlette hands it the raw scope; the view itself
        is built in the lifespan, once the services exist."""

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await holder["view"](scope, receive, send)

    graphql_endpoint = GraphQLEndpoint()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        services: Services = request.state.services
        checks: dict[str, str] = {}

        async def check_pg() -> None:
            async with services.sessionmaker() as session:
                await session.execute(text("SELECT 1"))

        async def check_redis() -> None:
            await services.redis.ping()

        for name, check in (("postgres", check_pg), ("redis", check_redis)):
            try:
                await asyncio.wait_for(check(), timeout=2)
                checks[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - readiness reports any failure
                checks[name] = f"error: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        body: dict[str, Any] = {"status": "ok" if ok else "unavailable", "checks": checks}
        if checks["postgres"] == "ok":
            # Informational (the API serves without workers; follow-ups wait in the outbox).
            async with services.sessionmaker() as session:
                beats = await heartbeat.heartbeats(session)
                stuck = await jobs.stuck(session)
            body["workers"] = {
                "alive": sum(b.alive for b in beats),
                "reaching_queue": sum(b.alive and b.queue_ok for b in beats),
            }
            body["stuck_jobs"] = stuck
        return JSONResponse(body, status_code=200 if ok else 503)

    async def payment_notify(request: Request) -> Response:
        """WeChat Pay (and the sandbox) notifications: verified, idempotent, thin."""
        services: Services = holder["services"]
        body = await request.body()
        try:
            async with services.unit_of_work() as session:
                outcome = await webhook.handle_notification(
                    session, services.payments, request.headers, body
                )
        except webhook.NotificationRejected as exc:
            PAYMENT_NOTIFICATIONS.labels("rejected").inc()
            log.warning("payment notification rejected: %s", exc.message)
            return JSONResponse({"code": "FAIL", "message": exc.message}, status_code=400)
        PAYMENT_NOTIFICATIONS.labels(webhook.outcome_kind(outcome)).inc()
        log.info("payment notification: %s", outcome)
        return Response(status_code=204)

    async def batch_sheet(request: Request) -> Response:
        """A batch's CSV sheets, for its factory (API key) or the drop's KOC: with the
        Authorization header, or through a signed link (``?link=``, ``Batch.sheetUrl``)."""
        services: Services = holder["services"]
        batch_id = parse_pk(request.path_params["batch_id"])
        kind = request.path_params["sheet"]
        link = request.query_params.get("link")
        if link is not None:
            linked = (
                services.sheet_links.verify(link, batch_id, kind)
                if batch_id is not None and kind in sheets.SHEETS
                else None
            )
            if linked is None:
                return JSONResponse(
                    {"error": "This link is not valid or has expired.", "code": "FORBIDDEN"},
                    status_code=403,
                )
            actor = linked
        else:
            actor, error = await authenticate(services, request.headers.get("authorization"))
            if actor.is_anonymous:
                return JSONResponse(
                    {
                        "error": (error.message if error else "Sign in first."),
                        "code": "UNAUTHENTICATED",
                    },
                    status_code=401,
                )
        try:
            if batch_id is None or kind not in sheets.SHEETS:
                raise DomainError("No such batch.")
            async with services.read_sessionmaker() as session:
                body = await sheets.sheet(session, actor, batch_id, kind)
        except DomainError:
            return JSONResponse({"error": "No such batch.", "code": "NOT_FOUND"}, status_code=404)
        name = f"batch-{batch_id}" + ("" if kind == "sheet" else f"-{kind}") + ".csv"
        return Response(
            body.encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "private, no-store",
            },
        )

    async def media_upload(request: Request) -> Response:
        """The embedded store's upload URL: the body streamed to disk, never past the limit the
        signed token names (S3 takes uploads itself when configured)."""
        store = holder["services"].media_store
        if not isinstance(store, LocalMediaStore):
            return JSONResponse({"code": "NOT_FOUND"}, status_code=404)
        try:
            key, limit = store.upload_claims(request.path_params["token"])
            length = request.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                raise UploadRejected(413, f"The file is larger than {limit} bytes.")
            size = await store.receive(key, limit, request.stream())
        except UploadRejected as exc:
            return JSONResponse(
                {"code": "PAYLOAD_TOO_LARGE" if exc.status == 413 else "FORBIDDEN",
                 "message": exc.message},
                status_code=exc.status,
            )  # fmt: skip
        return JSONResponse({"size": size})

    async def media_file(request: Request) -> Response:
        """Published media of the embedded store, with the type read from their bytes."""
        store = holder["services"].media_store
        name = request.path_params["name"]
        found = MEDIA_NAME.fullmatch(name)
        if not isinstance(store, LocalMediaStore) or found is None:
            return JSONResponse({"code": "NOT_FOUND"}, status_code=404)
        path = store.path_of(f"{PUBLISHED}{name}")
        if not await asyncio.to_thread(path.is_file):
            return JSONResponse({"code": "NOT_FOUND"}, status_code=404)
        return FileResponse(
            path,
            media_type=MEDIA_TYPES[found.group(1)],
            headers={
                "Cache-Control": "public, max-age=31536000, immutable",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def metrics(request: Request) -> Response:
        return Response(metrics_text(), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route("/graphql", graphql_endpoint, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql_endpoint),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route(NOTIFY_PATH, payment_notify, methods=["POST"]),
        Route("/factory/batches/{batch_id}/{sheet}.csv", batch_sheet),
        Route(LocalMediaStore.UPLOAD_PATH + "{token}", media_upload, methods=["PUT"]),
        Route("/console", lambda request: RedirectResponse("/console/", status_code=308)),
        Mount("/console", app=ConsoleFiles(CONSOLE_DIR)),
        Route("/" + PUBLISHED + "{name}", media_file, methods=["GET", "HEAD"]),
    ]
    middleware = [
        Middleware(RequestIdMiddleware, access_log=settings.access_log),
        Middleware(
            BodySizeLimitMiddleware,
            max_bytes=settings.max_body_bytes,
            exempt_prefixes=(LocalMediaStore.UPLOAD_PATH,),
        ),
    ]

    async def failure(request: Request, exc: Exception) -> Response:
        """Outside /graphql too, a client never sees a trace: an outage is 503 (retry), anything
        else 500 with the request id that the log line carries."""
        # This handler runs outside the request-id middleware: take the id from the scope.
        request_id = str(request.scope.get("state", {}).get("request_id", "-"))
        headers = {"X-Request-ID": request_id}
        if is_outage(exc):
            OUTAGES.report(request.url.path, exc)
            return JSONResponse(
                {"code": "UNAVAILABLE", "message": "Briefly unavailable; retry."},
                status_code=503,
                headers={**headers, "Retry-After": "1"},
            )
        token = request_id_var.set(request_id)
        try:
            log.error("unexpected error on %s", request.url.path, exc_info=exc)
        finally:
            request_id_var.reset(token)
        return JSONResponse(
            {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
            status_code=500,
            headers=headers,
        )

    return Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={Exception: failure},
    )
