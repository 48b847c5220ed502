from __future__ import annotations

from tests.conftest import GraphQLClient

CREATE_FACTORY = """mutation($n: String!) { createFactory(input: {name: $n, contact: "Mr. Li"}) {
  factory { id name } errors { code field } } }"""
CREATE_KEY = """mutation($f: ID!) { createFactoryApiKey(factoryId: $f, name: "erp") {
  apiKey { id prefix revokedAt } secret errors { code field } } }"""
REVOKE_KEY = """mutation($k: ID!) { revokeFactoryApiKey(keyId: $k) {
  apiKey { id revokedAt } errors { code } } }"""
WHOAMI = "{ viewerFactory { id name } viewer { id } }"


async def _factory_with_key(client: GraphQLClient, op: str) -> tuple[str, str, str]:
    f = (await client.query(CREATE_FACTORY, {"n": "Dongguan No.3"}, token=op))["createFactory"]
    assert f["errors"] == []
    k = (await client.query(CREATE_KEY, {"f": f["factory"]["id"]}, token=op))["createFactoryApiKey"]
    assert k["errors"] == [] and k["secret"].startswith("c2mf_")
    return f["factory"]["id"], k["apiKey"]["id"], k["secret"]


async def test_factory_key_authenticates_as_the_factory(
    client: GraphQLClient, operator_token: str
) -> None:
    factory_id, _, secret = await _factory_with_key(client, operator_token)
    data = await client.query(WHOAMI, token=secret)
    assert data == {"viewerFactory": {"id": factory_id, "name": "Dongguan No.3"}, "viewer": None}


async def test_secret_is_shown_once_and_stored_hashed(
    client: GraphQLClient, operator_token: str, settings
) -> None:
    import asyncpg

    _, _, secret = await _factory_with_key(client, operator_token)
    listed = await client.query(
        "{ factories(first: 10) { nodes { apiKeys { prefix } } } }", token=operator_token
    )
    assert secret not in str(listed)
    conn = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        rows = await conn.fetch("SELECT key_hash, prefix FROM factory_api_keys")
    finally:
        await conn.close()
    assert all(secret.encode() not in bytes(r["key_hash"]) for r in rows)


async def test_revoked_key_stops_working_and_revoke_is_idempotent(
    client: GraphQLClient, operator_token: str
) -> None:
    _, key_id, secret = await _factory_with_key(client, operator_token)
    first = await client.query(REVOKE_KEY, {"k": key_id}, token=operator_token)
    assert first["revokeFactoryApiKey"]["apiKey"]["revokedAt"] is not None
    again = await client.query(REVOKE_KEY, {"k": key_id}, token=operator_token)
    assert (
        again["revokeFactoryApiKey"]["apiKey"]["revokedAt"]
        == first["revokeFactoryApiKey"]["apiKey"]["revokedAt"]
    )
    resp = await client.post({"query": WHOAMI}, token=secret)
    assert resp.json()["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"


async def test_forged_key_is_rejected(client: GraphQLClient, operator_token: str) -> None:
    _, _, secret = await _factory_with_key(client, operator_token)
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    resp = await client.post({"query": WHOAMI}, token=forged)
    assert resp.json()["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"


async def test_members_cannot_manage_factories(client: GraphQLClient, operator_token: str) -> None:
    member = await client.login("nosy")
    out = await client.query(CREATE_FACTORY, {"n": "Mine"}, token=member["accessToken"])
    assert out["createFactory"]["errors"] == [{"code": "FORBIDDEN", "field": None}]
    resp = await client.post(
        {"query": "{ factories { nodes { id } } }"}, token=member["accessToken"]
    )
    assert resp.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_factory_cannot_see_another_factory(
    client: GraphQLClient, operator_token: str
) -> None:
    a_id, _, a_secret = await _factory_with_key(client, operator_token)
    b_id, _, _ = await _factory_with_key(client, operator_token)
    q = "query($id: ID!) { node(id: $id) { id ... on Factory { name } } }"
    assert (await client.query(q, {"id": a_id}, token=a_secret))["node"]["id"] == a_id
    assert (await client.query(q, {"id": b_id}, token=a_secret))["node"] is None


async def test_factories_are_cursor_paginated(client: GraphQLClient, operator_token: str) -> None:
    for i in range(5):
        await client.query(CREATE_FACTORY, {"n": f"F{i}"}, token=operator_token)
    q = """query($after: String) { factories(first: 2, after: $after) {
      nodes { name } pageInfo { hasNextPage endCursor } } }"""
    names: list[str] = []
    after = None
    while True:
        page = (await client.query(q, {"after": after}, token=operator_token))["factories"]
        names += [n["name"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert names == [f"F{i}" for i in range(5)]
    resp = await client.post({"query": q, "variables": {"after": "garbage!"}}, token=operator_token)
    assert resp.json()["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "after"}
    resp = await client.post(
        {"query": "{ factories(first: 1000) { nodes { id } } }"}, token=operator_token
    )
    assert resp.json()["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "first"}
