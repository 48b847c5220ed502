"""Batch planning edges and the factory API."""

from __future__ import annotations

import csv
import io
from typing import Any

from domain.drops import settlement
from domain.identity.actor import Actor
from domain.payments.models import PaymentStep
from domain.production import planner
from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.production.scenario import close, paid_drop, pay, pk, sql

CREATE_FACTORY = """mutation($n: String!) { createFactory(input: {name: $n}) { factory { id } } }"""
UPDATE_FACTORY = """mutation($f: ID!, $i: FactoryProfileInput!) {
  updateFactory(factoryId: $f, input: $i) {
  factory { minBatch capacityPerDay } errors { code field } } }"""
KEY = """mutation($f: ID!) { createFactoryApiKey(factoryId: $f) { secret } }"""
ASSIGN = """mutation($d: ID!, $f: [ID!]!) { assignFactories(dropId: $d, factoryIds: $f) {
  errors { code } } }"""
FEED = """query($s: BatchStatus, $after: String) {
  batchOrders(status: $s, first: 2, after: $after) {
  nodes { id sequence status stage belowMinimum lines { size color quantity shipped } }
  pageInfo { hasNextPage endCursor } } }"""
ACCEPT = "mutation($b: ID!) { acceptBatch(batchId: $b) { batch { status } errors { code } } }"
PROGRESS = """mutation($b: ID!, $s: ProductionStage!) { reportProgress(batchId: $b, stage: $s) {
  batch { status stage } errors { code } } }"""
SHIP = """mutation($b: ID!, $t: String!, $q: [ShipQuantityInput!]!) {
  shipBatch(batchId: $b, carrier: "SF", trackingNumber: $t, quantities: $q) {
  batch { status } trackingNumber errors { code message } } }"""


async def _factory(
    client: GraphQLClient, op: str, name: str, min_batch: int, capacity: int
) -> tuple[str, str]:
    f = (await client.query(CREATE_FACTORY, {"n": name}, token=op))["createFactory"]["factory"][
        "id"
    ]
    out = await client.query(
        UPDATE_FACTORY, {"f": f, "i": {"minBatch": min_batch, "capacityPerDay": capacity}}, token=op
    )
    assert out["updateFactory"]["errors"] == []
    secret = (await client.query(KEY, {"f": f}, token=op))["createFactoryApiKey"]["secret"]
    return f, secret


async def _settle_and_plan(services: Any, drop_id: int) -> int:
    async with services.unit_of_work() as session:
        await settlement.settle_drop(session, drop_id)
    async with services.unit_of_work() as session:
        return len(await planner.plan(session, drop_id))


async def _plan(services: Any, drop_id: int) -> int:
    async with services.unit_of_work() as session:
        return len(await planner.plan(session, drop_id))


async def test_capacity_splits_demand_and_factories_take_turns(
    client: GraphQLClient, services: Any, operator_token: str
) -> None:
    s = await paid_drop(client, services, operator_token, buyers=7, units=2)  # 14 units
    fa, ka = await _factory(client, operator_token, "A", 1, 5)
    fb, kb = await _factory(client, operator_token, "B", 1, 5)
    await client.query(ASSIGN, {"d": s["drop"]["id"], "f": [fa, fb]}, token=s["koc"]["accessToken"])
    await close(client, s)
    assert await _settle_and_plan(services, s["drop_pk"]) == 3  # 5 + 5 + 4
    assert await _plan(services, s["drop_pk"]) == 0  # planning again adds nothing
    a = (await client.query(FEED, {}, token=ka))["batchOrders"]["nodes"]
    b = (await client.query(FEED, {}, token=kb))["batchOrders"]["nodes"]
    assert [x["sequence"] for x in a] == [1, 3] and [x["sequence"] for x in b] == [2]
    sizes = [sum(line["quantity"] for line in x["lines"]) for x in a + b]
    assert sorted(sizes) == [4, 5, 5]


async def test_below_minimum_waits_for_balances_then_ships_anyway(
    client: GraphQLClient, services: Any, operator_token: str, settings: Settings
) -> None:
    s = await paid_drop(client, services, operator_token, buyers=3, units=2, mode="DEPOSIT")
    f, key = await _factory(client, operator_token, "Min", 5, 100)
    await client.query(ASSIGN, {"d": s["drop"]["id"], "f": [f]}, token=s["koc"]["accessToken"])
    await close(client, s)
    assert await _settle_and_plan(services, s["drop_pk"]) == 0  # nothing confirmed yet
    first = s["orders"][0]
    node = (
        await client.query(
            "query($o: ID!) { node(id: $o) { ... on Order { amountDue { amountFen } } } }",
            {"o": first["id"]},
            token=first["token"],
        )
    )["node"]
    assert (
        await pay(
            client,
            services,
            first["pk"],
            node["amountDue"]["amountFen"],
            PaymentStep.BALANCE,
            "BAL",
        )
        == 204
    )
    assert await _plan(services, s["drop_pk"]) == 0  # 2 confirmed < minimum 5, balances pending
    await sql(
        settings,
        "UPDATE orders SET balance_due_at = now() - interval '1 second' "
        "WHERE drop_id = $1 AND status = 'DEPOSIT_PAID'",
        s["drop_pk"],
    )
    async with services.unit_of_work() as session:
        from domain.drops import repository as drop_repo

        await settlement.default_overdue_balances(
            session, await drop_repo.get(session, s["drop_pk"])
        )
    assert await _plan(services, s["drop_pk"]) == 1  # nothing more can come: made anyway
    batch = (await client.query(FEED, {}, token=key))["batchOrders"]["nodes"][0]
    assert batch["belowMinimum"] is True
    assert batch["lines"] == [{"size": "S", "color": "black", "quantity": 2, "shipped": 0}]


async def test_factory_flow_and_every_bad_call(
    client: GraphQLClient, services: Any, operator_token: str
) -> None:
    s = await paid_drop(client, services, operator_token, buyers=2, units=1, moq=1)  # 1 per SKU
    f, key = await _factory(client, operator_token, "Flow", 1, 100)
    _, other = await _factory(client, operator_token, "Other", 1, 100)
    await client.query(ASSIGN, {"d": s["drop"]["id"], "f": [f]}, token=s["koc"]["accessToken"])
    await close(client, s)
    assert await _settle_and_plan(services, s["drop_pk"]) == 1
    batch = (await client.query(FEED, {}, token=key))["batchOrders"]["nodes"][0]
    v0, v1 = s["variants"][0], s["variants"][1]
    # Another factory sees nothing of it.
    assert (await client.query(FEED, {}, token=other))["batchOrders"]["nodes"] == []
    denied = await client.query(ACCEPT, {"b": batch["id"]}, token=other)
    assert denied["acceptBatch"]["errors"] == [{"code": "NOT_FOUND"}]
    early = await client.query(
        SHIP, {"b": batch["id"], "t": "SF1", "q": [{"variantId": v0, "quantity": 1}]}, token=key
    )
    assert early["shipBatch"]["errors"][0]["code"] == "BATCH_NOT_ACCEPTED"
    for _ in range(2):
        assert (await client.query(ACCEPT, {"b": batch["id"]}, token=key))["acceptBatch"]["batch"][
            "status"
        ] == "ACCEPTED"
    order = s["orders"][0]
    q = "query($o: ID!) { node(id: $o) { ... on Order { status tracking } } }"
    assert (await client.query(q, {"o": order["id"]}, token=order["token"]))["node"][
        "status"
    ] == "IN_PRODUCTION"
    assert (await client.query(PROGRESS, {"b": batch["id"], "s": "SEWING"}, token=key))[
        "reportProgress"
    ]["batch"] == {"status": "IN_PRODUCTION", "stage": "SEWING"}
    back = await client.query(PROGRESS, {"b": batch["id"], "s": "CUTTING"}, token=key)
    assert back["reportProgress"]["errors"] == [{"code": "STATUS_REGRESSION"}]
    too_many = await client.query(
        SHIP, {"b": batch["id"], "t": "SF1", "q": [{"variantId": v0, "quantity": 2}]}, token=key
    )
    assert too_many["shipBatch"]["errors"][0]["code"] == "QUANTITY_EXCEEDS_ORDER"
    part = await client.query(
        SHIP, {"b": batch["id"], "t": "SF1", "q": [{"variantId": v0, "quantity": 1}]}, token=key
    )
    assert part["shipBatch"]["batch"]["status"] == "IN_PRODUCTION"
    again = await client.query(
        SHIP, {"b": batch["id"], "t": "SF1", "q": [{"variantId": v0, "quantity": 1}]}, token=key
    )
    assert again["shipBatch"]["errors"] == []  # the same shipment again: nothing changes
    node = (await client.query(q, {"o": order["id"]}, token=order["token"]))["node"]
    assert node == {"status": "SHIPPED", "tracking": ["SF SF1"]}
    deliver = (
        "mutation($o: ID!) { confirmDelivery(orderId: $o) { order { status } errors { code } } }"
    )
    for _ in range(2):
        out = await client.query(deliver, {"o": order["id"]}, token=order["token"])
        assert out["confirmDelivery"] == {"order": {"status": "DELIVERED"}, "errors": []}
    other_order = s["orders"][1]
    early = await client.query(deliver, {"o": other_order["id"]}, token=other_order["token"])
    assert early["confirmDelivery"]["errors"] == [{"code": "INVALID_TRANSITION"}]
    rest = await client.query(
        SHIP, {"b": batch["id"], "t": "SF2", "q": [{"variantId": v1, "quantity": 1}]}, token=key
    )
    assert rest["shipBatch"]["batch"]["status"] == "SHIPPED"
    view = await client.query(
        """query($d: ID!) { dropProduction(dropId: $d) {
      batches { status } skus { confirmed shipped toShip } } }""",
        {"d": s["drop"]["id"]},
        token=s["koc"]["accessToken"],
    )
    assert view["dropProduction"]["batches"] == [{"status": "SHIPPED"}]
    assert sum(x["toShip"] for x in view["dropProduction"]["skus"]) == 0
    sheet = await client.http.get(
        f"/factory/batches/{pk(batch['id'])}/sheet.csv", headers={"authorization": f"Bearer {key}"}
    )
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    assert sheet.content.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel on Windows
    rows = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    assert rows[1][0] == "size \\ colour"
    total = next(r for r in rows if r and r[0] == "total")
    assert total[-1] == "2"  # one unit of each of two SKUs
    forbidden = await client.http.get(
        f"/factory/batches/{pk(batch['id'])}/sheet.csv",
        headers={"authorization": f"Bearer {other}"},
    )
    assert forbidden.status_code == 404


SHEET_LINKS = """{ batchOrders(first: 1) { nodes { id dropId sheetUrl linesUrl packingListUrl
  lines { variant { id } size color quantity shipped } } } }"""


async def test_sheets_open_as_tables_from_links_that_work_when_clicked(
    client: GraphQLClient, services: Any, operator_token: str
) -> None:
    s = await paid_drop(client, services, operator_token, buyers=3, units=1, moq=1)
    f, key = await _factory(client, operator_token, "Sheets", 1, 100)
    nosy, _ = await _factory(client, operator_token, "Nosy", 1, 100)
    await client.query(ASSIGN, {"d": s["drop"]["id"], "f": [f]}, token=s["koc"]["accessToken"])
    await close(client, s)
    assert await _settle_and_plan(services, s["drop_pk"]) == 1
    batch = (await client.query(SHEET_LINKS, token=key))["batchOrders"]["nodes"][0]

    # A link opens with no header at all, as a click in a browser or Excel does.
    flat = await client.http.get(batch["linesUrl"])
    assert flat.status_code == 200 and flat.headers["content-type"].startswith("text/csv")
    assert "attachment" in flat.headers["content-disposition"]
    assert flat.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(flat.content.decode("utf-8-sig"))))
    ship_until = (
        await client.query(
            "query($d: ID!) { node(id: $d) { ... on Drop { shipUntil } } }",
            {"d": s["drop"]["id"]},
            token=s["koc"]["accessToken"],
        )
    )["node"]["shipUntil"]
    assert [r["sku_id"] for r in table] == [ln["variant"]["id"] for ln in batch["lines"]]
    for row, line in zip(table, batch["lines"], strict=True):
        assert row["batch_id"] == batch["id"] and row["drop_id"] == batch["dropId"]
        assert (row["size"], row["color"]) == (line["size"], line["color"])
        assert int(row["quantity"]) == line["quantity"]
        assert int(row["to_ship"]) == line["quantity"] - line["shipped"]
        assert row["ship_by"] == (ship_until or "")
    packing = await client.http.get(batch["packingListUrl"])
    parcels = list(csv.DictReader(io.StringIO(packing.content.decode("utf-8-sig"))))
    assert {r["order_id"] for r in parcels} == {o["id"] for o in s["orders"]}
    assert sum(int(r["quantity"]) for r in parcels) == 3
    assert (await client.http.get(batch["sheetUrl"])).status_code == 200

    # A link names one sheet of one batch: altered, moved or forged, it opens nothing.
    url, _, token = batch["linesUrl"].partition("?link=")
    for bad in (
        f"{url}?link={token[:-2]}xx",
        url.replace("lines.csv", "packing.csv") + f"?link={token}",
        f"{url}?link=not-a-link",
    ):
        assert (await client.http.get(bad)).status_code == 403
    assert (await client.http.get(url)).status_code == 401  # no link, no header
    # Another factory's link to this batch does not open it: the domain still decides.
    theirs = services.sheet_links.url(pk(batch["id"]), "lines", Actor(factory_id=pk(nosy)))
    assert (await client.http.get(theirs)).status_code == 404
