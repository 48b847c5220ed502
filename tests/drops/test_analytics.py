"""KOC analytics, exact: a small scene built by hand through the API (voters and non-voters, a
filled and a failed team, a cancelled and refunded order, a member brought by another member),
and every figure checked against values computed by hand, before and after settlement."""

from __future__ import annotations

from typing import Any

from domain.payments.models import PaymentStep
from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.drops.test_teams import _join, _open
from tests.helpers import (
    ADDRESS,
    CREATE_DROP,
    PUBLISH_DROP,
    VOTE,
    drop_input,
    join,
    make_community,
    make_koc,
    make_open_poll,
    members,
    pk,
)
from tests.production.scenario import close, pay, sql
from workers import drops as drop_jobs
from workers import payments as payment_jobs
from workers import production as production_jobs

POLL_ANALYTICS = """query($p: ID!) { pollAnalytics(pollId: $p) { voters audience options {
  optionId title finalRank advanced drops voters { members buyers rate }
  nonVoters { members buyers rate } } } }"""
DROP_ANALYTICS = """query($d: ID!) { dropAnalytics(dropId: $d) { buyers units gmv { amountFen }
  refunds { amountFen } refundedOrders audience arpu { amountFen } arppu { amountFen }
  teamsOpened teamsFilled teamFillRate referredBuyers referredGmv { amountFen }
  referredGmvShare buyersWhoVotedForIt buyersWhoVotedOther buyersWhoDidNotVote } }"""
PLACE = """mutation($d: ID!, $l: [OrderLineInput!]!, $k: String!, $a: ShippingAddressInput!) {
  placePreorder(dropId: $d, lines: $l, idempotencyKey: $k, shippingAddress: $a) {
  order { id } errors { code } } }"""


async def test_poll_and_drop_figures_match_a_scene_counted_by_hand(
    client: GraphQLClient, operator_token: str, services: Any, settings: Settings
) -> None:
    koc = await make_koc(client, operator_token)
    kt = koc["accessToken"]
    community = await make_community(client, kt)
    v1, v2, v3, v4, n1, n2 = await members(client, community["inviteCode"], 6, prefix="an")
    # n3 joins through v1's own invite code: brought by a member.
    code = await client.query(
        "query($c: ID!) { node(id: $c) { ... on Community { inviteCode } } }",
        {"c": community["id"]},
        token=v1,
    )
    n3 = (await client.login("an-n3"))["accessToken"]
    await join(client, n3, code["node"]["inviteCode"])

    poll = await make_open_poll(client, kt, [community["id"]], options=3)
    a, b, c = (o["id"] for o in poll["options"])
    for token, picks in ((v1, [a, b]), (v2, [a]), (v3, [a]), (v4, [b])):
        out = await client.query(VOTE, {"p": poll["id"], "o": picks}, token=token)
        assert out["castVote"]["errors"] == [], out
    closed = await client.query(
        "mutation($p: ID!) { closePoll(pollId: $p) { errors { code } } }",
        {"p": poll["id"]},
        token=kt,
    )
    assert closed["closePoll"]["errors"] == []

    data = drop_input([community["id"]], mode="FULL", moq=1)
    data["pollOptionId"] = a
    data["teams"] = {"size": 2, "priceFen": 19900}
    drop = (await client.query(CREATE_DROP, {"i": data}, token=kt))["createDrop"]["drop"]
    assert (await client.query(PUBLISH_DROP, {"d": drop["id"]}, token=kt))["publishDrop"][
        "errors"
    ] == []
    variant = drop["variants"][0]["id"]

    async def place(token: str, qty: int, key: str) -> str:
        out = await client.query(
            PLACE,
            {
                "d": drop["id"],
                "l": [{"variantId": variant, "quantity": qty}],
                "k": key,
                "a": ADDRESS,
            },
            token=token,
        )
        assert out["placePreorder"]["errors"] == [], out
        return str(out["placePreorder"]["order"]["id"])

    async def paid(order_gid: str, amount: int, txn: str) -> None:
        assert await pay(client, services, pk(order_gid), amount, PaymentStep.FULL, txn) == 204

    team = await _open(client, v1, drop, "v1-team")  # v1 opens a team and pays
    await paid(team["order"]["id"], 29900, "t-v1")
    joined = await _join(client, n3, team["team"]["shareToken"], drop, "n3-join")  # n3 fills it
    await paid(joined["order"]["id"], 29900, "t-n3")
    await paid(await place(v2, 2, "v2"), 59800, "t-v2")  # v2 buys two
    await place(v3, 1, "v3")  # v3 has not paid yet: still a pre-order
    n1_order = await place(n1, 1, "n1")  # n1 pays, then cancels and is refunded
    await paid(n1_order, 29900, "t-n1")
    cancelled = await client.query(
        "mutation($o: ID!) { cancelOrder(orderId: $o) { errors { code } } }",
        {"o": n1_order},
        token=n1,
    )
    assert cancelled["cancelOrder"]["errors"] == []
    await payment_jobs.refund(pk(n1_order), services)
    lone = await _open(client, v4, drop, "v4-team")  # v4's team never fills, unpaid
    await sql(
        settings,
        "UPDATE teams SET deadline = now() - interval '1 second' WHERE id = $1",
        pk(lone["team"]["id"]),
    )
    assert await drop_jobs.close_due_teams(services) == 1
    assert n2  # n2 never buys

    figures = (await client.query(POLL_ANALYTICS, {"p": poll["id"]}, token=kt))["pollAnalytics"]
    assert (figures["voters"], figures["audience"]) == (4, 7)
    by_option = {o["optionId"]: o for o in figures["options"]}
    # Option A: voted by v1, v2, v3 (all three pre-ordered); not by v4, n1, n2, n3, of whom
    # n1 (paid, later refunded) and n3 pre-ordered; v4's unpaid order of a failed team does not.
    assert by_option[a] == {
        "optionId": a,
        "title": "Style 0",
        "finalRank": 1,
        "advanced": True,
        "drops": 1,
        "voters": {"members": 3, "buyers": 3, "rate": 1.0},
        "nonVoters": {"members": 4, "buyers": 2, "rate": 0.5},
    }
    assert by_option[b]["voters"] == {"members": 2, "buyers": 0, "rate": 0.0}
    assert by_option[b]["nonVoters"] == {"members": 5, "buyers": 0, "rate": 0.0}
    assert by_option[b]["drops"] == 0 and by_option[b]["finalRank"] == 2
    assert by_option[c]["voters"] == {"members": 0, "buyers": 0, "rate": None}

    got = (await client.query(DROP_ANALYTICS, {"d": drop["id"]}, token=kt))["dropAnalytics"]
    # Held: v1 29900, n3 29900, v2 59800; n1 29900 paid and refunded; v3 and v4 nothing.
    assert got == {
        "buyers": 3,
        "units": 4,
        "gmv": {"amountFen": 119600},
        "refunds": {"amountFen": 29900},
        "refundedOrders": 1,
        "audience": 7,
        "arpu": {"amountFen": 17086},  # 119600 / 7 = 17085.71
        "arppu": {"amountFen": 39867},  # 119600 / 3 = 39866.67
        "teamsOpened": 2,
        "teamsFilled": 1,
        "teamFillRate": 0.5,
        "referredBuyers": 1,  # n3, brought by v1
        "referredGmv": {"amountFen": 29900},
        "referredGmvShare": 0.25,
        "buyersWhoVotedForIt": 2,  # v1, v2 (v3 holds nothing yet)
        "buyersWhoVotedOther": 0,  # v4 voted B and never paid
        "buyersWhoDidNotVote": 1,  # n3
    }
    vote_of = "query($o: ID!) { node(id: $o) { ... on Order { pollVote } } }"
    for order, token, want in (
        (team["order"]["id"], v1, "FOR_OPTION"),
        (lone["order"]["id"], v4, "OTHER_OPTION"),
        (n1_order, n1, "DID_NOT_VOTE"),
    ):
        assert (await client.query(vote_of, {"o": order}, token=token))["node"] == {
            "pollVote": want
        }

    # Settled: the full team pays the team price (10000 back to v1 and to n3 each).
    await close(client, {"drop": drop, "koc": koc})
    out = await client.query(
        "mutation($d: ID!) { settleDrop(dropId: $d) { errors { code } } }",
        {"d": drop["id"]},
        token=kt,
    )
    assert out["settleDrop"]["errors"] == []
    assert await production_jobs.refund_excess(pk(drop["id"]), services) == 20000
    got = (await client.query(DROP_ANALYTICS, {"d": drop["id"]}, token=kt))["dropAnalytics"]
    assert (got["buyers"], got["units"], got["gmv"], got["refunds"], got["refundedOrders"]) == (
        3,
        4,
        {"amountFen": 99600},
        {"amountFen": 49900},
        3,
    )
    assert (got["arpu"], got["arppu"]) == ({"amountFen": 14229}, {"amountFen": 33200})
    assert got["referredGmv"] == {"amountFen": 19900}
    assert abs(got["referredGmvShare"] - 19900 / 99600) < 1e-12

    # Who may read them: the KOC and operators; not a member, not another KOC.
    assert (await client.query(DROP_ANALYTICS, {"d": drop["id"]}, token=operator_token))[
        "dropAnalytics"
    ]["buyers"] == 3
    other = await make_koc(client, operator_token, "other-koc")
    for token in (v1, other["accessToken"]):
        resp = await client.post(
            {"query": DROP_ANALYTICS, "variables": {"d": drop["id"]}}, token=token
        )
        assert resp.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        resp = await client.post(
            {"query": POLL_ANALYTICS, "variables": {"p": poll["id"]}}, token=token
        )
        assert resp.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
