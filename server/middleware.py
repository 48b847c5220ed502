"""Pure ASGI middleware (not BaseHTTPMiddleware, which breaks contextvars)."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.logging import request_id_var
from infra.metrics import HTTP_LATENCY, HTTP_REQUESTS, path_label

log = logging.getLogger("c2m.http")
access = logging.getLogger("c2m.access")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _series(method: str, path: str, status: int) -> tuple[Any, Any]:
    """The labelled metric children of a request, looked up once (``labels`` takes a lock)."""
    label = path_label(path)
    key = (method if method in _METHODS else "OTHER", label, status)
    found = _SERIES.get(key)
    if found is None:
        found = (
            HTTP_REQUESTS.labels(key[0], label, str(status)),
            HTTP_LATENCY.labels(key[0], label),
        )
        if len(_SERIES) < 1000:  # labels are a handful of paths, methods and statuses
            _SERIES[key] = found
    return found


class _TooLarge(Exception):
    pass


class RequestIdMiddleware:
    """Takes a sane ``X-Request-ID`` from the caller or makes one; logs and echoes it."""

    def __init__(self, app: ASGIApp, access_log: bool = False) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else os.urandom(16).hex()
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if scope["type"] == "http":
                elapsed = time.perf_counter() - started
                count, latency = _series(scope["method"], scope["path"], status)
                count.inc()
                latency.observe(elapsed)
                if self.access_log:
                    client = scope.get("client")
                    access.info(
                        "%s %s %s %.1fms",
                        scope["method"],
                        scope["path"],
                        status,
                        elapsed * 1000,
                        extra={
                            "method": scope["method"],
                            "path": scope["path"],
                            "status": status,
                            "duration_ms": round(elapsed * 1000, 1),
                            "client": client[0] if client else None,
                        },
                    )
            request_id_var.reset(token)


class BodySizeLimitMiddleware:
    """Refuses request bodies over the limit with 413, by Content-Length or while streaming.
    Routes under ``exempt_prefixes`` (file uploads) enforce limits of their own."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            self.exempt_prefixes and scope["path"].startswith(self.exempt_prefixes)
        ):
            await self.app(scope, receive, send)
            return
        length = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
                break
        if length is not None:
            try:
                too_big = int(length) > self.max_bytes
            except ValueError:
                too_big = True
            if too_big:
                await self._reject(send)
                return
            # The HTTP server reads exactly Content-Length bytes: nothing more to watch.
            await self.app(scope, receive, send)
            return

        received = 0
        response_started = False
        TooLarge = _TooLarge

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except TooLarge:
            if not response_started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            {
                "errors": [
                    {
                        "message": f"The request body is larger than {self.max_bytes} bytes.",
                        "extensions": {"code": "PAYLOAD_TOO_LARGE"},
                    }
                ]
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; media-src 'self' https:; "
    # https: for uploads straight to an S3 bucket (presigned URLs on another origin).
    "connect-src 'self' ws: wss: https:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


class ConsoleFiles:
    """The console's static files (shipped inside the package), compressed, with headers that
    keep other sites from framing it or running scripts in it."""

    def __init__(self, directory: Path) -> None:
        from starlette.middleware.gzip import GZipMiddleware
        from starlette.staticfiles import StaticFiles

        self.app = GZipMiddleware(StaticFiles(directory=directory, html=True), minimum_size=512)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"content-security-policy", CONSOLE_CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-cache"),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)
