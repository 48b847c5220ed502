"""Live drop progress over graphql-transport-ws, fanned out through Redis pub/sub."""

from __future__ import annotations

from typing import Any

import httpx
from httpx_ws import aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from tests.conftest import GraphQLClient
from tests.helpers import make_community, make_koc, make_open_drop, members, preorder

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
