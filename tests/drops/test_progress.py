"""Live drop progress over graphql-transport-ws, fanned out through Redis pub/sub."""

from __future__ import annotations

from typing import Any

import httpx
from httpx_ws import aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from tests.conftest import GraphQLClient
from tests.helpers import (
    CREATE_DROP,
    PROGRESS,
    drop_input,
    make_community,
    make_koc,
    make_open_drop,
    members,
    preorder,
)

DROP_SUB = (
    """subscription($d: ID!) { dropProgress(dropId: $d) { totalQuantity buyers remaining } }"""
)


async def test_drop_progress_is_pushed(
    app: Any, client: GraphQLClient, operator_token: str
) -> None:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    tokens = await members(client, community["inviteCode"], 3)
    drop = await make_open_drop(client, koc["accessToken"], [community["id"]])
    async with httpx.AsyncClient(
        transport=ASGIWebSocketTransport(app), base_url="http://c2m.test"
    ) as ws_http:
        async with aconnect_ws("/graphql", ws_http, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send_json(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {tokens[0]}"}}
            )
            await ws.receive_json(timeout=5)
            await ws.send_json(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": DROP_SUB, "variables": {"d": drop["id"]}},
                }
            )
            first = await ws.receive_json(timeout=5)
            assert first["payload"]["data"]["dropProgress"]["totalQuantity"] == 0
            for i, t in enumerate(tokens):
                await preorder(client, t, drop["id"], [(drop["variants"][0]["id"], 2)], f"s{i}")
            while True:
                msg = await ws.receive_json(timeout=10)
                p = msg["payload"]["data"]["dropProgress"]
                if p["totalQuantity"] == 6:
                    assert p["buyers"] == 3 and p["remaining"] == 14
                    break


async def test_drop_page_is_one_read_and_keeps_every_rule(
    client: GraphQLClient, operator_token: str, services: Any
) -> None:
    """The drop page (`node(id:) { ... on Drop { progress } }`) reads the visibility and the
    counters together: the counters never reach who may not see the drop, a draft shows its
    current variants to its KOC, lost counters are rebuilt, and a member who left sees nothing."""
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    member, other = await members(client, community["inviteCode"], 2)
    elsewhere = await make_community(client, koc["accessToken"], "elsewhere")
    (outsider,) = await members(client, elsewhere["inviteCode"], 1, prefix="out")

    async def page(drop_id: str, token: str) -> Any:
        return (await client.query(PROGRESS, {"d": drop_id}, token=token))["node"]

    draft = (
        await client.query(
            CREATE_DROP, {"i": drop_input([community["id"]])}, token=koc["accessToken"]
        )
    )["createDrop"]["drop"]
    seen = await page(draft["id"], koc["accessToken"])
    assert seen["status"] == "DRAFT" and len(seen["progress"]["perVariant"]) == 4
    assert await page(draft["id"], member) is None  # drafts are the KOC's alone

    drop = await make_open_drop(client, koc["accessToken"], [community["id"]])
    variant = drop["variants"][1]["id"]
    assert (await preorder(client, member, drop["id"], [(variant, 2)], "p1"))["errors"] == []
    assert (await preorder(client, other, drop["id"], [(variant, 1)], "p2"))["errors"] == []
    p = (await page(drop["id"], member))["progress"]
    assert (p["totalQuantity"], p["buyers"], p["remaining"]) == (3, 2, 17)
    assert {v["variant"]["id"]: v["quantity"] for v in p["perVariant"]}[variant] == 3
    # The same page written as the mini-program writes it, with named fragments: the demand
    # lists are summed on request, in the variants' order.
    spread = await client.query(
        "query($d: ID!) { node(id: $d) { ...Page } }"
        " fragment Page on Drop { progress { ...Totals perColor { value quantity } } }"
        " fragment Totals on DropProgress { totalQuantity perSize { value quantity } }",
        {"d": drop["id"]},
        token=member,
    )
    assert spread["node"]["progress"] == {
        "totalQuantity": 3,
        "perSize": [{"value": "S", "quantity": 0}, {"value": "M", "quantity": 3}],
        "perColor": [{"value": "black", "quantity": 3}, {"value": "white", "quantity": 0}],
    }
    assert await page(drop["id"], outsider) is None
    anonymous = await client.query(PROGRESS, {"d": drop["id"]})
    assert anonymous["node"] is None

    await services.redis.flushall()  # the counters are gone: the page rebuilds them
    p = (await page(drop["id"], other))["progress"]
    assert (p["totalQuantity"], p["buyers"]) == (3, 2)

    left = await client.query(
        "mutation($c: ID!) { leaveCommunity(communityId: $c) { ok } }",
        {"c": community["id"]},
        token=other,
    )
    assert left["leaveCommunity"]["ok"] is True
    assert await page(drop["id"], other) is None
