"""Live results over graphql-transport-ws, fanned out through Redis pub/sub."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from httpx_ws import aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.helpers import VOTE, make_community, make_koc, make_open_poll, members

SUB = """subscription($p: ID!) { pollResults(pollId: $p) {
  final totalVoters options { votes option { id } } } }"""


async def test_results_are_pushed_across_api_processes(
    app: Any, client: GraphQLClient, operator_token: str, settings: Settings
) -> None:
    from server.app import create_app

    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    tokens = await members(client, community["inviteCode"], 5)
    poll = await make_open_poll(client, koc["accessToken"], [community["id"]])
    o = [x["id"] for x in poll["options"]]

    # A second API process: votes go through it, the subscriber listens on the first.
    other = create_app(settings)
    async with (
        LifespanManager(other) as m,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=m.app), base_url="http://other"
        ) as other_http,
        httpx.AsyncClient(
            transport=ASGIWebSocketTransport(app), base_url="http://c2m.test"
        ) as ws_http,
    ):
        voter = GraphQLClient(other_http)
        async with aconnect_ws("/graphql", ws_http, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send_json(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {tokens[0]}"}}
            )
            assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
            await ws.send_json(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUB, "variables": {"p": poll["id"]}},
                }
            )
            first = await ws.receive_json(timeout=5)
            assert first["type"] == "next"
            assert first["payload"]["data"]["pollResults"]["totalVoters"] == 0

            started = time.monotonic()
            for token in tokens:  # a burst of votes: pushes are throttled, the last one is exact
                await voter.query(VOTE, {"p": poll["id"], "o": [o[1]]}, token=token)
            seen = []
            while True:
                msg = await ws.receive_json(timeout=5)
                assert msg["type"] == "next", msg
                seen.append((time.monotonic(), msg["payload"]["data"]["pollResults"]))
                if seen[-1][1]["totalVoters"] == 5:
                    break
            last = seen[-1][1]
            assert {x["option"]["id"]: x["votes"] for x in last["options"]}[o[1]] == 5
            assert last["final"] is False
            # At most one push per 500 ms (plus the first).
            assert len(seen) <= 1 + int((seen[-1][0] - started) / 0.5) + 1

            close = "mutation($p: ID!) { closePoll(pollId: $p) { errors { code } } }"
            await client.query(close, {"p": poll["id"]}, token=koc["accessToken"])
            while True:
                msg = await ws.receive_json(timeout=10)
                if msg["type"] == "complete":
                    break
                if msg["payload"]["data"]["pollResults"]["final"]:
                    final = msg["payload"]["data"]["pollResults"]
                    assert final["totalVoters"] == 5


async def test_subscription_requires_a_visible_poll(
    app: Any, client: GraphQLClient, operator_token: str
) -> None:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    poll = await make_open_poll(client, koc["accessToken"], [community["id"]])
    stranger = await client.login("stranger")
    async with httpx.AsyncClient(
        transport=ASGIWebSocketTransport(app), base_url="http://c2m.test"
    ) as ws_http:
        async with aconnect_ws("/graphql", ws_http, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send_json(
                {
                    "type": "connection_init",
                    "payload": {"Authorization": f"Bearer {stranger['accessToken']}"},
                }
            )
            await ws.receive_json(timeout=5)
            await ws.send_json(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUB, "variables": {"p": poll["id"]}},
                }
            )
            msg = await ws.receive_json(timeout=5)
            assert msg["type"] in ("error", "next")
            errors = msg["payload"] if msg["type"] == "error" else msg["payload"]["errors"]
            assert errors[0].get("extensions", {}).get("code") == "NOT_FOUND", msg
            await asyncio.sleep(0)
