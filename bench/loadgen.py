"""A small HTTP/1.1 keep-alive load generator on raw asyncio streams.

Light enough to share a 2-core machine with the server it measures (a full HTTP client library
costs several times more CPU per request). Only for loopback targets; bounded by the number of
requests given and by a wall-clock limit.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

MAX_SECONDS = 300


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    failed: int = 0
    bodies: list[bytes] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)  # per request: seconds since the start
    elapsed: float = 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def rate(self) -> float:
        return (self.ok + self.failed) / self.elapsed if self.elapsed else 0.0


def build_request(
    host: str, port: int, path: str, body: dict[str, object], headers: dict[str, str]
) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
    ] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    chunked = False
    for line in head.split(b"\r\n"):
        low = line.lower()
        if low.startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
        elif low.startswith(b"transfer-encoding:") and b"chunked" in low:
            chunked = True
    if chunked:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
        return status, body
    return status, await reader.readexactly(length)


async def run(
    host: str,
    port: int,
    requests: Sequence[bytes],
    concurrency: int,
    is_ok: Callable[[int, bytes], bool],
    keep_bodies: bool = False,
    stop: asyncio.Event | None = None,
) -> Outcome:
    """Send ``requests`` over ``concurrency`` keep-alive connections (until ``stop`` is set, if
    given: the rest are not sent)."""
    assert host in ("127.0.0.1", "localhost", "::1"), "load tests target loopback only"
    outcome = Outcome()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(requests)):
        queue.put_nowait(i)
    bodies: list[bytes] = [b""] * len(requests)
    finished: list[float] = [0.0] * len(requests)
    deadline = time.monotonic() + MAX_SECONDS
    started = time.perf_counter()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                sent = time.perf_counter()
                writer.write(requests[i])
                status, body = await _read_response(reader)
                now = time.perf_counter()
                outcome.latencies.append(now - sent)
                finished[i] = now - started
                if is_ok(status, body):
                    outcome.ok += 1
                else:
                    outcome.failed += 1
                if keep_bodies:
                    bodies[i] = body
        finally:
            writer.close()

    await asyncio.gather(*[worker() for _ in range(concurrency)])
    outcome.elapsed = time.perf_counter() - started
    outcome.bodies = bodies
    outcome.finished = finished
    return outcome
