"""A drop's life through the API and the worker: editing a draft, scheduled opening (with the
voters' notifications), closing, cancelling (every order cancelled and refunded), expiry of unpaid
orders, and the lists members see."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.payments.models import PaymentStep
from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.helpers import (
    CREATE_DROP,
    PROGRESS,
    drop_input,
    make_community,
    make_koc,
    make_open_drop,
    members,
    pk,
    preorder,
    sql,
)
from tests.production.scenario import pay
from workers import drops as drop_jobs
from workers import payments as payment_jobs

UPDATE = """mutation($d: ID!, $i: DropInput!) { updateDrop(dropId: $d, input: $i) {
  drop { title status cap variants { size color } } errors { code field } } }"""
CANCEL = """mutation($d: ID!) { cancelDrop(dropId: $d) { drop { status } errors { code } } }"""
ORDER = """query($o: ID!) { node(id: $o) { ... on Order { status ledger { kind amount {
  amountFen } } } } }"""
DROPS = """query($s: [DropStatus!], $after: String) { drops(status: $s, first: 2, after: $after) {
  nodes { id title status } pageInfo { hasNextPage endCursor } } }"""
MY_ORDERS = """query($after: String) { myOrders(first: 2, after: $after) {
  nodes { id quantity } pageInfo { hasNextPage endCursor } } }"""


async def _sql(settings: Settings, query: str, *args: Any) -> Any:
    return await sql(settings.database_url, query, *args)


async def test_scheduled_drop_opens_notifies_and_closes(
    client: GraphQLClient, operator_token: str, services: Any, settings: Settings
) -> None:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    tokens = await members(client, community["inviteCode"], 2)
    drop = await make_open_drop(
        client,
        koc["accessToken"],
        [community["id"]],
        opens_in=timedelta(hours=1),
        closes_in=timedelta(hours=2),
    )
    assert drop["status"] == "SCHEDULED"
    assert await drop_jobs.open_due(services) == 0
    await _sql(
        settings,
        "UPDATE drops SET opens_at = now() - interval '1 second' WHERE id = $1",
        pk(drop["id"]),
    )
    assert await drop_jobs.open_due(services) == 1
    assert await drop_jobs.open_due(services) == 0  # once
    rows = await _sql(
        settings,
        "SELECT count(*) AS n FROM notification_events WHERE subject_id = $1",
        pk(drop["id"]),
    )
    assert rows[0]["n"] == 1
    ok = await preorder(client, tokens[0], drop["id"], [(drop["variants"][0]["id"], 1)], "k")
    assert ok["errors"] == []
    await _sql(
        settings,
        "UPDATE drops SET closes_at = now() - interval '1 second', "
        "opens_at = now() - interval '1 hour' WHERE id = $1",
        pk(drop["id"]),
    )
    assert await drop_jobs.close_due(services) == 1
    late = await preorder(client, tokens[1], drop["id"], [(drop["variants"][0]["id"], 1)], "k")
    assert late["errors"][0]["code"] == "DROP_CLOSED"


async def test_unpaid_orders_expire_and_give_capacity_back(
    client: GraphQLClient, operator_token: str, services: Any, settings: Settings
) -> None:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    tokens = await members(client, community["inviteCode"], 2)
    drop = await make_open_drop(
        client, koc["accessToken"], [community["id"]], cap=2, moq=1, limit=2
    )
    v = drop["variants"][0]["id"]
    first = await preorder(client, tokens[0], drop["id"], [(v, 2)], "a")
    assert (await preorder(client, tokens[1], drop["id"], [(v, 1)], "b"))["errors"][0][
        "code"
    ] == "SOLD_OUT"
    await _sql(
        settings,
        "UPDATE orders SET expires_at = now() - interval '1 second' WHERE id = $1",
        pk(first["order"]["id"]),
    )
    assert await drop_jobs.expire_due(services) == 1
    assert await drop_jobs.expire_due(services) == 0
    p = (await client.query(PROGRESS, {"d": drop["id"]}, token=tokens[1]))["node"]["progress"]
    assert p["totalQuantity"] == 0
    assert (await preorder(client, tokens[1], drop["id"], [(v, 2)], "c"))["errors"] == []


async def test_only_a_draft_is_edited_and_only_by_its_koc(
    client: GraphQLClient, operator_token: str
) -> None:
    koc = await make_koc(client, operator_token)
    other = await make_koc(client, operator_token, "koc-2")
    community = await make_community(client, koc["accessToken"])
    made = await client.query(
        CREATE_DROP, {"i": drop_input([community["id"]])}, token=koc["accessToken"]
    )
    drop = made["createDrop"]["drop"]
    changed = {**drop_input([community["id"]], cap=30), "title": "Linen dress II"}
    changed["variants"] = [{"size": "L", "color": "red", "cap": None}]
    out = await client.query(UPDATE, {"d": drop["id"], "i": changed}, token=koc["accessToken"])
    assert out["updateDrop"] == {
        "drop": {
            "title": "Linen dress II",
            "status": "DRAFT",
            "cap": 30,
            "variants": [{"size": "L", "color": "red"}],
        },
        "errors": [],
    }
    stranger = await client.query(
        UPDATE, {"d": drop["id"], "i": changed}, token=other["accessToken"]
    )
    assert stranger["updateDrop"]["errors"] == [{"code": "NOT_FOUND", "field": "dropId"}]
    bad = {**changed, "moq": 31}
    invalid = await client.query(UPDATE, {"d": drop["id"], "i": bad}, token=koc["accessToken"])
    assert invalid["updateDrop"]["errors"] == [{"code": "INVALID_INPUT", "field": "moq"}]
    published = await make_open_drop(client, koc["accessToken"], [community["id"]])
    frozen = await client.query(
        UPDATE, {"d": published["id"], "i": changed}, token=koc["accessToken"]
    )
    assert frozen["updateDrop"]["errors"] == [{"code": "DROP_NOT_EDITABLE", "field": None}]


async def test_cancelling_a_drop_cancels_and_refunds_every_order_once(
    client: GraphQLClient, operator_token: str, services: Any, settings: Settings
) -> None:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    tokens = await members(client, community["inviteCode"], 2)
    drop = await make_open_drop(client, koc["accessToken"], [community["id"]])
    v = drop["variants"][0]["id"]
    paid = (await preorder(client, tokens[0], drop["id"], [(v, 2)], "p"))["order"]
    unpaid = (await preorder(client, tokens[1], drop["id"], [(v, 1)], "u"))["order"]
    assert await pay(client, services, pk(paid["id"]), 10000, PaymentStep.DEPOSIT, "T1") == 204

    member = await client.query(CANCEL, {"d": drop["id"]}, token=tokens[0])
    assert member["cancelDrop"]["errors"] == [{"code": "NOT_FOUND"}]
    for _ in range(2):  # cancelling again changes nothing
        out = await client.query(CANCEL, {"d": drop["id"]}, token=koc["accessToken"])
        assert out["cancelDrop"] == {"drop": {"status": "CANCELLED"}, "errors": []}

    # What the queued job does, run twice as an at-least-once queue may.
    assert await drop_jobs.cancel_orders(pk(drop["id"]), services) == 2
    assert await drop_jobs.cancel_orders(pk(drop["id"]), services) == 0
    for _ in range(2):
        await payment_jobs.refund(pk(paid["id"]), services)
    order = (await client.query(ORDER, {"o": paid["id"]}, token=tokens[0]))["node"]
    assert order["status"] == "REFUNDED"
    assert order["ledger"] == [
        {"kind": "PAYMENT", "amount": {"amountFen": 10000}},
        {"kind": "REFUND", "amount": {"amountFen": 10000}},
    ]
    assert (await client.query(ORDER, {"o": unpaid["id"]}, token=tokens[1]))["node"] == {
        "status": "CANCELLED",
        "ledger": [],
    }
    p = (await client.query(PROGRESS, {"d": drop["id"]}, token=tokens[0]))["node"]["progress"]
    assert p["totalQuantity"] == 0  # the counters followed the orders
    late = await preorder(client, tokens[1], drop["id"], [(v, 1)], "late")
    assert late["errors"][0]["code"] == "DROP_CLOSED"


async def test_members_list_selling_drops_and_their_own_orders(
    client: GraphQLClient, operator_token: str
) -> None:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    elsewhere = await make_community(client, koc["accessToken"], "Elsewhere")
    tokens = await members(client, community["inviteCode"], 2)
    selling = [
        await make_open_drop(client, koc["accessToken"], [community["id"]]) for _ in range(3)
    ]
    await make_open_drop(client, koc["accessToken"], [elsewhere["id"]])  # not the member's
    await client.query(CREATE_DROP, {"i": drop_input([community["id"]])}, token=koc["accessToken"])

    seen: list[str] = []
    after = None
    while True:
        page = (await client.query(DROPS, {"after": after}, token=tokens[0]))["drops"]
        seen += [d["id"] for d in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [d["id"] for d in selling]  # no draft, no other community's drop
    drafts = await client.query(DROPS, {"s": ["DRAFT"]}, token=tokens[0])
    assert drafts["drops"]["nodes"] == []

    for i, d in enumerate(selling):
        out = await preorder(client, tokens[0], d["id"], [(d["variants"][0]["id"], i + 1)], f"k{i}")
        assert out["errors"] == []
    first = (await client.query(MY_ORDERS, {}, token=tokens[0]))["myOrders"]
    rest = await client.query(MY_ORDERS, {"after": first["pageInfo"]["endCursor"]}, token=tokens[0])
    quantities = [o["quantity"] for o in first["nodes"] + rest["myOrders"]["nodes"]]
    assert quantities == [1, 2, 3] and rest["myOrders"]["pageInfo"]["hasNextPage"] is False
    assert (await client.query(MY_ORDERS, {}, token=tokens[1]))["myOrders"]["nodes"] == []


async def test_a_drop_key_is_bound_to_its_request(
    client: GraphQLClient, operator_token: str
) -> None:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    create = """mutation($i: DropInput!, $k: String) { createDrop(input: $i, idempotencyKey: $k) {
      drop { id } errors { code field } } }"""
    data = drop_input([community["id"]])
    a = await client.query(create, {"i": data, "k": "d-1"}, token=koc["accessToken"])
    b = await client.query(create, {"i": data, "k": "d-1"}, token=koc["accessToken"])
    assert a["createDrop"]["drop"]["id"] == b["createDrop"]["drop"]["id"]
    c = await client.query(
        create, {"i": {**data, "priceFen": 19900}, "k": "d-1"}, token=koc["accessToken"]
    )
    assert c["createDrop"] == {
        "drop": None,
        "errors": [{"code": "IDEMPOTENCY_KEY_REUSED", "field": "idempotencyKey"}],
    }


async def test_progress_shows_the_variants_a_draft_was_edited_to(
    client: GraphQLClient, operator_token: str
) -> None:
    """Published drops' variants are kept per process (they cannot change any more); a draft's
    are read every time, so its edits show at once, before and after publishing."""
    koc = await make_koc(client, operator_token)
    token = koc["accessToken"]
    community = await make_community(client, token)
    made = await client.query(CREATE_DROP, {"i": drop_input([community["id"]])}, token=token)
    drop_id = made["createDrop"]["drop"]["id"]

    async def sizes() -> list[str]:
        out = await client.query(PROGRESS, {"d": drop_id}, token=token)
        return [v["value"] for v in out["node"]["progress"]["perSize"]]

    assert await sizes() == ["S", "M"]
    edited = drop_input([community["id"]])
    edited["variants"] = [{"size": "XL", "color": "red", "cap": None}]
    out = await client.query(UPDATE, {"d": drop_id, "i": edited}, token=token)
    assert out["updateDrop"]["errors"] == []
    assert await sizes() == ["XL"]  # the draft's first read was not kept
    pub = await client.query(
        "mutation($d: ID!) { publishDrop(dropId: $d) { errors { code } } }",
        {"d": drop_id},
        token=token,
    )
    assert pub["publishDrop"]["errors"] == []
    assert await sizes() == ["XL"] and await sizes() == ["XL"]
