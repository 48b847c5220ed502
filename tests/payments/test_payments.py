"""Payments end to end on the sandbox provider, which pays through our real signed webhook."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from domain.payments import ledger, refunds
from domain.payments.models import PaymentStep
from domain.payments.provider import sign_notification
from domain.payments.trade import out_trade_no
from tests.conftest import GraphQLClient
from tests.helpers import (
    CREATE_DROP,
    PUBLISH_DROP,
    drop_input,
    make_community,
    make_koc,
    make_open_drop,
    members,
    pk,
    preorder,
)

PAY = """mutation($o: ID!) { payOrder(orderId: $o) { params { appId package signType paySign }
  errors { code } } }"""
ORDER = """query($o: ID!) { node(id: $o) { ... on Order { status amountDue { amountFen }
  ledger { kind amount { amountFen } } } } }"""
CANCEL = "mutation($o: ID!) { cancelOrder(orderId: $o) { order { status } errors { code } } }"


@pytest.fixture
async def order(client: GraphQLClient, operator_token: str) -> dict[str, Any]:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    buyers = await members(client, community["inviteCode"], 2, prefix="payer")
    drop = await make_open_drop(client, koc["accessToken"], [community["id"]])
    out = await preorder(client, buyers[0], drop["id"], [(drop["variants"][0]["id"], 2)], "p1")
    return {
        "token": buyers[0],
        "other": buyers[1],
        "order": out["order"],
        "id": pk(out["order"]["id"]),
    }


async def _wait_status(
    client: GraphQLClient, token: str, order_gid: str, status: str
) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        node = (await client.query(ORDER, {"o": order_gid}, token=token))["node"]
        if node["status"] == status:
            return node
        await asyncio.sleep(0.05)
    raise AssertionError(f"order never became {status}: {node}")


def _notice(
    services: Any,
    order_id: int,
    amount: int,
    txn: str = "TXN1",
    key: rsa.RSAPrivateKey | None = None,
    ts_offset: int = 0,
) -> tuple[dict[str, str], bytes]:
    p = services.payments
    headers, body = sign_notification(
        p.keys,
        key or p._platform,
        "SANDBOX-PLATFORM",
        {
            "out_trade_no": out_trade_no(order_id, PaymentStep.DEPOSIT),
            "transaction_id": txn,
            "trade_state": "SUCCESS",
            "amount": {"total": amount, "currency": "CNY"},
        },
    )
    if ts_offset:
        headers["Wechatpay-Timestamp"] = str(int(headers["Wechatpay-Timestamp"]) + ts_offset)
    return headers, body


async def test_sandbox_pays_through_the_signed_webhook(
    client: GraphQLClient, order: dict[str, Any]
) -> None:
    out = (await client.query(PAY, {"o": order["order"]["id"]}, token=order["token"]))["payOrder"]
    assert out["errors"] == [] and out["params"]["package"].startswith("prepay_id=")
    assert out["params"]["signType"] == "RSA" and out["params"]["paySign"]
    node = await _wait_status(client, order["token"], order["order"]["id"], "DEPOSIT_PAID")
    assert node["ledger"] == [{"kind": "PAYMENT", "amount": {"amountFen": 10000}}]
    again = (await client.query(PAY, {"o": order["order"]["id"]}, token=order["token"]))["payOrder"]
    assert again["errors"] == [{"code": "INVALID_TRANSITION"}]


async def test_replayed_notification_changes_nothing(
    client: GraphQLClient, order: dict[str, Any], services: Any
) -> None:
    headers, body = _notice(services, order["id"], 10000)
    for _ in range(3):
        resp = await client.http.post("/payments/wechat/notify", content=body, headers=headers)
        assert resp.status_code == 204
    node = (await client.query(ORDER, {"o": order["order"]["id"]}, token=order["token"]))["node"]
    assert node["status"] == "DEPOSIT_PAID" and len(node["ledger"]) == 1


async def test_forged_tampered_and_stale_notifications_are_rejected(
    client: GraphQLClient, order: dict[str, Any], services: Any
) -> None:
    forger = rsa.generate_private_key(65537, 2048)
    bad = [
        _notice(services, order["id"], 10000, key=forger),
        _notice(services, order["id"], 10000, ts_offset=-3600),
    ]
    headers, body = _notice(services, order["id"], 10000, txn="T-tamper")
    bad.append((headers, body.replace(b'"id":"', b'"id":"x')))
    for headers, body in bad:
        resp = await client.http.post("/payments/wechat/notify", content=body, headers=headers)
        assert resp.status_code == 400 and resp.json()["code"] == "FAIL"
    node = (await client.query(ORDER, {"o": order["order"]["id"]}, token=order["token"]))["node"]
    assert node["status"] == "PENDING_PAYMENT" and node["ledger"] == []


async def test_cancel_after_paying_refunds_once(
    client: GraphQLClient, order: dict[str, Any], services: Any
) -> None:
    headers, body = _notice(services, order["id"], 10000)
    assert (
        await client.http.post("/payments/wechat/notify", content=body, headers=headers)
    ).status_code == 204
    out = await client.query(CANCEL, {"o": order["order"]["id"]}, token=order["token"])
    assert out["cancelOrder"]["order"]["status"] == "CANCELLED"
    # The refund job runs at least once: twice here, once of them racing.
    results = []
    for _ in range(2):
        async with services.sessionmaker() as session, session.begin():
            results.append(await refunds.refund_order(session, services.payments, order["id"]))
    assert results == [10000, 0]
    node = (await client.query(ORDER, {"o": order["order"]["id"]}, token=order["token"]))["node"]
    assert node["status"] == "REFUNDED"
    assert [e["kind"] for e in node["ledger"]] == ["PAYMENT", "REFUND"]
    async with services.sessionmaker() as session:
        assert (await ledger.balance(session, order["id"])).net == 0


async def test_payment_after_expiry_is_refunded(
    client: GraphQLClient, order: dict[str, Any], services: Any
) -> None:
    await client.query(CANCEL, {"o": order["order"]["id"]}, token=order["token"])
    headers, body = _notice(services, order["id"], 10000, txn="LATE")
    assert (
        await client.http.post("/payments/wechat/notify", content=body, headers=headers)
    ).status_code == 204
    async with services.sessionmaker() as session, session.begin():
        assert await refunds.refund_order(session, services.payments, order["id"]) == 10000
    async with services.sessionmaker() as session:
        assert (await ledger.balance(session, order["id"])).net == 0


async def test_only_the_owner_pays_or_reads_the_ledger(
    client: GraphQLClient, order: dict[str, Any]
) -> None:
    out = (await client.query(PAY, {"o": order["order"]["id"]}, token=order["other"]))["payOrder"]
    assert out["errors"] == [{"code": "NOT_FOUND"}]
    node = (await client.query(ORDER, {"o": order["order"]["id"]}, token=order["other"]))["node"]
    assert node is None


async def test_paying_twice_is_refunded_exactly_once(
    client: GraphQLClient, order: dict[str, Any], services: Any
) -> None:
    """Two payOrder in a row (a second tab, a double tap): both payments arrive through the
    sandbox's signed webhook; one is kept, the other refunded once, however often the job runs."""
    for _ in range(2):
        out = await client.query(PAY, {"o": order["order"]["id"]}, token=order["token"])
        assert out["payOrder"]["errors"] == []

    async def both_arrived() -> dict[str, Any]:
        for _ in range(100):
            node = (await client.query(ORDER, {"o": order["order"]["id"]}, token=order["token"]))[
                "node"
            ]
            if len(node["ledger"]) == 2:
                return dict(node)
            await asyncio.sleep(0.05)
        raise AssertionError("the second payment never arrived")

    node = await both_arrived()
    assert node["status"] == "DEPOSIT_PAID"
    for expected in (10000, 0, 0):
        async with services.sessionmaker() as session, session.begin():
            assert await refunds.refund_order(session, services.payments, order["id"]) == expected
    async with services.sessionmaker() as session:
        assert (await ledger.balance(session, order["id"])).net == 10000


@pytest.mark.parametrize(
    ("step", "amount"),
    [(PaymentStep.FULL, 10000), (PaymentStep.DEPOSIT, 9999), (PaymentStep.BALANCE, 10000)],
)
async def test_a_payment_the_order_does_not_await_is_kept_apart_and_refunded(
    client: GraphQLClient, order: dict[str, Any], services: Any, step: PaymentStep, amount: int
) -> None:
    """A deposit drop's order paid with the full-price step, the wrong amount, or a balance it
    does not owe yet: recorded (the member did pay), the order stays unpaid, the money goes back."""
    p = services.payments
    headers, body = sign_notification(
        p.keys,
        p._platform,
        "SANDBOX-PLATFORM",
        {
            "out_trade_no": out_trade_no(order["id"], step),
            "transaction_id": f"T-{step.value}",
            "trade_state": "SUCCESS",
            "amount": {"total": amount, "currency": "CNY"},
        },
    )
    resp = await client.http.post("/payments/wechat/notify", content=body, headers=headers)
    assert resp.status_code == 204
    async with services.sessionmaker() as session, session.begin():
        assert await refunds.refund_order(session, services.payments, order["id"]) == amount
    node = (await client.query(ORDER, {"o": order["order"]["id"]}, token=order["token"]))["node"]
    assert node["status"] == "PENDING_PAYMENT"
    assert [e["kind"] for e in node["ledger"]] == ["PAYMENT", "REFUND"]


async def test_amounts_beyond_32_bits_are_placed_paid_and_read_exactly(
    client: GraphQLClient, operator_token: str
) -> None:
    """The highest price times a large quantity: 2.2 billion fen does not fit GraphQL's Int."""
    from domain.drops.inputs import MAX_PRICE_FEN

    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    [buyer] = await members(client, community["inviteCode"], 1, prefix="rich")
    drop_in = drop_input([community["id"]], cap=100, limit=30, mode="FULL")
    drop_in |= {"priceFen": MAX_PRICE_FEN, "tiers": []}
    created = await client.query(CREATE_DROP, {"i": drop_in}, token=koc["accessToken"])
    drop = created["createDrop"]["drop"]
    await client.query(PUBLISH_DROP, {"d": drop["id"]}, token=koc["accessToken"])

    out = await preorder(client, buyer, drop["id"], [(drop["variants"][0]["id"], 22)], "big")
    assert out["errors"] == [], out
    assert out["order"]["amountDue"] == {"amountFen": 22 * MAX_PRICE_FEN, "currency": "CNY"}
    paid = (await client.query(PAY, {"o": out["order"]["id"]}, token=buyer))["payOrder"]
    assert paid["errors"] == []
    node = await _wait_status(client, buyer, out["order"]["id"], "PAID")
    assert node["ledger"] == [{"kind": "PAYMENT", "amount": {"amountFen": 2_200_000_000}}]
    mine = await client.query("{ myOrders { nodes { amountDue { amountFen } } } }", token=buyer)
    assert mine["myOrders"]["nodes"] == [{"amountDue": {"amountFen": 2_200_000_000}}]
