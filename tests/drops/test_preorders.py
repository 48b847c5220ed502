from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import GraphQLClient
from tests.helpers import (
    ADDRESS,
    PROGRESS,
    make_community,
    make_koc,
    make_open_drop,
    members,
    pk,
    preorder,
)

PREORDER_REMAINING = """mutation($d: ID!, $l: [OrderLineInput!]!, $k: String!,
  $a: ShippingAddressInput!) {
  placePreorder(dropId: $d, lines: $l, idempotencyKey: $k, shippingAddress: $a) {
    order { id } errors { code message remaining variantId } } }"""


@pytest.fixture
async def shop(client: GraphQLClient, operator_token: str) -> dict[str, Any]:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    buyers = await members(client, community["inviteCode"], 6, prefix="buyer")
    drop = await make_open_drop(client, koc["accessToken"], [community["id"]])
    return {
        "koc": koc,
        "community": community,
        "buyers": buyers,
        "drop": drop,
        "variants": [v["id"] for v in drop["variants"]],
    }


async def progress(client: GraphQLClient, token: str, drop_id: str) -> dict[str, Any]:
    return (await client.query(PROGRESS, {"d": drop_id}, token=token))["node"]["progress"]


async def test_preorder_reserves_and_progress_shows_it(
    client: GraphQLClient, shop: dict[str, Any]
) -> None:
    d, v, b = shop["drop"]["id"], shop["variants"], shop["buyers"]
    assert shop["drop"]["status"] == "OPEN"
    out = await preorder(client, b[0], d, [(v[0], 2), (v[3], 1)], "k1")
    assert out["errors"] == []
    assert out["order"]["status"] == "PENDING_PAYMENT" and out["order"]["quantity"] == 3
    assert out["order"]["amountDue"] == {"amountFen": 15000, "currency": "CNY"}
    p = await progress(client, b[1], d)
    assert p["totalQuantity"] == 3 and p["buyers"] == 1 and p["remaining"] == 17
    assert p["moqPercent"] == 60.0 and p["currentPrice"]["amountFen"] == 29900
    assert p["nextTier"] == {"minQuantity": 10}
    assert {x["variant"]["id"]: x["quantity"] for x in p["perVariant"]} == {
        v[0]: 2,
        v[1]: 0,
        v[2]: 0,
        v[3]: 1,
    }
    assert {x["value"]: x["quantity"] for x in p["perSize"]} == {"S": 2, "M": 1}


async def test_same_key_same_order_different_payload_is_an_error(
    client: GraphQLClient, shop: dict[str, Any]
) -> None:
    d, v, b = shop["drop"]["id"], shop["variants"], shop["buyers"]
    first = await preorder(client, b[0], d, [(v[0], 1)], "same")
    again = await preorder(client, b[0], d, [(v[0], 1)], "same")
    assert again["order"]["id"] == first["order"]["id"]
    other = await preorder(client, b[0], d, [(v[1], 1)], "same")
    assert other["errors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    racing = await asyncio.gather(
        *[preorder(client, b[1], d, [(v[2], 1)], "race") for _ in range(6)]
    )
    assert len({r["order"]["id"] for r in racing}) == 1
    assert (await progress(client, b[0], d))["totalQuantity"] == 2


async def test_no_overselling_under_a_race(
    client: GraphQLClient, operator_token: str, services: Any
) -> None:
    from domain.drops import repository as repo

    koc = await make_koc(client, operator_token, "koc-race")
    community = await make_community(client, koc["accessToken"])
    buyers = await members(client, community["inviteCode"], 30, prefix="racer")
    drop = await make_open_drop(
        client,
        koc["accessToken"],
        [community["id"]],
        cap=20,
        limit=2,
        variant_caps=(5, None, None, None),
    )
    v = [x["id"] for x in drop["variants"]]
    outs = await asyncio.gather(
        *[
            preorder(client, t, drop["id"], [(v[i % 2], 1 + i % 2)], f"r{i}")
            for i, t in enumerate(buyers)
        ]
    )
    ok = [o for o in outs if not o["errors"]]
    refused = [o["errors"][0]["code"] for o in outs if o["errors"]]
    assert set(refused) <= {"SOLD_OUT", "VARIANT_SOLD_OUT"}
    sold = sum(o["order"]["quantity"] for o in ok)
    assert sold <= 20
    async with services.sessionmaker() as session:
        total, per_variant = await repo.sold(session, pk(drop["id"]))
    assert total == sold and per_variant.get(pk(v[0]), 0) <= 5
    live = await services.reservations.progress(pk(drop["id"]))
    assert live.reserved == total and live.per_variant == {k: q for k, q in per_variant.items()}


async def test_bad_preorders_change_nothing(
    client: GraphQLClient, shop: dict[str, Any], operator_token: str
) -> None:
    d, v, b = shop["drop"]["id"], shop["variants"], shop["buyers"]

    async def code(
        lines: list[tuple[str, int]],
        token: str | None = None,
        drop: str | None = None,
        address: dict[str, str] | None = None,
    ) -> tuple[str, str]:
        out = await preorder(
            client, token or b[0], drop or d, lines, f"bad-{len(lines)}-{lines}", address
        )
        assert out["order"] is None
        return out["errors"][0]["code"], out["errors"][0]["message"]

    assert (await code([(v[0], 4)]))[0] == "MEMBER_LIMIT_EXCEEDED"
    assert (await code([(v[0], 0)]))[0] == "INVALID_QUANTITY"
    assert (await code([(v[0], -1)]))[0] == "INVALID_QUANTITY"
    assert (await code([(v[0], 10**6)]))[0] == "INVALID_QUANTITY"
    assert (await code([(v[0], 1), (v[0], 1)]))[0] == "INVALID_INPUT"
    assert (await code([]))[0] == "INVALID_INPUT"
    assert (await code([(base64.b64encode(b"DropVariant:999999").decode(), 1)]))[
        0
    ] == "UNKNOWN_VARIANT"
    assert (await code([(base64.b64encode(b"Poll:1").decode(), 1)]))[0] == "UNKNOWN_VARIANT"
    other = await make_open_drop(client, shop["koc"]["accessToken"], [shop["community"]["id"]])
    assert (await code([(other["variants"][0]["id"], 1)]))[0] == "UNKNOWN_VARIANT"
    bad_phone = {"name": "x", "phone": "call me", "region": "r", "detail": "d"}
    assert (await code([(v[0], 1)], address=bad_phone))[0] == "INVALID_INPUT"
    outsider = await client.login("outsider")
    assert (await code([(v[0], 1)], token=outsider["accessToken"]))[0] == "NOT_A_MEMBER"
    later = await make_open_drop(
        client,
        shop["koc"]["accessToken"],
        [shop["community"]["id"]],
        opens_in=timedelta(hours=1),
        closes_in=timedelta(hours=2),
    )
    assert later["status"] == "SCHEDULED"
    assert (await code([(later["variants"][0]["id"], 1)], drop=later["id"]))[0] == "DROP_NOT_OPEN"
    assert (await progress(client, b[0], d))["totalQuantity"] == 0


async def test_over_the_cap_says_how_many_remain(
    client: GraphQLClient, operator_token: str
) -> None:
    koc = await make_koc(client, operator_token, "koc-cap")
    community = await make_community(client, koc["accessToken"])
    buyers = await members(client, community["inviteCode"], 3, prefix="capper")
    drop = await make_open_drop(
        client, koc["accessToken"], [community["id"]], cap=5, moq=1, limit=3
    )
    v = drop["variants"][0]["id"]
    assert (await preorder(client, buyers[0], drop["id"], [(v, 3)], "a"))["errors"] == []
    out = await client.query(
        PREORDER_REMAINING,
        {"d": drop["id"], "l": [{"variantId": v, "quantity": 3}], "k": "b", "a": ADDRESS},
        token=buyers[1],
    )
    error = out["placePreorder"]["errors"][0]
    assert error["code"] == "SOLD_OUT" and "2 remaining" in error["message"]
    assert error["remaining"] == 2 and error["variantId"] is None
    over = await client.query(
        PREORDER_REMAINING,
        {"d": drop["id"], "l": [{"variantId": v, "quantity": 1}], "k": "c", "a": ADDRESS},
        token=buyers[0],
    )
    assert over["placePreorder"]["errors"][0]["code"] == "MEMBER_LIMIT_EXCEEDED"
    assert over["placePreorder"]["errors"][0]["remaining"] == 0


async def test_a_sold_out_variant_is_named(client: GraphQLClient, operator_token: str) -> None:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    buyers = await members(client, community["inviteCode"], 2)
    drop = await make_open_drop(
        client, koc["accessToken"], [community["id"]], variant_caps=(1, None, None, None)
    )
    v = drop["variants"][0]["id"]
    assert (await preorder(client, buyers[0], drop["id"], [(v, 1)], "a"))["errors"] == []
    out = await client.query(
        PREORDER_REMAINING,
        {"d": drop["id"], "l": [{"variantId": v, "quantity": 1}], "k": "b", "a": ADDRESS},
        token=buyers[1],
    )
    error = out["placePreorder"]["errors"][0]
    assert (error["code"], error["remaining"], error["variantId"]) == ("VARIANT_SOLD_OUT", 0, v)


async def test_cancel_gives_capacity_back_and_only_the_owner_can(
    client: GraphQLClient, shop: dict[str, Any]
) -> None:
    d, v, b = shop["drop"]["id"], shop["variants"], shop["buyers"]
    order = (await preorder(client, b[0], d, [(v[0], 3)], "c1"))["order"]
    cancel = "mutation($o: ID!) { cancelOrder(orderId: $o) { order { status } errors { code } } }"
    stolen = await client.query(cancel, {"o": order["id"]}, token=b[1])
    assert stolen["cancelOrder"]["errors"] == [{"code": "NOT_FOUND"}]
    assert (await progress(client, b[0], d))["totalQuantity"] == 3
    done = await client.query(cancel, {"o": order["id"]}, token=b[0])
    assert done["cancelOrder"] == {"order": {"status": "CANCELLED"}, "errors": []}
    again = await client.query(cancel, {"o": order["id"]}, token=b[0])
    assert again["cancelOrder"]["errors"] == []
    assert (await progress(client, b[0], d))["totalQuantity"] == 0
    # The limit counts live orders only: the member can order 3 again.
    assert (await preorder(client, b[0], d, [(v[1], 3)], "c2"))["errors"] == []


async def test_address_is_private(client: GraphQLClient, shop: dict[str, Any]) -> None:
    d, v, b = shop["drop"]["id"], shop["variants"], shop["buyers"]
    order = (await preorder(client, b[0], d, [(v[0], 1)], "addr"))["order"]
    q = "query($o: ID!) { node(id: $o) { ... on Order { shippingAddress { phone } } } }"
    mine = await client.query(q, {"o": order["id"]}, token=b[0])
    assert mine["node"]["shippingAddress"]["phone"] == "13800000000"
    theirs = await client.query(q, {"o": order["id"]}, token=b[1])
    assert theirs["node"] is None
    koc = await client.query(q, {"o": order["id"]}, token=shop["koc"]["accessToken"])
    assert koc["node"] is None
