"""Follow-up jobs survive any failure between the commit and the queue: they are recorded with
the change (the outbox) and relayed when the push failed or the queue lost them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import infra.uow
from domain.payments.models import PaymentStep
from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.helpers import make_community, make_koc, make_open_drop, members, pk, preorder, sql
from tests.production.scenario import pay
from tests.workers.test_queue import running_worker
from workers import system

CANCEL = """mutation($d: ID!) { cancelDrop(dropId: $d) { drop { status } errors { code } } }"""
ORDER = """query($o: ID!) { node(id: $o) { ... on Order { status ledger { kind } } } }"""
REFUNDED_ONCE = [{"kind": "PAYMENT"}, {"kind": "REFUND"}]


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 20) -> None:
    for _ in range(int(seconds / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the condition never held")


async def _paid_order(
    client: GraphQLClient, operator_token: str, services: Any
) -> tuple[dict[str, Any], dict[str, Any], str]:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    (token,) = await members(client, community["inviteCode"], 1)
    drop = await make_open_drop(client, koc["accessToken"], [community["id"]])
    order = (await preorder(client, token, drop["id"], [(drop["variants"][0]["id"], 1)], "k"))[
        "order"
    ]
    assert await pay(client, services, pk(order["id"]), 5000, PaymentStep.DEPOSIT, "T1") == 204
    # The jobs of the set-up (the opening's notices, counters) are not this test's business.
    await sql(services.settings.database_url, "DELETE FROM job_outbox")
    return koc, drop, order["id"] + "|" + token


async def test_a_push_that_fails_after_the_commit_is_relayed(
    client: GraphQLClient,
    operator_token: str,
    services: Any,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    koc, drop, both = await _paid_order(client, operator_token, services)
    order_id, token = both.split("|")

    async def queue_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(infra.uow, "kick", queue_down)
    out = await client.query(CANCEL, {"d": drop["id"]}, token=koc["accessToken"])
    # The commit stood, so that is the answer: not an internal error.
    assert out["cancelDrop"] == {"drop": {"status": "CANCELLED"}, "errors": []}
    rows = await sql(settings.database_url, "SELECT name, pushed_at FROM job_outbox ORDER BY id")
    assert [(r["name"], r["pushed_at"]) for r in rows] == [
        ("drop.cancelled", None),
        ("drop.rebuild_counters", None),
    ]
    monkeypatch.undo()

    await sql(settings.database_url, "UPDATE job_outbox SET created_at = now() - interval '1 m'")
    async with running_worker(settings):  # relays on start; the jobs run, then the refund

        async def refunded() -> bool:
            node = (await client.query(ORDER, {"o": order_id}, token=token))["node"]
            return bool(node == {"status": "REFUNDED", "ledger": REFUNDED_ONCE})

        await eventually(refunded)

        async def outbox_empty() -> bool:
            return not await sql(settings.database_url, "SELECT id FROM job_outbox")

        await eventually(outbox_empty)


async def test_jobs_the_queue_lost_are_pushed_again(
    client: GraphQLClient, operator_token: str, services: Any, settings: Settings
) -> None:
    koc, drop, both = await _paid_order(client, operator_token, services)
    order_id, token = both.split("|")
    out = await client.query(CANCEL, {"d": drop["id"]}, token=koc["accessToken"])
    assert out["cancelDrop"]["errors"] == []
    await services.redis.delete(settings.queue_name)  # Redis restarted empty: the jobs are gone
    assert await system.relay_outbox(services) == 0  # pushed moments ago: not yet taken as lost
    await sql(settings.database_url, "UPDATE job_outbox SET pushed_at = now() - interval '6 m'")
    assert await system.relay_outbox(services) == 2
    async with running_worker(settings):

        async def refunded() -> bool:
            node = (await client.query(ORDER, {"o": order_id}, token=token))["node"]
            return bool(node == {"status": "REFUNDED", "ledger": REFUNDED_ONCE})

        await eventually(refunded)
    assert not await sql(settings.database_url, "SELECT id FROM job_outbox")
