"""Worker jobs of drops: scheduled opening (with the voters' notifications), closing, expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.helpers import PROGRESS, make_community, make_koc, make_open_drop, members, pk, preorder
from workers import drops as drop_jobs


async def _sql(settings: Settings, query: str, *args: Any) -> Any:
    conn = await asyncpg.connect((settings.database_url or "").replace("+asyncpg", ""))
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def test_scheduled_drop_opens_notifies_and_closes(
    client: GraphQLClient, operator_token: str, services: Any, settings: Settings
) -> None:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    tokens = await members(client, community["inviteCode"], 2)
    drop = await make_open_drop(client, koc["accessToken"], [community["id"]],
                                opens_in=timedelta(hours=1), closes_in=timedelta(hours=2))
    assert drop["status"] == "SCHEDULED"
    assert await drop_jobs.open_due(services) == 0
    await _sql(settings, "UPDATE drops SET opens_at = now() - interval '1 second' WHERE id = $1",
               pk(drop["id"]))
    assert await drop_jobs.open_due(services) == 1
    assert await drop_jobs.open_due(services) == 0  # once
    rows = await _sql(settings, "SELECT count(*) AS n FROM notification_events WHERE subject_id = $1",
                      pk(drop["id"]))
    assert rows[0]["n"] == 1
    ok = await preorder(client, tokens[0], drop["id"], [(drop["variants"][0]["id"], 1)], "k")
    assert ok["errors"] == []
    await _sql(settings, "UPDATE drops SET closes_at = now() - interval '1 second', "
               "opens_at = now() - interval '1 hour' WHERE id = $1", pk(drop["id"]))
    assert await drop_jobs.close_due(services) == 1
    late = await preorder(client, tokens[1], drop["id"], [(drop["variants"][0]["id"], 1)], "k")
    assert late["errors"][0]["code"] == "DROP_CLOSED"


async def test_unpaid_orders_expire_and_give_capacity_back(
    client: GraphQLClient, operator_token: str, services: Any, settings: Settings
) -> None:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    tokens = await members(client, community["inviteCode"], 2)
    drop = await make_open_drop(client, koc["accessToken"], [community["id"]], cap=2, moq=1,
                                limit=2)
    v = drop["variants"][0]["id"]
    first = await preorder(client, tokens[0], drop["id"], [(v, 2)], "a")
    assert (await preorder(client, tokens[1], drop["id"], [(v, 1)], "b"))["errors"][0]["code"] == "SOLD_OUT"
    await _sql(settings, "UPDATE orders SET expires_at = now() - interval '1 second' WHERE id = $1",
               pk(first["order"]["id"]))
    assert await drop_jobs.expire_due(services) == 1
    assert await drop_jobs.expire_due(services) == 0
    p = (await client.query(PROGRESS, {"d": drop["id"]}, token=tokens[1]))["node"]["progress"]
    assert p["totalQuantity"] == 0
    assert (await preorder(client, tokens[1], drop["id"], [(v, 2)], "c"))["errors"] == []
