"""Many followers of one poll share one reader: one member's hundred subscriptions do not take
the database from everyone else, and every follower still gets every change."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import httpx
from httpx_ws import aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.helpers import VOTE, make_community, make_koc, make_open_poll, members

SUB = "subscription($p: ID!) { pollResults(pollId: $p) { totalVoters } }"


async def test_a_hundred_subscriptions_share_one_reader(
    app: Any, client: GraphQLClient, operator_token: str, settings: Settings
) -> None:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    follower, voter = await members(client, community["inviteCode"], 2)
    poll = await make_open_poll(client, koc["accessToken"], [community["id"]])
    option = poll["options"][0]["id"]
    sockets = settings.ws_max_sockets_per_identity
    per_socket = settings.ws_max_subscriptions_per_socket
    assert sockets * per_socket >= 100 > settings.db_pool_size

    async with (
        httpx.AsyncClient(transport=ASGIWebSocketTransport(app), base_url="http://t") as ws_http,
        contextlib.AsyncExitStack() as stack,
    ):
        conns = []
        for _ in range(sockets):
            ws = await stack.enter_async_context(
                aconnect_ws("/graphql", ws_http, subprotocols=["graphql-transport-ws"])
            )
            await ws.send_json(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {follower}"}}
            )
            assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
            for i in range(per_socket):
                await ws.send_json(
                    {
                        "id": str(i),
                        "type": "subscribe",
                        "payload": {"query": SUB, "variables": {"p": poll["id"]}},
                    }
                )
            conns.append(ws)
        for ws in conns:
            for _ in range(per_socket):
                msg = await ws.receive_json(timeout=10)
                assert msg["payload"]["data"]["pollResults"]["totalVoters"] == 0, msg

        # One subscription more on a full socket is refused, the socket stays.
        await conns[0].send_json(
            {
                "id": "extra",
                "type": "subscribe",
                "payload": {"query": SUB, "variables": {"p": poll["id"]}},
            }
        )
        refused = await conns[0].receive_json(timeout=5)
        assert refused["type"] == "error" and refused["id"] == "extra"

        # Everyone else is served at once while the hundred follow.
        started = time.monotonic()
        for _ in range(10):
            await client.query("{ viewer { id } }", token=koc["accessToken"])
        assert time.monotonic() - started < 5

        await client.query(VOTE, {"p": poll["id"], "o": [option]}, token=voter)

        async def next_total(ws: Any) -> int:
            msg = await ws.receive_json(timeout=10)
            return int(msg["payload"]["data"]["pollResults"]["totalVoters"])

        totals = await asyncio.gather(*(next_total(ws) for ws in conns for _ in range(per_socket)))
        assert totals == [1] * (sockets * per_socket)
