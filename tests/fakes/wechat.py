"""A local fake of WeChat's HTTP API (a real HTTP server on 127.0.0.1) for contract tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Handler = Callable[[str, dict[str, str], bytes, dict[str, str]], tuple[int, dict[str, Any]]]


@dataclass
class FakeWeChat:
    base_url: str = ""
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler


def code2session_handler(valid: dict[str, str], app_id: str, secret: str) -> Handler:
    """Behaves like /sns/jscode2session: known codes map to openids, others are 40029."""

    def handle(
        method: str, query: dict[str, str], body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        if query.get("appid") != app_id or query.get("secret") != secret:
            return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}
        if query.get("grant_type") != "authorization_code":
            return 200, {"errcode": 40002, "errmsg": "invalid grant_type"}
        code = query.get("js_code", "")
        if code == "boom":
            return 200, {"errcode": -1, "errmsg": "system error"}
        if code not in valid:
            return 200, {"errcode": 40029, "errmsg": "invalid code"}
        return 200, {"openid": valid[code], "session_key": "sk", "unionid": "u-" + valid[code]}

    return handle


@contextmanager
def fake_wechat() -> Iterator[FakeWeChat]:
    fake = FakeWeChat()

    class RequestHandler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            fake.requests.append((method, parts.path, query, body))
            handler = fake.routes.get((method, parts.path))
            if handler is None:
                status, payload = 404, {"errcode": 404, "errmsg": "no route"}
            else:
                status, payload = handler(method, query, body, headers)
            data = json.dumps(payload).encode()
            self.send_response(status)
            # WeChat really answers JSON bodies as text/plain.
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
