"""The typed client example in clients/: its documents are valid against the schema, the
committed persisted-query manifest is exactly what `c2m persisted-manifest` makes of them, and a
server that loads it in trusted-documents mode runs them by id (and nothing else)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from graphql import parse, validate

from infra.config import Settings
from schema.build import build_schema
from server.persisted import build_manifest
from tests.conftest import GraphQLClient
from tests.helpers import make_koc

CLIENTS = Path(__file__).resolve().parents[2] / "clients"
MANIFEST = CLIENTS / "persisted-documents.json"


def _documents() -> list[str]:
    return [p.read_text() for p in sorted((CLIENTS / "documents").glob("*.graphql"))]


def test_the_manifest_matches_the_documents(settings: Settings) -> None:
    committed = json.loads(MANIFEST.read_text())
    assert committed == build_manifest(_documents()), (
        "clients/persisted-documents.json is stale: run "
        "`c2m persisted-manifest clients/documents/*.graphql > clients/persisted-documents.json`"
    )
    schema = build_schema(settings)._schema
    for op in committed["operations"]:
        assert validate(schema, parse(op["body"])) == [], op["name"]


@pytest.fixture
async def trusted(settings: Settings) -> AsyncIterator[GraphQLClient]:
    from server.app import create_app

    app = create_app(
        settings.model_copy(
            update={"persisted_documents_file": MANIFEST, "trusted_documents_only": True}
        )
    )
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield GraphQLClient(http)


def _by_id(name: str) -> dict[str, Any]:
    for op in json.loads(MANIFEST.read_text())["operations"]:
        if op["name"] == name:
            return {"persistedQuery": {"version": 1, "sha256Hash": op["id"]}}
    raise KeyError(name)


async def test_a_trusted_server_runs_the_manifest_by_id(trusted: GraphQLClient) -> None:
    login = await trusted.post(
        {"operationName": "Login", "variables": {"code": "typed"}, "extensions": _by_id("Login")}
    )
    session = login.json()["data"]["loginWithWechat"]["session"]
    assert session["user"]["displayName"] is not None
    orders = await trusted.post(
        {"operationName": "MyOrders", "variables": {"first": 5}, "extensions": _by_id("MyOrders")},
        token=session["accessToken"],
    )
    assert orders.json() == {
        "data": {"myOrders": {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}}
    }
    free = await trusted.post({"query": "{ viewer { id } }"}, token=session["accessToken"])
    assert free.status_code == 400


CONSOLE = Path(__file__).resolve().parents[2] / "server" / "console"


async def test_a_console_sign_in_is_approved_from_the_manifest_in_trusted_mode(
    trusted: GraphQLClient, client: GraphQLClient, operator_token: str
) -> None:
    """Nothing but persisted documents: the console starts and completes its sign-in with its
    own documents; the mini-program shows who asks and approves with the clients' manifest."""
    koc = await make_koc(client, operator_token, "typed-koc")
    console = {
        op["name"]: {"persistedQuery": {"version": 1, "sha256Hash": op["id"]}}
        for op in json.loads((CONSOLE / "persisted-documents.json").read_text())["operations"]
    }
    started = await trusted.post(
        {"operationName": "ConsoleStartLogin", "extensions": console["ConsoleStartLogin"]},
        headers={"user-agent": "TypedConsole/1.0"},
    )
    challenge = started.json()["data"]["startConsoleLogin"]["challenge"]
    shown = await trusted.post(
        {
            "operationName": "ConsoleLoginRequest",
            "variables": {"challenge": challenge},
            "extensions": _by_id("ConsoleLoginRequest"),
        },
        token=koc["accessToken"],
    )
    assert shown.json()["data"]["consoleLoginRequest"]["userAgent"] == "TypedConsole/1.0"
    approved = await trusted.post(
        {
            "operationName": "ApproveConsoleLogin",
            "variables": {"challenge": challenge},
            "extensions": _by_id("ApproveConsoleLogin"),
        },
        token=koc["accessToken"],
    )
    assert approved.json()["data"]["approveConsoleLogin"] == {"approved": True, "errors": []}
    done = await trusted.post(
        {
            "operationName": "ConsoleCompleteLogin",
            "variables": {"challenge": challenge},
            "extensions": console["ConsoleCompleteLogin"],
        }
    )
    user = done.json()["data"]["completeConsoleLogin"]["session"]["user"]
    assert user["id"] == koc["user"]["id"]


def test_the_console_manifest_matches_its_documents() -> None:
    documents = [p.read_text() for p in sorted((CONSOLE / "documents").glob("*.graphql"))]
    committed = json.loads((CONSOLE / "persisted-documents.json").read_text())
    assert committed == build_manifest(documents), (
        "server/console/persisted-documents.json is stale: run `c2m persisted-manifest "
        "server/console/documents/*.graphql > server/console/persisted-documents.json`"
    )


async def test_the_console_is_served_and_its_documents_run_in_trusted_mode(
    trusted: GraphQLClient,
) -> None:
    page = await trusted.http.get("/console/")
    assert page.status_code == 200 and '<div id="app">' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    moved = await trusted.http.get("/console")
    assert moved.status_code == 308 and moved.headers["location"] == "/console/"
    script = await trusted.http.get("/console/js/app.js", headers={"accept-encoding": "gzip"})
    assert script.status_code == 200 and script.headers["content-encoding"] == "gzip"
    # The trusted server was given the clients' manifest only; the console's runs all the same.
    operations = json.loads((CONSOLE / "persisted-documents.json").read_text())["operations"]
    viewer = next(op for op in operations if op["name"] == "ConsoleViewer")
    out = await trusted.post(
        {
            "operationName": "ConsoleViewer",
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": viewer["id"]}},
        }
    )
    assert out.json() == {"data": {"viewer": None, "viewerFactory": None}}
