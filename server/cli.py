"""The ``c2m`` command line."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import click
import uvicorn

from domain.identity import roles
from domain.identity.tokens import TokenIssuer
from infra import heartbeat
from infra.config import Settings
from infra.logging import configure_logging
from infra.metrics import MULTIPROCESS_DIR
from infra.resources import make_engine, make_sessionmaker
from schema.build import build_schema
from server.app import create_app
from server.embedded import EmbeddedServices
from server.migrate import upgrade
from workers.main import run_worker


@contextlib.contextmanager
def _servers(settings: Settings) -> Iterator[tuple[str, str]]:
    """The configured URLs; or the embedded servers another c2m process already runs on this
    data dir; or embedded servers started (and stopped) around the block."""
    if settings.database_url and settings.redis_url:
        yield settings.database_url, settings.redis_url
        return
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    running = data_dir / "embedded.json"
    handle: IO[str] = open(data_dir / ".lock", "w")  # noqa: SIM115
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # `c2m serve` is running here: use its servers (e.g. create-operator meanwhile).
            try:
                urls = json.loads(running.read_text())
            except (OSError, ValueError):
                raise click.ClickException(
                    f"another c2m process is starting the embedded servers in {data_dir}; "
                    "try again in a moment"
                ) from None
            yield (
                settings.database_url or urls["database_url"],
                settings.redis_url or urls["redis_url"],
            )
            return
        embedded = EmbeddedServices(data_dir)
        click.echo(f"Starting embedded PostgreSQL and Valkey (data in {data_dir}) ...")
        try:
            try:
                embedded.start(postgres=not settings.database_url, redis=not settings.redis_url)
            except ImportError as exc:
                raise click.ClickException(
                    "this installation has no embedded servers (the Docker image leaves them "
                    "out): set C2M_DATABASE_URL and C2M_REDIS_URL"
                ) from exc
            db = settings.database_url or embedded.database_url
            rd = settings.redis_url or embedded.redis_url
            assert db and rd
            running.write_text(json.dumps({"database_url": db, "redis_url": rd}))
            yield db, rd
        finally:
            running.unlink(missing_ok=True)
            embedded.stop()
            click.echo("Embedded servers stopped.")
    finally:
        handle.close()


def _stop_on_sigterm() -> None:
    """SIGTERM (what systemd, Docker and Kubernetes send) stops as cleanly as Ctrl-C: it becomes
    SystemExit, so every ``finally`` runs (the worker is told to stop and returns its jobs to the
    queue, the embedded servers are stopped). Uvicorn finishes in-flight requests first, then
    re-raises the signal it caught, which lands here."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


def _settings(host: str | None = None, port: int | None = None) -> Settings:
    settings = Settings()
    updates: dict[str, object] = {}
    if host is not None:
        updates["host"] = host
    if port is not None:
        updates["port"] = port
    settings = settings.model_copy(update=updates) if updates else settings
    configure_logging(settings.log_level, settings.log_format)
    try:
        settings.check()
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    return settings


def _run_api(settings: Settings, db: str, rd: str, workers: int = 1) -> None:
    upgrade(db)
    public = settings.public_url or f"http://{settings.host}:{settings.port}"
    settings = settings.model_copy(
        update={"database_url": db, "redis_url": rd, "public_url": public}
    )
    click.echo(
        f"c2m GraphQL API: http://{settings.host}:{settings.port}/graphql",
    )
    sys.stdout.flush()
    if workers > 1:
        os.environ["C2M_DATABASE_URL"] = db
        os.environ["C2M_REDIS_URL"] = rd
        os.environ["C2M_PUBLIC_URL"] = public
        # Metrics in multiprocess mode: every process writes here, /metrics sums them.
        own_dir = not os.environ.get(MULTIPROCESS_DIR)
        if own_dir:
            os.environ[MULTIPROCESS_DIR] = tempfile.mkdtemp(prefix="c2m-metrics-")
        try:
            uvicorn.run(
                "server.app:create_app",
                factory=True,
                host=settings.host,
                port=settings.port,
                workers=workers,
                log_config=None,
                access_log=False,
            )
        finally:
            if own_dir:
                shutil.rmtree(os.environ.pop(MULTIPROCESS_DIR), ignore_errors=True)
        return
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


@click.group(
    help="c2m: a C2M pre-sale and group-buy platform with a GraphQL API.\n\n"
    "With no C2M_DATABASE_URL / C2M_REDIS_URL set, commands start an embedded "
    "PostgreSQL and Valkey whose data lives in C2M_DATA_DIR."
)
@click.version_option(package_name="c2m")
def cli() -> None:
    pass


@cli.command(help="Run everything: migrations, the GraphQL API and a background worker.")
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1, or C2M_HOST).")
@click.option("--port", type=int, default=None, help="Port (default 8000, or C2M_PORT).")
def serve(host: str | None, port: int | None) -> None:
    _stop_on_sigterm()
    settings = _settings(host, port)
    with _servers(settings) as (db, rd):
        env = {**os.environ, "C2M_DATABASE_URL": db, "C2M_REDIS_URL": rd}
        worker = subprocess.Popen([sys.executable, "-m", "server.cli", "worker"], env=env)
        try:
            _run_api(settings, db, rd)
        finally:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()


@cli.command(help="Run the GraphQL API only (no worker).")
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1, or C2M_HOST).")
@click.option("--port", type=int, default=None, help="Port (default 8000, or C2M_PORT).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="API processes (they share nothing but PostgreSQL and Redis); default: one per CPU "
    "core when C2M_ENV=production, else 1.",
)
def api(host: str | None, port: int | None, workers: int | None) -> None:
    _stop_on_sigterm()
    settings = _settings(host, port)
    if workers is None:
        workers = (os.cpu_count() or 1) if settings.env == "production" else 1
    with _servers(settings) as (db, rd):
        _run_api(settings, db, rd, workers)


@cli.command(help="Run a background worker (more workers scale out).")
def worker() -> None:
    settings = _settings()
    with _servers(settings) as (db, rd):
        asyncio.run(run_worker(settings, db, rd))


@cli.command(help="Apply database migrations and exit.")
def migrate() -> None:
    settings = _settings()
    with _servers(settings) as (db, _):
        upgrade(db)
    click.echo("Migrations applied.")


@cli.command(
    "create-operator",
    help="Create (or promote) the account with this WeChat openid as an operator and "
    "print an access token for it.",
)
@click.option("--openid", required=True, help="The WeChat openid (in dev: the login code).")
@click.option("--name", default="", help="Display name.")
def create_operator(openid: str, name: str) -> None:
    settings = _settings()
    with _servers(settings) as (db, _):
        upgrade(db)
        token, user_id = asyncio.run(_create_operator(settings, db, openid, name))
    click.echo(f"Operator ready: user {user_id} (openid {openid}).")
    click.echo(f"Access token (valid {settings.access_token_ttl_seconds}s): {token}")


async def _create_operator(settings: Settings, db: str, openid: str, name: str) -> tuple[str, int]:
    engine = make_engine(settings, db, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            user = await roles.ensure_operator(session, openid, name)
            user_id = user.id
    finally:
        await engine.dispose()
    return TokenIssuer(settings.jwt_secret, settings.access_token_ttl_seconds).issue(
        user_id
    ).token, user_id


@cli.command(
    help="List the workers' heartbeats; exit 1 if none is alive (on this host with --this-host): "
    "a health check for a worker's container."
)
@click.option("--this-host", is_flag=True, help="Only workers running on this host.")
def workers(this_host: bool) -> None:
    settings = _settings()
    with _servers(settings) as (db, _):
        beats = asyncio.run(_heartbeats(settings, db))
    host = heartbeat.this_host()
    shown = [b for b in beats if b.host == host] if this_host else beats
    for b in shown:
        state = "alive" if b.alive else "silent"
        queue = "reaches the queue" if b.queue_ok else "queue unreachable"
        click.echo(f"{b.worker_id}  {state}  {queue}  last seen {b.seen_at:%Y-%m-%d %H:%M:%S}Z")
    if not any(b.alive for b in shown):
        raise click.ClickException("no live worker")


async def _heartbeats(settings: Settings, db: str) -> list[heartbeat.Heartbeat]:
    engine = make_engine(settings, db, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            return await heartbeat.heartbeats(session)
    finally:
        await engine.dispose()


@cli.command(
    "export-schema", help="Print the GraphQL schema (SDL); the repo keeps it in schema.graphql."
)
def export_schema() -> None:
    click.echo(build_schema(Settings()).as_str())


@cli.command(
    "persisted-manifest",
    help="Print the persisted-query manifest (Apollo's format) of GraphQL documents: what "
    "C2M_PERSISTED_DOCUMENTS_FILE loads (the repo keeps clients/persisted-documents.json).",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def persisted_manifest(files: tuple[str, ...]) -> None:
    from server.persisted import build_manifest

    manifest = build_manifest([Path(f).read_text() for f in sorted(files)])
    click.echo(json.dumps(manifest, indent=2, ensure_ascii=False))


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
