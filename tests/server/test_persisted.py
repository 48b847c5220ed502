"""Persisted documents: Apollo APQ, a manifest, and trusted-documents-only mode."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

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
async def trusted_client(settings: Settings, tmp_path: Path) -> AsyncIterator[GraphQLClient]:
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
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=m.app), base_url="http://t"
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
