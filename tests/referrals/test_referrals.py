"""Referrals through the API: first touch wins, no self-referral or cycle, rewards earned once
by the direct referrer only when the drop succeeds, reversed pro rata on a refund, paid out by
operators never beyond the balance, an append-only ledger, and the KOC's views."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from domain.drops import settlement
from domain.payments.models import PaymentStep
from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.drops.test_teams import _join, _open
from tests.helpers import (
    ADDRESS,
    CREATE_DROP,
    PUBLISH_DROP,
    drop_input,
    join,
    make_community,
    make_koc,
    members,
    pk,
)
from tests.production.scenario import close, pay, sql
from workers import payments as payment_jobs

ACCOUNT = """query($u: ID) { referralAccount(userId: $u) { userId referralCode
  earned { amountFen } reversed { amountFen } paidOut { amountFen } balance { amountFen } } }"""
RECORD = """mutation($d: ID!, $c: String!) { recordReferral(dropId: $d, referralCode: $c) {
  referrerId recorded errors { code field } } }"""
PAYOUT = """mutation($u: ID!, $a: Int!, $k: String!) { payReferralRewards(userId: $u,
  amountFen: $a, idempotencyKey: $k) { entry { id kind amount { amountFen } }
  account { balance { amountFen } } errors { code field } } }"""
REFERRERS = """query($d: ID!) { dropReferrers(dropId: $d) { referrer { id displayName } buyers
  units rewards { amountFen } } }"""
TREE = """query($c: ID!, $i: ID) { communityReferrals(communityId: $c, inviterId: $i, first: 50) {
  nodes { member { id } invitees } } }"""
LEDGER = """query { referralRewards(first: 10) { nodes { kind amount { amountFen } orderId } } }"""
PLACE = """mutation($d: ID!, $l: [OrderLineInput!]!, $k: String!, $a: ShippingAddressInput!) {
  placePreorder(dropId: $d, lines: $l, idempotencyKey: $k, shippingAddress: $a) {
  order { id } errors { code } } }"""
INVITE = "query($c: ID!) { node(id: $c) { ... on Community { inviteCode } } }"


async def _member_via(client: GraphQLClient, inviter: str, community: str, name: str) -> str:
    code = (await client.query(INVITE, {"c": community}, token=inviter))["node"]["inviteCode"]
    token = str((await client.login(name))["accessToken"])
    await join(client, token, code)
    return token


async def _me(client: GraphQLClient, token: str) -> dict[str, Any]:
    return dict((await client.query(ACCOUNT, {"u": None}, token=token))["referralAccount"])


async def test_referrals_first_touch_rewards_reversal_and_payouts(
    client: GraphQLClient, operator_token: str, services: Any, settings: Settings
) -> None:
    koc = await make_koc(client, operator_token)
    kt = koc["accessToken"]
    community = await make_community(client, kt)
    a, b, c, d, e = await members(client, community["inviteCode"], 5, prefix="ref")
    f = await _member_via(client, a, community["id"], "ref-f")  # A brought F
    g = await _member_via(client, f, community["id"], "ref-g")  # F brought G (not A)

    data = drop_input([community["id"]], mode="FULL", moq=1)
    data["teams"] = {"size": 2, "priceFen": 19900}
    data["referralReward"] = {"basisPoints": 1000}  # 10 % of what the order costs
    created = await client.query(CREATE_DROP, {"i": data}, token=kt)
    assert created["createDrop"]["errors"] == [], created
    drop = created["createDrop"]["drop"]
    await client.query(PUBLISH_DROP, {"d": drop["id"]}, token=kt)
    did = drop["id"]

    code_a, code_b, code_c = [(await _me(client, t))["referralCode"] for t in (a, b, c)]
    assert code_a and code_a != code_b

    async def record(token: str, code: str) -> dict[str, Any]:
        out = await client.query(RECORD, {"d": did, "c": code}, token=token)
        return dict(out["recordReferral"])

    assert (await record(c, code_c))["errors"] == [
        {"code": "SELF_REFERRAL", "field": "referralCode"}
    ]
    forged = code_a.split("-")[0] + "-0000000000"
    for bad in ("nope", forged, "x" * 400):
        assert (await record(c, bad))["errors"][0]["code"] == "NOT_FOUND"
    koc_code = (await _me(client, kt))["referralCode"]
    own_link = await record(b, koc_code)  # the KOC sharing its own drop refers nobody
    assert own_link == {"referrerId": None, "recorded": False, "errors": []}
    stranger = await client.login("ref-stranger")  # in no community of the drop
    stranger_code = (await _me(client, stranger["accessToken"]))["referralCode"]
    assert (await record(b, stranger_code))["errors"] == [
        {"code": "INVALID_INPUT", "field": "referralCode"}
    ]
    first = await record(b, code_a)
    assert first["errors"] == [] and first["recorded"] is True
    later = await record(b, code_c)  # the first touch stands
    assert later["recorded"] is False and later["referrerId"] == first["referrerId"]
    assert (await record(a, code_b))["errors"] == [
        {"code": "REFERRAL_CYCLE", "field": "referralCode"}
    ]
    brought = await record(f, code_c)  # F came through A's invite: that touch came first
    assert brought["recorded"] is False and brought["referrerId"] == first["referrerId"]

    async def buy(token: str, qty: int, key: str) -> str:
        out = await client.query(
            PLACE,
            {
                "d": did,
                "l": [{"variantId": drop["variants"][0]["id"], "quantity": qty}],
                "k": key,
                "a": ADDRESS,
            },
            token=token,
        )
        assert out["placePreorder"]["errors"] == [], out
        order = str(out["placePreorder"]["order"]["id"])
        return order

    async def paid(order: str, amount: int, txn: str) -> None:
        assert await pay(client, services, pk(order), amount, PaymentStep.FULL, txn) == 204

    order_b = await buy(b, 1, "b")
    await paid(order_b, 29900, "tb")
    order_f = await buy(f, 2, "f")
    await paid(order_f, 59800, "tf")
    order_g = await buy(g, 1, "g")
    await paid(order_g, 29900, "tg")
    team = await _open(client, d, drop, "d-team")
    await paid(team["order"]["id"], 29900, "td")
    joined = await _join(client, e, team["team"]["shareToken"], drop, "e-join")  # D brought E
    await paid(joined["order"]["id"], 29900, "te")
    await buy(c, 1, "c")  # never paid: no reward
    assert (await _me(client, a))["earned"] == {"amountFen": 0}  # not before the drop succeeds

    await close(client, {"drop": drop, "koc": koc})
    for _ in range(2):  # settling twice earns nothing more
        async with services.unit_of_work() as session:
            await settlement.settle_drop(session, pk(did))
    acc_a = await _me(client, a)
    assert acc_a["earned"] == {"amountFen": 2990 + 5980}  # B and F; G was F's, not A's
    assert (await _me(client, f))["earned"] == {"amountFen": 2990}
    assert (await _me(client, d))["earned"] == {"amountFen": 1990}  # 10 % of the team price
    rows = await sql(settings, "SELECT count(*) AS n FROM referral_rewards WHERE kind = 'EARNED'")
    assert rows[0]["n"] == 4

    top = (await client.query(REFERRERS, {"d": did}, token=kt))["dropReferrers"]
    assert [(r["buyers"], r["units"], r["rewards"]["amountFen"]) for r in top] == [
        (2, 3, 8970),
        (1, 1, 2990),
        (1, 1, 1990),
    ]
    member_view = await client.post({"query": REFERRERS, "variables": {"d": did}}, token=a)
    assert member_view.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    # Support lowers F's order to one unit's price: half is refunded, half the reward reversed.
    await sql(settings, "UPDATE orders SET owed_fen = 29900 WHERE id = $1", pk(order_f))
    for _ in range(2):
        await payment_jobs.refund(pk(order_f), services)
    acc_a = await _me(client, a)
    assert (acc_a["reversed"], acc_a["balance"]) == ({"amountFen": 2990}, {"amountFen": 5980})
    ledger = (await client.query(LEDGER, token=a))["referralRewards"]["nodes"]
    assert [x["kind"] for x in ledger] == ["REVERSED", "EARNED", "EARNED"]

    a_id = acc_a["userId"]
    paid_out = await client.query(PAYOUT, {"u": a_id, "a": 5000, "k": "p1"}, token=operator_token)
    assert paid_out["payReferralRewards"]["account"] == {"balance": {"amountFen": 980}}
    again = await client.query(PAYOUT, {"u": a_id, "a": 5000, "k": "p1"}, token=operator_token)
    assert again["payReferralRewards"]["entry"] == paid_out["payReferralRewards"]["entry"]
    assert again["payReferralRewards"]["account"] == {"balance": {"amountFen": 980}}
    too_much = await client.query(PAYOUT, {"u": a_id, "a": 981, "k": "p2"}, token=operator_token)
    assert too_much["payReferralRewards"]["errors"] == [
        {"code": "INSUFFICIENT_BALANCE", "field": "amountFen"}
    ]
    by_member = await client.query(PAYOUT, {"u": a_id, "a": 1, "k": "p3"}, token=a)
    assert by_member["payReferralRewards"]["errors"][0]["code"] == "FORBIDDEN"
    racing = await asyncio.gather(
        *(
            client.query(PAYOUT, {"u": a_id, "a": 980, "k": f"race{i}"}, token=operator_token)
            for i in range(2)
        )
    )
    assert sorted(bool(r["payReferralRewards"]["errors"]) for r in racing) == [False, True]
    assert (await _me(client, a))["balance"] == {"amountFen": 0}
    others = await client.post({"query": ACCOUNT, "variables": {"u": a_id}}, token=b)
    assert others.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    seen = (await client.query(ACCOUNT, {"u": a_id}, token=operator_token))["referralAccount"]
    assert seen["referralCode"] is None and seen["paidOut"] == {"amountFen": 5980}

    conn = await asyncpg.connect((settings.database_url or "").replace("+asyncpg", ""))
    try:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("UPDATE referral_rewards SET amount_fen = 1")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("DELETE FROM referral_rewards")
    finally:
        await conn.close()

    tree = await client.query(TREE, {"c": community["id"], "i": None}, token=kt)
    top_level = {n["member"]["id"]: n["invitees"] for n in tree["communityReferrals"]["nodes"]}
    assert len(top_level) == 5 and top_level[a_id] == 1  # A, B, C, D, E; A brought F
    under_a = await client.query(TREE, {"c": community["id"], "i": a_id}, token=kt)
    assert [n["invitees"] for n in under_a["communityReferrals"]["nodes"]] == [1]  # F brought G
    refused = await client.post(
        {"query": TREE, "variables": {"c": community["id"], "i": None}}, token=a
    )
    assert refused.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_bad_referral_rewards_are_refused(client: GraphQLClient, operator_token: str) -> None:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    for reward, field in (
        ({}, "referralReward"),
        ({"fixedFen": 100, "basisPoints": 100}, "referralReward"),
        ({"fixedFen": 0}, "referralReward.fixedFen"),
        ({"fixedFen": 29901}, "referralReward.fixedFen"),
        ({"basisPoints": 0}, "referralReward.basisPoints"),
        ({"basisPoints": 5001}, "referralReward.basisPoints"),
    ):
        data = drop_input([community["id"]])
        data["referralReward"] = reward
        out = await client.query(CREATE_DROP, {"i": data}, token=koc["accessToken"])
        assert out["createDrop"]["errors"][0]["field"] == field, (reward, out)
