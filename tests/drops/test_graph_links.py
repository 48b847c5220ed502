"""The graph does not stop at ids: an order links to its drop and its lines to their variants, a
batch to its drop and its factory, a team to its drop; each link is loaded once per request for
all the parents (the number of SQL statements does not grow with the number of orders or
batches), and ``node``/``nodes`` load many ids in one statement."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.conftest import GraphQLClient
from tests.helpers import make_community, make_koc, make_open_drop, members, preorder
from tests.production.scenario import close, paid_drop
from tests.production.test_batches import ASSIGN, _factory, _settle_and_plan

MY_ORDERS = """{ myOrders(first: 20) { nodes { id dropId drop { id title }
  lines { variantId quantity variant { id size color } } } } }"""
BATCHES = """{ batchOrders(first: 10) { nodes { id dropId factoryId drop { id title }
  factory { id name } } } }"""


@contextmanager
def statements(services: Any) -> Iterator[list[str]]:
    engine = services.sessionmaker.kw["bind"].sync_engine
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_orders_link_to_drops_and_variants_without_n_plus_one(
    client: GraphQLClient, services: Any, operator_token: str
) -> None:
    kt = (await make_koc(client, operator_token))["accessToken"]
    community = await make_community(client, kt)
    (member,) = await members(client, community["inviteCode"], 1, prefix="links")
    drops = [await make_open_drop(client, kt, [community["id"]], limit=10) for _ in range(3)]
    first = drops[0]
    out = await preorder(client, member, first["id"], [(first["variants"][0]["id"], 1)], "l-0")
    assert out["errors"] == [], out

    with statements(services) as seen:
        one = (await client.query(MY_ORDERS, token=member))["myOrders"]["nodes"]
    with_one = len(seen)
    order = one[0]
    assert order["drop"]["id"] == order["dropId"] == first["id"]
    line = order["lines"][0]
    assert line["variant"]["id"] == line["variantId"] == first["variants"][0]["id"]
    assert line["variant"]["size"] == first["variants"][0]["size"]

    for i, drop in enumerate(drops):
        lines = [(v["id"], 1) for v in drop["variants"][:2]]
        out = await preorder(client, member, drop["id"], lines, f"l-{i + 1}")
        assert out["errors"] == [], out
    with statements(services) as seen:
        many = (await client.query(MY_ORDERS, token=member))["myOrders"]["nodes"]
    assert len(many) == 4 and {o["drop"]["id"] for o in many} == {d["id"] for d in drops}
    assert all(ln["variant"]["id"] == ln["variantId"] for o in many for ln in o["lines"])
    assert len(seen) == with_one  # drops, lines and variants: one statement each, not per order

    # nodes(ids:) of many variants: one lookup, whatever the count.
    ids = [v["id"] for d in drops for v in d["variants"]]
    doc = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    with statements(services) as seen:
        found = (await client.query(doc, {"ids": ids[:1]}, token=member))["nodes"]
    few = len(seen)
    with statements(services) as seen:
        found = (await client.query(doc, {"ids": ids}, token=member))["nodes"]
    assert [n["id"] for n in found] == ids and len(seen) == few


async def test_batches_link_to_their_drop_and_factory(
    client: GraphQLClient, services: Any, operator_token: str
) -> None:
    s = await paid_drop(client, services, operator_token, buyers=6, units=2)
    factory, key = await _factory(client, operator_token, "Linked", 1, 4)
    kt = s["koc"]["accessToken"]
    await client.query(ASSIGN, {"d": s["drop"]["id"], "f": [factory]}, token=kt)
    await close(client, s)
    assert await _settle_and_plan(services, s["drop_pk"]) == 3
    with statements(services) as seen:
        batches = (await client.query(BATCHES, token=key))["batchOrders"]["nodes"]
    assert len(batches) == 3
    for b in batches:
        assert b["drop"]["id"] == b["dropId"] == s["drop"]["id"]
        assert b["factory"] == {"id": factory, "name": "Linked"} and b["factoryId"] == factory
    assert sum("FROM drops" in q for q in seen) == 1
    assert sum("FROM factories" in q for q in seen) <= 2  # the key's factory, then the loader


async def test_settlement_progress_follows_a_drop_from_close_to_batches(
    client: GraphQLClient, services: Any, operator_token: str
) -> None:
    s = await paid_drop(client, services, operator_token, buyers=4, units=2)
    factory, _ = await _factory(client, operator_token, "Progress", 1, 100)
    kt = s["koc"]["accessToken"]
    await client.query(ASSIGN, {"d": s["drop"]["id"], "f": [factory]}, token=kt)
    doc = """query($d: ID!) { dropProduction(dropId: $d) { settlement { dropStatus closedAt
      settledAt ordersByStatus { status orders units } refundsPending unitsConfirmed
      unitsPlanned batchesPlanned } } }"""

    async def progress() -> dict[str, Any]:
        out = await client.query(doc, {"d": s["drop"]["id"]}, token=kt)
        view: dict[str, Any] = out["dropProduction"]["settlement"]
        return view

    await close(client, s)
    closed = await progress()
    assert closed["dropStatus"] == "CLOSED" and closed["closedAt"] and not closed["settledAt"]
    assert closed["ordersByStatus"] == [{"status": "PAID", "orders": 4, "units": 8}]
    assert closed["batchesPlanned"] == 0 and closed["unitsPlanned"] == 0
    assert await _settle_and_plan(services, s["drop_pk"]) == 1
    done = await progress()
    assert done["dropStatus"] == "SUCCEEDED" and done["settledAt"]
    assert done["ordersByStatus"] == [{"status": "CONFIRMED", "orders": 4, "units": 8}]
    assert done["unitsConfirmed"] == done["unitsPlanned"] == 8 and done["batchesPlanned"] == 1
    assert done["refundsPending"] == 0
    (member,) = await members(client, s["community"]["inviteCode"], 1, prefix="nosy")
    refused = await client.post({"query": doc, "variables": {"d": s["drop"]["id"]}}, member)
    assert refused.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
