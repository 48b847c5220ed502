"""Optional OpenTelemetry: `c2m api` with C2M_OTEL_ENDPOINT exports its spans to an OTLP/HTTP
collector (a local fake that records what it receives); without it nothing is set up."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from infra import tracing
from infra.config import Settings
from tests.server.test_cli import _free_port


@pytest.fixture
def collector() -> Iterator[tuple[str, list[bytes]]]:
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("content-length", 0))
            if self.path == "/v1/traces":
                received.append(self.rfile.read(length))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_an_api_with_an_endpoint_exports_its_spans(
    settings: Settings, collector: tuple[str, list[bytes]], tmp_path: Path
) -> None:
    endpoint, received = collector
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("C2M_")}
    env.update(
        {
            "C2M_DATABASE_URL": settings.database_url or "",
            "C2M_REDIS_URL": settings.redis_url or "",
            "C2M_DATA_DIR": str(tmp_path),
            "C2M_SECRET_KEY": settings.secret_key or "",
            "C2M_PORT": str(port),
            "C2M_OTEL_ENDPOINT": endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "api"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        body = {"query": "query TracedCommunities { myCommunities(first: 1) { nodes { id } } }"}
        login = httpx.post(
            f"{url}/graphql",
            json={
                "query": 'mutation { loginWithWechat(code: "traced") { session { accessToken } } }'
            },
        ).json()["data"]["loginWithWechat"]["session"]["accessToken"]
        httpx.post(f"{url}/graphql", json=body, headers={"authorization": f"Bearer {login}"})
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            sent = b"".join(received)
            if b"TracedCommunities" in sent and b"postgresql" in sent:
                break
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    sent = b"".join(received)
    assert b"c2m-api" in sent  # the service
    assert b"TracedCommunities" in sent  # strawberry's span of the operation
    assert b"postgresql" in sent  # SQLAlchemy spans of its statements


def test_without_an_endpoint_nothing_is_set_up(settings: Settings) -> None:
    assert settings.otel_endpoint is None
    assert tracing.setup_tracing(settings, "c2m-api") is False
    assert tracing.schema_extensions(settings) == []
