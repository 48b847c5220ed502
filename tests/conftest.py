"""Real PostgreSQL and Redis for the whole suite.

One embedded PostgreSQL and Valkey per session (or ``C2M_TEST_DATABASE_URL`` /
``C2M_TEST_REDIS_URL``). Migrations run once into a template database; every test gets a fresh
database copied from it (so code that commits, workers and races all behave as in production)
and a flushed Redis database.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from redis.asyncio import Redis

from domain.payments.provider import sandbox_keys
from infra.config import Settings
from server.embedded import EmbeddedServices
from server.migrate import upgrade

TEMPLATE_DB = "c2m_test_template"
_counter = itertools.count()


@dataclass
class TestServers:
    database_url: str  # asyncpg-style SQLAlchemy URL of the admin database
    redis_url: str

    def db_url(self, name: str) -> str:
        parts = urlsplit(self.database_url)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def raw_dsn(self, name: str) -> str:
        return self.db_url(name).replace("postgresql+asyncpg://", "postgresql://", 1)


def _with_driver(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestServers]:
    db = os.environ.get("C2M_TEST_DATABASE_URL")
    rd = os.environ.get("C2M_TEST_REDIS_URL")
    embedded = None
    workdir = None
    if not (db and rd):
        # Not under pytest's basetemp: pytest prunes old basetemps, and a second pytest run on
        # the machine must not delete the data dir of a server this one is using.
        workdir = Path(tempfile.mkdtemp(prefix="c2m-test-servers-"))
        embedded = EmbeddedServices(workdir)
        embedded.start(postgres=not db, redis=not rd)
        db = db or embedded.database_url
        rd = rd or embedded.redis_url
    assert db and rd
    s = TestServers(_with_driver(db), rd)
    if embedded is not None and embedded.database_url:
        _speed_up_throwaway_postgres(s)
    _create_template(s)
    try:
        yield s
    finally:
        if embedded is not None:
            embedded.stop()
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)


def _speed_up_throwaway_postgres(s: TestServers) -> None:
    """The suite's own server holds nothing worth an fsync: a crash of PostgreSQL (the faults
    the tests inject) loses nothing without it, only a crash of the machine would."""

    async def configure() -> None:
        conn = await asyncpg.connect(s.raw_dsn("postgres"))
        try:
            await conn.execute("ALTER SYSTEM SET fsync = off")
            await conn.execute("ALTER SYSTEM SET full_page_writes = off")
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()

    asyncio.run(configure())


def _create_template(s: TestServers) -> None:
    async def recreate() -> None:
        conn = await asyncpg.connect(s.raw_dsn("postgres"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
        finally:
            await conn.close()

    asyncio.run(recreate())
    upgrade(s.db_url(TEMPLATE_DB))


@pytest.fixture
async def database(servers: TestServers) -> AsyncIterator[str]:
    """A fresh, migrated database for this test; returns its SQLAlchemy URL."""
    name = f"c2m_test_{os.getpid()}_{next(_counter)}"
    admin = await asyncpg.connect(servers.raw_dsn("postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}" STRATEGY WAL_LOG')
    finally:
        await admin.close()
    try:
        yield servers.db_url(name)
    finally:
        admin = await asyncpg.connect(servers.raw_dsn("postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def redis_url(servers: TestServers) -> AsyncIterator[str]:
    client = Redis.from_url(servers.redis_url)
    await client.flushdb()
    await client.aclose()
    yield servers.redis_url


@pytest.fixture(scope="session")
def sandbox_keys_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sandbox payment provider's keys, made once per run (RSA keys take ~0.3 s to make)."""
    folder = tmp_path_factory.mktemp("sandbox-keys")
    sandbox_keys(folder)
    return folder / "sandbox-pay.json"


@pytest.fixture
def settings(database: str, redis_url: str, tmp_path: Path, sandbox_keys_file: Path) -> Settings:
    shutil.copy(sandbox_keys_file, tmp_path / sandbox_keys_file.name)
    return Settings(
        env="test",
        database_url=database,
        redis_url=redis_url,
        data_dir=tmp_path,
        secret_key="test-secret-key-" + "x" * 32,
        db_pool_size=5,
    )


class GraphQLClient:
    """Posts GraphQL documents over HTTP, as a mini-program would."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.token: str | None = None

    async def post(self, body: Any, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        token = token or self.token
        if token:
            headers["authorization"] = f"Bearer {token}"
        return await self.http.post("/graphql", json=body, headers=headers, **kw)

    async def query(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        resp = await self.post({"query": query, "variables": variables or {}}, token=token)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def login(self, code: str) -> dict[str, Any]:
        data = await self.query(
            "mutation($c: String!) { loginWithWechat(code: $c) { "
            "session { accessToken refreshToken user { id roles } } errors { code message } } }",
            {"c": code},
        )
        payload = data["loginWithWechat"]
        assert payload["errors"] == [], payload
        return payload["session"]


@pytest.fixture
async def started_app(settings: Settings) -> AsyncIterator[tuple[Any, Any]]:
    from server.app import create_app

    application = create_app(settings)
    async with LifespanManager(application) as manager:
        yield manager.app, application


@pytest.fixture
def app(started_app: tuple[Any, Any]) -> Any:
    """The ASGI app with its lifespan state, as a server would run it."""
    return started_app[0]


@pytest.fixture
def services(started_app: tuple[Any, Any]) -> Any:
    """The app's long-lived services (sessionmaker, Redis, broker, ...)."""
    return started_app[1].state.services


@pytest.fixture
async def client(app: Any) -> AsyncIterator[GraphQLClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://c2m.test") as http:
        yield GraphQLClient(http)


@pytest.fixture
async def operator_token(settings: Settings, client: GraphQLClient) -> str:
    """A signed-in operator, made the way a new install makes its first one."""
    from server.cli import _create_operator

    assert settings.database_url
    token, _ = await _create_operator(settings, settings.database_url, "op-root", "Root")
    return token
