"""Bad documents and bodies get a clear error and a 4xx; the unexpected never leaks a trace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from infra.config import Settings
from tests.conftest import GraphQLClient


async def test_malformed_query_is_400(client: GraphQLClient) -> None:
    resp = await client.post({"query": "{ viewer { id "})
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_unknown_field_is_400(client: GraphQLClient) -> None:
    resp = await client.post({"query": "{ nope }"})
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_not_json_is_400(client: GraphQLClient) -> None:
    resp = await client.http.post(
        "/graphql", content=b"{{{", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_missing_query_is_400(client: GraphQLClient) -> None:
    resp = await client.post({"variables": {}})
    assert resp.status_code == 400


async def test_oversized_body_is_413(client: GraphQLClient) -> None:
    resp = await client.post({"query": "{ viewer { id } }", "pad": "x" * 300_000})
    assert resp.status_code == 413
    assert resp.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_oversized_chunked_body_is_413(client: GraphQLClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ viewer { id } }", "pad": "'
        for _ in range(40):
            yield b"x" * 10_000
        yield b'"}'

    resp = await client.http.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert resp.status_code == 413


async def test_too_many_aliases_is_400(client: GraphQLClient) -> None:
    aliases = " ".join(f"a{i}: viewer {{ id }}" for i in range(40))
    resp = await client.post({"query": "{ " + aliases + " }"})
    assert resp.status_code == 400
    assert "aliases" in resp.json()["errors"][0]["message"]


async def test_too_many_tokens_is_400(client: GraphQLClient) -> None:
    resp = await client.post({"query": "{ " + "viewer { id } " * 600 + "}"})
    assert resp.status_code == 400
    assert "token" in resp.json()["errors"][0]["message"].lower()


async def test_get_never_changes_anything(client: GraphQLClient) -> None:
    # Queries over GET are allowed (a CDN may cache them); a mutation over GET is 405 even with
    # a token, so a link or an <img> cannot act for anyone (tokens travel only in a header).
    session = await client.login("get-mutation")
    resp = await client.http.get(
        "/graphql",
        params={"query": 'mutation { updateProfile(displayName: "x") { errors { code } } }'},
        headers={"authorization": f"Bearer {session['accessToken']}"},
    )
    assert resp.status_code == 405 and resp.headers["allow"] == "POST"
    assert resp.headers["content-type"].startswith("application/json")


@pytest.fixture
async def shallow_client(settings: Settings) -> AsyncIterator[GraphQLClient]:
    from server.app import create_app

    app = create_app(settings.model_copy(update={"max_query_depth": 3, "introspection": False}))
    async with LifespanManager(app) as m:
        transport = httpx.ASGITransport(app=m.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield GraphQLClient(http)


async def test_over_deep_query_is_400(shallow_client: GraphQLClient) -> None:
    deep = "{ factories { edges { node { apiKeys { id } } } } }"
    resp = await shallow_client.post({"query": deep})
    assert resp.status_code == 400
    error = resp.json()["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["message"] == "The query is 5 levels deep; at most 3 are allowed."


async def test_introspection_can_be_switched_off(shallow_client: GraphQLClient) -> None:
    resp = await shallow_client.post({"query": "{ __schema { queryType { name } } }"})
    assert resp.status_code == 400
    assert "introspection" in resp.json()["errors"][0]["message"].lower()


async def test_unexpected_error_is_masked_and_logged(
    client: GraphQLClient, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    from domain.identity import repository

    s = await client.login("unlucky")

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(repository, "get_user", broken)
    resp = await client.post(
        {"query": "{ viewer { id } }"},
        token=s["accessToken"],
        headers={"x-request-id": "req-boom-1"},
    )
    body = resp.json()
    assert resp.status_code == 200
    err = body["errors"][0]
    assert err["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-boom-1"}
    assert "secret internal detail" not in resp.text and "Traceback" not in resp.text
    assert any("secret internal detail" in str(r.exc_info) for r in caplog.records if r.exc_info)
