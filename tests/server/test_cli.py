"""The README's first line, for real: `c2m serve` with embedded servers, stop, start again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

LOGIN = {
    "query": 'mutation { loginWithWechat(code: "cli-user") { '
    "session { accessToken user { id } } } }"
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _c2m(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )


def _processes_using(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(str(data_dir) in part for part in proc.info["cmdline"] or []):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("C2M_")}
    env.update({"C2M_DATA_DIR": str(tmp_path / "data"), "C2M_PORT": str(_free_port())})
    yield env
    for proc in _processes_using(tmp_path / "data"):  # never leave a server behind
        proc.kill()


def _start(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve"],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{env['C2M_PORT']}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"c2m serve exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("c2m serve did not become ready")


def _stop(proc: subprocess.Popen[str], how: signal.Signals = signal.SIGINT) -> str:
    proc.send_signal(how)  # SIGINT: what Ctrl-C sends; SIGTERM: systemd, Docker, Kubernetes
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return out


@pytest.mark.slow
def test_serve_keeps_data_across_restarts_and_leaves_nothing_running(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    proc, url = _start(cli_env)
    try:
        first = httpx.post(f"{url}/graphql", json=LOGIN).json()["data"]["loginWithWechat"][
            "session"
        ]
        viewer = httpx.post(
            f"{url}/graphql",
            json={"query": "{ viewer { id } }"},
            headers={"authorization": f"Bearer {first['accessToken']}"},
        ).json()
        assert viewer == {"data": {"viewer": {"id": first["user"]["id"]}}}
    finally:
        out = _stop(proc)
    assert f"{url}/graphql" in out
    assert _processes_using(tmp_path / "data") == []

    proc, url = _start(cli_env)
    try:
        again = httpx.post(f"{url}/graphql", json=LOGIN).json()["data"]["loginWithWechat"][
            "session"
        ]
        assert again["user"]["id"] == first["user"]["id"]
        # Tokens survive a restart too: the signing key is kept in the data dir.
        viewer = httpx.post(
            f"{url}/graphql",
            json={"query": "{ viewer { id } }"},
            headers={"authorization": f"Bearer {first['accessToken']}"},
        ).json()
        assert viewer == {"data": {"viewer": {"id": first["user"]["id"]}}}
    finally:
        out = _stop(proc, signal.SIGTERM)
    assert "Embedded servers stopped." in out
    assert _processes_using(tmp_path / "data") == []


@pytest.mark.slow
def test_create_operator_and_migrate(cli_env: dict[str, str]) -> None:
    migrated = _c2m("migrate", env=cli_env)
    assert migrated.returncode == 0, migrated.stderr
    proc, url = _start(cli_env)
    try:
        # While `c2m serve` runs, other commands use its embedded servers.
        made = _c2m("create-operator", "--openid", "boss", "--name", "Boss", env=cli_env)
        assert made.returncode == 0, made.stderr
        token = made.stdout.strip().rsplit(" ", 1)[-1]
        viewer = httpx.post(
            f"{url}/graphql",
            json={"query": "{ viewer { displayName roles } }"},
            headers={"authorization": f"Bearer {token}"},
        ).json()
        assert viewer == {
            "data": {"viewer": {"displayName": "Boss", "roles": ["MEMBER", "OPERATOR"]}}
        }
    finally:
        _stop(proc)


def test_help_lists_the_commands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "server.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("serve", "api", "worker", "migrate", "create-operator", "export-schema"):
        assert command in out


@pytest.mark.slow
def test_api_workers_share_one_metrics_view(settings: Any) -> None:
    """`c2m api --workers 2`: two processes answer, and /metrics, whichever answers it, counts
    every process's requests (prometheus multiprocess mode); its directory goes with them."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("C2M_", "PROMETHEUS_"))}
    env.update(
        {
            "C2M_DATABASE_URL": settings.database_url,
            "C2M_REDIS_URL": settings.redis_url,
            "C2M_SECRET_KEY": settings.secret_key,
            "C2M_ENV": "test",
            "C2M_PORT": str(port),
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "api", "--workers", "2"],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert time.monotonic() < deadline and proc.poll() is None, "c2m api did not start"
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        children = psutil.Process(proc.pid).children(recursive=True)
        workers = [c for c in children if "spawn" in " ".join(c.cmdline())]
        assert len(workers) == 2
        metrics_dir = workers[0].environ()["PROMETHEUS_MULTIPROC_DIR"]
        for _ in range(30):  # a new connection each time: both processes take some
            r = httpx.post(f"{url}/graphql", json={"query": "query WorkersProbe { __typename }"})
            assert r.json() == {"data": {"__typename": "Query"}}
        for _ in range(6):
            text = httpx.get(f"{url}/metrics").text
            counted = [
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("c2m_graphql_operations_total{")
                and 'operation="WorkersProbe"' in line
            ]
            assert sum(counted) == 30, text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert not Path(metrics_dir).exists()
