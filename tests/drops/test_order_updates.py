"""`orderUpdates`: a member follows an order over graphql-transport-ws instead of polling; each
status change is pushed as it commits (a payment through the webhook, a cancellation), the
stream ends once nothing more can happen, and nobody else may follow it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from httpx_ws import AsyncWebSocketSession, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from domain.payments.models import PaymentStep
from tests.conftest import GraphQLClient
from tests.helpers import make_community, make_koc, make_open_drop, members, pk, preorder
from tests.production.scenario import pay

FOLLOW = "subscription($o: ID!) { orderUpdates(orderId: $o) { id status paidAt } }"
CANCEL = "mutation($o: ID!) { cancelOrder(orderId: $o) { order { status } errors { code } } }"


@asynccontextmanager
async def socket(app: Any, token: str) -> AsyncIterator[AsyncWebSocketSession]:
    async with httpx.AsyncClient(
        transport=ASGIWebSocketTransport(app), base_url="http://c2m.test"
    ) as http:
        async with aconnect_ws("/graphql", http, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send_json(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
            )
            assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
            yield ws


async def _subscribe(ws: AsyncWebSocketSession, order: str, sid: str = "1") -> None:
    await ws.send_json(
        {"id": sid, "type": "subscribe", "payload": {"query": FOLLOW, "variables": {"o": order}}}
    )


async def test_an_order_is_followed_until_nothing_more_can_happen(
    app: Any, client: GraphQLClient, services: Any, operator_token: str
) -> None:
    kt = (await make_koc(client, operator_token))["accessToken"]
    community = await make_community(client, kt)
    member, stranger = await members(client, community["inviteCode"], 2, prefix="follow")
    drop = await make_open_drop(client, kt, [community["id"]], mode="FULL", limit=10)
    variant = drop["variants"][0]["id"]
    paid = (await preorder(client, member, drop["id"], [(variant, 1)], "follow-paid"))["order"]
    unpaid = (await preorder(client, member, drop["id"], [(variant, 1)], "follow-unpaid"))["order"]

    async with socket(app, member) as ws:
        await _subscribe(ws, paid["id"])
        first = await ws.receive_json(timeout=5)
        assert first["payload"]["data"]["orderUpdates"]["status"] == "PENDING_PAYMENT"

        status = await pay(
            client, services, pk(paid["id"]), paid["amountDue"]["amountFen"], PaymentStep.FULL, "F1"
        )
        assert status == 204
        pushed = (await ws.receive_json(timeout=5))["payload"]["data"]["orderUpdates"]
        assert pushed["status"] == "PAID" and pushed["paidAt"] is not None

        out = await client.query(CANCEL, {"o": paid["id"]}, token=member)
        assert out["cancelOrder"]["errors"] == []
        pushed = (await ws.receive_json(timeout=5))["payload"]["data"]["orderUpdates"]
        assert pushed["status"] == "CANCELLED"  # paid: a refund follows, the stream goes on

        # An unpaid order that is cancelled is over: its stream completes.
        await _subscribe(ws, unpaid["id"], "2")
        assert (await ws.receive_json(timeout=5))["payload"]["data"]["orderUpdates"]["status"] == (
            "PENDING_PAYMENT"
        )
        await client.query(CANCEL, {"o": unpaid["id"]}, token=member)
        last = await ws.receive_json(timeout=5)
        assert last["id"] == "2"
        assert last["payload"]["data"]["orderUpdates"]["status"] == "CANCELLED"
        assert await ws.receive_json(timeout=5) == {"id": "2", "type": "complete"}

    async with socket(app, stranger) as ws:  # someone else's order does not exist for them
        await _subscribe(ws, paid["id"])
        refused = await ws.receive_json(timeout=5)
        assert refused["type"] in ("error", "next")
        errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "NOT_FOUND"
