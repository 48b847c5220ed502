"""Relay pagination both ways: `myOrders(last:, before:)` pages from the newest order back, in the
list's own order, with `totalCount`; the inbox counts too; `first` and `last` together, or a
forged cursor, are typed errors."""

from __future__ import annotations

from typing import Any

from domain.notifications import outbox
from domain.notifications.models import NotificationKind
from tests.conftest import GraphQLClient
from tests.helpers import make_community, make_koc, make_open_drop, members, pk, preorder
from tests.notifications.test_drop_opened import _opened_drop

ORDERS = """query($first: Int, $after: String, $last: Int, $before: String) {
  myOrders(first: $first, after: $after, last: $last, before: $before) {
    totalCount nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""


async def test_orders_page_backward_from_the_newest(
    client: GraphQLClient, operator_token: str
) -> None:
    kt = (await make_koc(client, operator_token))["accessToken"]
    community = await make_community(client, kt)
    (member,) = await members(client, community["inviteCode"], 1, prefix="pages")
    drop = await make_open_drop(client, kt, [community["id"]], limit=10)
    ids = []
    for i in range(5):
        out = await preorder(client, member, drop["id"], [(drop["variants"][0]["id"], 1)], f"p{i}")
        ids.append(out["order"]["id"])

    async def page(**args: Any) -> dict[str, Any]:
        out: dict[str, Any] = (await client.query(ORDERS, args, token=member))["myOrders"]
        return out

    newest = await page(last=2)
    assert [n["id"] for n in newest["nodes"]] == ids[3:]  # the list's order: oldest first
    assert newest["totalCount"] == 5
    assert newest["pageInfo"]["hasPreviousPage"] is True
    assert newest["pageInfo"]["hasNextPage"] is False
    middle = await page(last=2, before=newest["pageInfo"]["startCursor"])
    assert [n["id"] for n in middle["nodes"]] == ids[1:3]
    assert middle["pageInfo"]["hasPreviousPage"] is True and middle["pageInfo"]["hasNextPage"]
    oldest = await page(last=2, before=middle["pageInfo"]["startCursor"])
    assert [n["id"] for n in oldest["nodes"]] == ids[:1]
    assert oldest["pageInfo"]["hasPreviousPage"] is False

    # Forward as before, and the two directions meet.
    forward = await page(first=3)
    assert [n["id"] for n in forward["nodes"]] == ids[:3]
    assert forward["pageInfo"]["hasNextPage"] and not forward["pageInfo"]["hasPreviousPage"]
    rest = await page(first=3, after=forward["pageInfo"]["endCursor"])
    assert [n["id"] for n in rest["nodes"]] == ids[3:]
    assert rest["pageInfo"]["hasPreviousPage"] is True

    for bad, field in (
        ({"first": 2, "last": 2}, "last"),
        ({"last": 0}, "last"),
        ({"last": 101}, "last"),
        ({"last": 2, "before": "bm90LWEtY3Vyc29y"}, "before"),
    ):
        resp = await client.post({"query": ORDERS, "variables": bad}, token=member)
        error = resp.json()["errors"][0]
        assert error["extensions"]["code"] == "INVALID_INPUT", bad
        assert error["extensions"]["field"] == field, bad


async def test_the_inbox_counts_and_pages_back(
    client: GraphQLClient, operator_token: str, services: Any
) -> None:
    s = await _opened_drop(client, operator_token)
    await outbox.expand(services.sessionmaker, NotificationKind.DROP_OPENED, pk(s["drop"]["id"]))
    doc = """query($last: Int, $unread: Boolean!) { myNotifications(last: $last,
      unreadOnly: $unread) { totalCount nodes { id } pageInfo { hasPreviousPage } } }"""
    inbox = (await client.query(doc, {"last": 5, "unread": False}, token=s["tokens"][0]))[
        "myNotifications"
    ]
    assert inbox["totalCount"] == 1 and len(inbox["nodes"]) == 1
    assert inbox["pageInfo"]["hasPreviousPage"] is False
    opted = (await client.query(doc, {"last": 5, "unread": True}, token=s["tokens"][4]))[
        "myNotifications"
    ]
    assert opted == {"totalCount": 0, "nodes": [], "pageInfo": {"hasPreviousPage": False}}
