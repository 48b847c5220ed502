"""Persisted documents: Apollo APQ, a manifest, and trusted-documents-only mode."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from httpx_ws import WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from redis.asyncio import Redis

from infra.config import Settings
from tests.conftest import GraphQLClient

VIEWER = "query Viewer { viewer { id } }"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def pq(text: str) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(text)}}


async def test_apq_round_trip(client: GraphQLClient) -> None:
    miss = await client.post({"extensions": pq(VIEWER)})
    assert miss.status_code == 200
    assert miss.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert miss.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    register = await client.post({"query": VIEWER, "extensions": pq(VIEWER)})
    assert register.json() == {"data": {"viewer": None}}
    hit = await client.post({"extensions": pq(VIEWER)})
    assert hit.json() == {"data": {"viewer": None}}


async def test_apq_hash_mismatch(client: GraphQLClient) -> None:
    resp = await client.post({"query": VIEWER, "extensions": pq("something else")})
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"


async def test_apq_bad_version(client: GraphQLClient) -> None:
    resp = await client.post(
        {"extensions": {"persistedQuery": {"version": 2, "sha256Hash": sha(VIEWER)}}}
    )
    assert resp.status_code == 400


@pytest.fixture
async def trusted_app(settings: Settings, tmp_path: Path) -> AsyncIterator[Any]:
    from server.app import create_app

    manifest = tmp_path / "persisted-query-manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [
                    {"id": sha(VIEWER), "name": "Viewer", "type": "query", "body": VIEWER}
                ],
            }
        )
    )
    app = create_app(
        settings.model_copy(
            update={
                "persisted_documents_file": manifest,
                "trusted_documents_only": True,
            }
        )
    )
    async with LifespanManager(app) as m:
        yield m.app


@pytest.fixture
async def trusted_client(trusted_app: Any) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=trusted_app), base_url="http://t"
    ) as http:
        yield GraphQLClient(http)


async def test_trusted_documents_run_by_id(trusted_client: GraphQLClient) -> None:
    resp = await trusted_client.post({"extensions": pq(VIEWER)})
    assert resp.json() == {"data": {"viewer": None}}


async def test_trusted_mode_refuses_free_text(trusted_client: GraphQLClient) -> None:
    resp = await trusted_client.post({"query": "{ viewer { id displayName } }"})
    assert resp.status_code == 400
    err = resp.json()["errors"][0]
    assert err["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"
    assert "registered documents" in err["message"]


async def test_trusted_mode_refuses_registration(trusted_client: GraphQLClient) -> None:
    other = "{ viewer { displayName } }"
    resp = await trusted_client.post({"query": other, "extensions": pq(other)})
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"


async def _ws_run(app: Any, payload: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    async with httpx.AsyncClient(
        transport=ASGIWebSocketTransport(app), base_url="http://t"
    ) as ws_http:
        async with aconnect_ws("/graphql", ws_http, subprotocols=["graphql-transport-ws"]) as ws:
            init: dict[str, Any] = {"type": "connection_init"}
            if token:
                init["payload"] = {"Authorization": f"Bearer {token}"}
            await ws.send_json(init)
            assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
            await ws.send_json({"id": "1", "type": "subscribe", "payload": payload})
            return dict(await ws.receive_json(timeout=5))


async def test_trusted_mode_holds_over_websocket(trusted_app: Any) -> None:
    free = await _ws_run(trusted_app, {"query": "{ viewer { id displayName } }"})
    assert free["type"] == "error"
    assert free["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"
    other = "{ viewer { displayName } }"
    registering = await _ws_run(trusted_app, {"query": other, "extensions": pq(other)})
    assert registering["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
    by_id = await _ws_run(trusted_app, {"extensions": pq(VIEWER)})
    assert by_id["type"] == "next" and by_id["payload"] == {"data": {"viewer": None}}


async def test_apq_over_websocket_runs_a_registered_document(
    app: Any, client: GraphQLClient
) -> None:
    await client.post({"query": VIEWER, "extensions": pq(VIEWER)})
    hit = await _ws_run(app, {"extensions": pq(VIEWER)})
    assert hit["type"] == "next" and hit["payload"] == {"data": {"viewer": None}}


async def _stored(settings: Settings, text: str) -> bool:
    redis = Redis.from_url(str(settings.redis_url))
    try:
        return bool(await redis.exists(f"c2m:apq:{sha(text)}"))
    finally:
        await redis.aclose()


async def test_apq_keeps_only_documents_that_ran(client: GraphQLClient, settings: Settings) -> None:
    invalid = "{ viewer { nope } }" + " " * 10
    resp = await client.post({"query": invalid, "extensions": pq(invalid)})
    assert resp.status_code == 400
    too_big = "query Big { viewer { id } }\n" + "#" * 30_000
    resp = await client.post({"query": too_big, "extensions": pq(too_big)})
    assert resp.json() == {"data": {"viewer": None}}  # it runs, it is not kept
    too_deep = "{ viewer " + "{ id " * 1 + "}" + " }"
    await client.post({"query": too_deep, "extensions": pq(too_deep)})
    assert not await _stored(settings, invalid)
    assert not await _stored(settings, too_big)
    assert await _stored(settings, too_deep)
    # Not kept means not found by hash alone.
    miss = await client.post({"extensions": pq(invalid)})
    assert miss.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_apq_registrations_are_rate_limited_per_client(
    client: GraphQLClient, settings: Settings
) -> None:
    limit = settings.apq_registrations_per_minute
    docs = [f"query Q{i} {{ viewer {{ id }} }}" for i in range(limit + 5)]
    for doc in docs:
        resp = await client.post({"query": doc, "extensions": pq(doc)})
        assert resp.json() == {"data": {"viewer": None}}  # every one runs
    kept = [await _stored(settings, doc) for doc in docs]
    # A minute boundary may fall inside the loop: at most two windows' worth is kept.
    assert limit <= sum(kept) <= 2 * limit
    assert sum(kept) < len(docs) or len(docs) <= 2 * limit


async def test_sockets_per_identity_are_bounded(app: Any, settings: Settings) -> None:
    limit = settings.ws_max_sockets_per_identity
    async with httpx.AsyncClient(
        transport=ASGIWebSocketTransport(app), base_url="http://t"
    ) as ws_http:
        import contextlib

        async with contextlib.AsyncExitStack() as stack:
            for _ in range(limit):
                ws = await stack.enter_async_context(
                    aconnect_ws("/graphql", ws_http, subprotocols=["graphql-transport-ws"])
                )
                await ws.send_json({"type": "connection_init"})
                assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
            async with aconnect_ws(
                "/graphql", ws_http, subprotocols=["graphql-transport-ws"]
            ) as extra:
                await extra.send_json({"type": "connection_init"})
                with pytest.raises(WebSocketDisconnect) as closed:
                    await extra.receive_json(timeout=5)
                assert closed.value.code == 4403
        # All closed: the slots are free again.
        assert await _ws_run(app, {"query": "{ viewer { id } }"}) == {
            "id": "1",
            "type": "next",
            "payload": {"data": {"viewer": None}},
        }


async def test_the_legacy_graphql_ws_protocol_is_not_offered(app: Any) -> None:
    async with httpx.AsyncClient(
        transport=ASGIWebSocketTransport(app), base_url="http://t"
    ) as ws_http:
        async with aconnect_ws("/graphql", ws_http, subprotocols=["graphql-ws"]) as ws:
            await ws.send_json({"type": "connection_init"})
            with pytest.raises(WebSocketDisconnect) as closed:
                await ws.receive_json(timeout=5)
            assert closed.value.code == 4406
