"""What the storm benchmarks share: servers, the two processes under test, the report."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from server.embedded import EmbeddedServices
from server.migrate import upgrade

SECRET = "bench-secret-" + "x" * 40


def gid(kind: str, pk: int) -> str:
    return base64.b64encode(f"{kind}:{pk}".encode()).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def server_env(db_url: str, redis_url: str) -> dict[str, str]:
    """The environment a benchmarked server runs with."""
    return {
        **os.environ,
        "C2M_DATABASE_URL": db_url,
        "C2M_REDIS_URL": redis_url,
        "C2M_SECRET_KEY": SECRET,
        "C2M_LOG_LEVEL": "WARNING",
        "C2M_ENV": "test",
    }


def start_api(db_url: str, redis_url: str, port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    """`c2m api` on ``port`` (one process unless ``workers`` says more), ready to answer."""
    api = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "api", "--port", str(port)]
        + (["--workers", str(workers)] if workers > 1 else []),
        env=server_env(db_url, redis_url),
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", api)
    except BaseException:
        stop(api)
        raise
    return api


def cpu_seconds(proc: subprocess.Popen[bytes]) -> float:
    """CPU time (user + system) used so far by ``proc`` and the processes it spawned (the
    ``--workers`` of `c2m api`): what a run cost the API, whatever else shared the cores."""
    import psutil  # noqa: PLC0415 - a bench-only dependency

    root = psutil.Process(proc.pid)
    total = 0.0
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextmanager
def api_and_bare(
    db_url: str, redis_url: str, workers: int = 1
) -> Iterator[tuple[subprocess.Popen[bytes], int, subprocess.Popen[bytes], int]]:
    """`c2m api` (one process unless ``workers`` says more) and the bare Starlette endpoints
    (one process), on free loopback ports."""
    gql_port, bare_port = free_port(), free_port()
    api = start_api(db_url, redis_url, gql_port, workers)
    bare = subprocess.Popen(
        [sys.executable, "-m", "bench.bare_vote", str(bare_port)], env=server_env(db_url, redis_url)
    )
    try:
        wait_ready(f"http://127.0.0.1:{bare_port}/", bare)
        yield api, gql_port, bare, bare_port
    finally:
        for proc in (api, bare):
            stop(proc)


def run(storm: Callable[[Any, str, str], Awaitable[dict[str, Any]]], args: Any) -> None:
    """Run a storm against C2M_DATABASE_URL/C2M_REDIS_URL, or embedded servers in a temporary
    directory, and print the report with the machine and the date."""
    db_url, redis_url = os.environ.get("C2M_DATABASE_URL"), os.environ.get("C2M_REDIS_URL")
    embedded = None
    data_dir = Path(tempfile.mkdtemp(prefix="c2m-bench-"))
    if not (db_url and redis_url):
        embedded = EmbeddedServices(data_dir)
        embedded.start()
        db_url, redis_url = embedded.database_url, embedded.redis_url
    assert db_url and redis_url
    try:
        upgrade(db_url)
        results = asyncio.run(storm(args, db_url, redis_url))
    finally:
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(data_dir, ignore_errors=True)  # the servers' data dir, and nothing else
    results["machine"] = (
        f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"
    )
    results["date"] = datetime.now(UTC).date().isoformat()
    print(json.dumps(results, indent=2))


async def analyze(engine: Any) -> None:
    """Statistics for the rows just seeded, as a live database has them (autovacuum would
    gather them a minute later, in the middle of the first path measured)."""
    from sqlalchemy import text

    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE"))


def storm_options(parser: Any, profile_seconds: int = 20) -> None:
    """The options every storm takes: py-spy profiles of its servers, and the API processes."""
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="write py-spy profiles (folded stacks) of both servers; read with bench.layers",
    )
    parser.add_argument("--profile-seconds", type=int, default=profile_seconds)
    parser.add_argument(
        "--workers", type=int, default=1, help="API processes (`c2m api --workers N`)"
    )


def profile(args: Any, procs: dict[str, subprocess.Popen[bytes]]) -> list[subprocess.Popen[bytes]]:
    """py-spy samples each server while it takes the storm (for "where does time go")."""
    if not getattr(args, "profile", None):
        return []
    Path(args.profile).mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before the clock
    spy = str(Path(sys.executable).with_name("py-spy"))
    return [
        subprocess.Popen(
            [spy, "record", "--pid", str(p.pid), "--format", "raw", "--duration",
             str(args.profile_seconds), "--rate", "200", "--subprocesses", "-o",
             str(Path(args.profile) / f"{name}.folded")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, p in procs.items()
    ]  # fmt: skip


async def seed_audience(conn: Any, tag: str, members: int) -> tuple[int, list[int], int]:
    """A KOC, ``members`` members and the KOC's community they all belong to (asyncpg, in the
    caller's transaction): (koc, members, community)."""
    koc = await conn.fetchval(
        "INSERT INTO users (wechat_openid, display_name, is_koc, is_operator)"
        " VALUES ($1, 'KOC', true, false) RETURNING id",
        f"{tag}-koc",
    )
    users = [
        r[0]
        for r in await conn.fetch(
            "INSERT INTO users (wechat_openid, display_name, is_koc, is_operator)"
            " SELECT $1 || '-' || g, 'm' || g, false, false"
            " FROM generate_series(1, $2) g RETURNING id",
            tag,
            members,
        )
    ]
    community = await conn.fetchval(
        "INSERT INTO communities (owner_id, name, description) VALUES ($1, $2, '') RETURNING id",
        koc,
        tag,
    )
    await conn.execute(
        "INSERT INTO community_members (community_id, user_id, status)"
        " SELECT $1, u, 'ACTIVE' FROM unnest($2::bigint[]) u",
        community,
        users,
    )
    return int(koc), [int(u) for u in users], int(community)
