"""Settlement: succeed or fail from PostgreSQL totals, exactly once."""

from __future__ import annotations

import asyncio
import textwrap
from typing import Any

from domain.drops import settlement
from domain.payments import ledger, refunds
from domain.payments.models import PaymentStep
from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.helpers import kill_when_printed
from tests.production.scenario import close, paid_drop, pay, sql

ORDER = """query($o: ID!) { node(id: $o) { ... on Order { status amountDue { amountFen }
  balanceDueAt ledger { kind amount { amountFen } } } } }"""
SETTLE = """mutation($d: ID!) { settleDrop(dropId: $d) { drop { status finalPrice { amountFen }
  paidQuantity } errors { code } } }"""


async def _settle(services: Any, drop_id: int) -> bool:
    async with services.unit_of_work() as session:
        return (await settlement.settle_drop(session, drop_id)).settled_now


async def _refund(services: Any, order_id: int) -> int:
    async with services.unit_of_work() as session:
        return await refunds.refund_order(session, services.payments, order_id)


async def _net(services: Any, order_id: int) -> int:
    async with services.sessionmaker() as session:
        return (await ledger.balance(session, order_id)).net


async def test_success_fixes_the_tier_price_and_refunds_the_difference(
    client: GraphQLClient, services: Any, operator_token: str
) -> None:
    # 6 buyers x 2 = 12 paid units: past the 10-unit tier (25900 instead of 29900).
    s = await paid_drop(client, services, operator_token, buyers=6, units=2, unpaid=1)
    settle_open = await client.query(SETTLE, {"d": s["drop"]["id"]}, token=s["koc"]["accessToken"])
    assert settle_open["settleDrop"]["errors"] == [{"code": "DROP_STILL_OPEN"}]
    await close(client, s)
    out = await client.query(SETTLE, {"d": s["drop"]["id"]}, token=s["koc"]["accessToken"])
    assert out["settleDrop"]["drop"] == {
        "status": "SUCCEEDED",
        "finalPrice": {"amountFen": 25900},
        "paidQuantity": 12,
    }
    again = await client.query(SETTLE, {"d": s["drop"]["id"]}, token=s["koc"]["accessToken"])
    assert again["settleDrop"]["errors"] == []
    from workers import production as jobs

    assert await jobs.refund_excess(s["drop_pk"], services) == 6 * 2 * 4000  # the tier difference
    assert await jobs.refund_excess(s["drop_pk"], services) == 0  # delivered twice: nothing more
    first = s["orders"][0]
    assert await _refund(services, first["pk"]) == 0  # a retried refund is the same refund
    node = (await client.query(ORDER, {"o": first["id"]}, token=first["token"]))["node"]
    assert node["status"] == "CONFIRMED"
    assert await _net(services, first["pk"]) == 2 * 25900
    unpaid = s["orders"][-1]
    node = (await client.query(ORDER, {"o": unpaid["id"]}, token=unpaid["token"]))["node"]
    assert node["status"] == "CANCELLED"


async def test_failure_refunds_everyone_and_tells_them(
    client: GraphQLClient, services: Any, operator_token: str
) -> None:
    s = await paid_drop(client, services, operator_token, buyers=2, units=1, moq=5)
    await close(client, s)
    assert await _settle(services, s["drop_pk"]) is True
    for o in s["orders"]:
        assert await _refund(services, o["pk"]) == o["amount"]
        assert await _net(services, o["pk"]) == 0
        node = (await client.query(ORDER, {"o": o["id"]}, token=o["token"]))["node"]
        assert node["status"] == "REFUNDED"
    from domain.notifications import outbox as notify
    from domain.notifications.models import NotificationKind

    assert (
        await notify.expand(services.sessionmaker, NotificationKind.DROP_FAILED, s["drop_pk"]) == 2
    )
    inbox = await client.query(
        "{ myNotifications { nodes { title } } }", token=s["orders"][0]["token"]
    )
    assert "minimum" in inbox["myNotifications"]["nodes"][0]["title"]


async def test_deposit_balance_request_payment_and_default(
    client: GraphQLClient, services: Any, operator_token: str, settings: Settings
) -> None:
    s = await paid_drop(client, services, operator_token, buyers=3, units=2, mode="DEPOSIT", moq=5)
    await close(client, s)
    assert await _settle(services, s["drop_pk"]) is True
    a, b = s["orders"][0], s["orders"][1]
    node = (await client.query(ORDER, {"o": a["id"]}, token=a["token"]))["node"]
    assert node["status"] == "DEPOSIT_PAID" and node["balanceDueAt"] is not None
    balance = node["amountDue"]["amountFen"]
    assert balance == 2 * 29900 - 2 * 5000
    # A balance of the wrong amount is money the member paid: recorded, not taken as the
    # balance, and given back in full.
    assert await pay(client, services, a["pk"], balance - 1, PaymentStep.BALANCE, "B0") == 204
    node = (await client.query(ORDER, {"o": a["id"]}, token=a["token"]))["node"]
    assert node["status"] == "DEPOSIT_PAID"
    assert await pay(client, services, a["pk"], balance, PaymentStep.BALANCE, "B1") == 204
    node = (await client.query(ORDER, {"o": a["id"]}, token=a["token"]))["node"]
    assert node["status"] == "CONFIRMED"
    assert await _refund(services, a["pk"]) == balance - 1
    assert await _refund(services, a["pk"]) == 0
    assert await _net(services, a["pk"]) == 2 * 29900
    # b never pays its balance: past the deadline it is cancelled and the deposit kept.
    await sql(
        settings,
        "UPDATE orders SET balance_due_at = now() - interval '1 second' WHERE id = $1",
        b["pk"],
    )
    async with services.unit_of_work() as session:
        from domain.drops import repository as drop_repo

        drop = await drop_repo.get(session, s["drop_pk"])
        assert await settlement.default_overdue_balances(session, drop) == 1
    node = (await client.query(ORDER, {"o": b["id"]}, token=b["token"]))["node"]
    assert node["status"] == "CANCELLED"
    assert await _refund(services, b["pk"]) == 0 and await _net(services, b["pk"]) == 2 * 5000


async def test_racing_settlements_settle_once(
    client: GraphQLClient, services: Any, operator_token: str
) -> None:
    s = await paid_drop(client, services, operator_token, buyers=3, units=2)
    await close(client, s)
    outcomes = await asyncio.gather(*[_settle(services, s["drop_pk"]) for _ in range(4)])
    assert sorted(outcomes) == [False, False, False, True]


KILLED = textwrap.dedent(
    """
    import asyncio, sys
    from domain.drops import settlement
    from domain.notifications import outbox as notify
    from infra.config import Settings
    from infra.resources import make_engine, make_sessionmaker
    from infra.uow import unit_of_work

    async def stall(*a, **k):
        print("half-way", flush=True)
        await asyncio.sleep(60)

    notify.record_event = stall   # killed after the orders were rewritten, before commit

    async def main():
        sm = make_sessionmaker(make_engine(Settings(), sys.argv[1], pool_size=1))
        async with unit_of_work(sm, None) as session:
            await settlement.settle_drop(session, int(sys.argv[2]))

    asyncio.run(main())
    """
)


async def test_settlement_killed_half_way_runs_again_cleanly(
    client: GraphQLClient, services: Any, operator_token: str, settings: Settings
) -> None:
    s = await paid_drop(client, services, operator_token, buyers=3, units=2)
    await close(client, s)
    await kill_when_printed(KILLED, [settings.database_url or "", str(s["drop_pk"])], "half-way")
    rows = await sql(settings, "SELECT status FROM drops WHERE id = $1", s["drop_pk"])
    assert rows[0]["status"] == "CLOSED"
    assert await _settle(services, s["drop_pk"]) is True
    assert await _settle(services, s["drop_pk"]) is False
    statuses = {
        r["status"]
        for r in await sql(settings, "SELECT status FROM orders WHERE drop_id = $1", s["drop_pk"])
    }
    assert statuses == {"CONFIRMED"}
