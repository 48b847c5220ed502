"""The capped-reservation failure modes of HARD-PARTS.md, each against real Redis/PostgreSQL."""

from __future__ import annotations

import asyncio
import textwrap
from typing import Any

from domain.drops import counters
from domain.drops import repository as repo
from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.helpers import (
    kill_when_printed,
    make_community,
    make_koc,
    make_open_drop,
    members,
    pk,
    preorder,
)


async def _drop(
    client: GraphQLClient, operator_token: str, buyers: int, **kw: Any
) -> dict[str, Any]:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    tokens = await members(client, community["inviteCode"], buyers, prefix="b")
    drop = await make_open_drop(client, koc["accessToken"], [community["id"]], **kw)
    return {
        "tokens": tokens,
        "drop": drop,
        "v": [x["id"] for x in drop["variants"]],
        "id": pk(drop["id"]),
    }


async def _assert_consistent(services: Any, drop_id: int, cap: int) -> int:
    async with services.sessionmaker() as session:
        total, per_variant = await repo.sold(session, drop_id)
    live = await services.reservations.progress(drop_id)
    assert total <= cap
    assert live.reserved == total
    assert {k: q for k, q in live.per_variant.items() if q} == per_variant
    return total


async def test_redis_wiped_mid_sale_never_oversells(
    client: GraphQLClient, operator_token: str, services: Any
) -> None:
    s = await _drop(client, operator_token, 40, cap=20, limit=2)
    first = await asyncio.gather(
        *[preorder(client, t, s["drop"]["id"], [(s["v"][0], 1)], "a") for t in s["tokens"][:12]]
    )
    assert all(not o["errors"] for o in first)
    await services.redis.flushdb()  # Redis restarts empty: counters read 0, marker gone
    rest = await asyncio.gather(
        *[preorder(client, t, s["drop"]["id"], [(s["v"][1], 2)], "b") for t in s["tokens"][12:]]
    )
    sold = sum(o["order"]["quantity"] for o in first + rest if o["order"])
    assert sold == 20  # 12 before, then exactly the 8 that were left
    assert await _assert_consistent(services, s["id"], 20) == 20


async def test_rebuilds_racing_orders_stay_exact(
    client: GraphQLClient, operator_token: str, services: Any
) -> None:
    s = await _drop(client, operator_token, 30, cap=25, limit=1)

    async def rebuild_loop() -> None:
        for _ in range(10):
            await counters.rebuild_counters(services.sessionmaker, services.reservations, s["id"])
            await asyncio.sleep(0.01)

    outs, _ = await asyncio.gather(
        asyncio.gather(
            *[
                preorder(client, t, s["drop"]["id"], [(s["v"][i % 4], 1)], "r")
                for i, t in enumerate(s["tokens"])
            ]
        ),
        rebuild_loop(),
    )
    sold = sum(o["order"]["quantity"] for o in outs if o["order"])
    assert sold == 25
    assert await _assert_consistent(services, s["id"], 25) == 25


async def test_phantom_reservation_is_released_by_the_reconciler(
    client: GraphQLClient, operator_token: str, services: Any
) -> None:
    s = await _drop(client, operator_token, 2, cap=3, moq=1, limit=3)
    await preorder(client, s["tokens"][0], s["drop"]["id"], [(s["v"][0], 1)], "real")
    # A process reserved for order 999999 and died before writing it.
    assert await services.reservations.reserve(s["id"], 999_999, 42, [(pk(s["v"][0]), 2)]) is None
    blocked = await preorder(client, s["tokens"][1], s["drop"]["id"], [(s["v"][0], 1)], "x")
    assert blocked["errors"][0]["code"] == "SOLD_OUT"
    await counters.rebuild_counters(services.sessionmaker, services.reservations, s["id"])
    ok = await preorder(client, s["tokens"][1], s["drop"]["id"], [(s["v"][0], 2)], "y")
    assert ok["errors"] == []
    assert await _assert_consistent(services, s["id"], 3) == 3


PLACER = textwrap.dedent(
    """
    import asyncio, sys
    from domain.drops import repository as repo
    from domain.drops import counters, inputs, preorders
    from domain.drops.reservations import ReservationStore
    from domain.identity.actor import Actor
    from infra.config import Settings
    from infra.resources import make_engine, make_redis, make_sessionmaker
    from infra.uow import unit_of_work

    original = repo.insert_lines

    async def stall(session, order_id, lines):
        print("reserved", flush=True)
        await asyncio.sleep(60)  # killed here: reserved in Redis, not committed

    repo.insert_lines = stall

    async def main():
        engine = make_engine(Settings(), sys.argv[1], pool_size=1)
        sm = make_sessionmaker(engine)
        store = ReservationStore(make_redis(sys.argv[2]))
        await preorders.place_preorder(
            lambda: unit_of_work(sm, None), sm, store, Actor(user_id=int(sys.argv[3])),
            int(sys.argv[4]), [(int(sys.argv[5]), 2)], "killed",
            inputs.Address("n", "13800000000", "r", "d"))

    asyncio.run(main())
    """
)


async def test_process_killed_between_reservation_and_commit(
    client: GraphQLClient, operator_token: str, services: Any, settings: Settings
) -> None:
    s = await _drop(client, operator_token, 2, cap=2, moq=1, limit=2)
    viewer = await client.query("{ viewer { id } }", token=s["tokens"][0])
    uid = pk(viewer["viewer"]["id"])
    await kill_when_printed(
        PLACER,
        [
            settings.database_url or "",
            settings.redis_url or "",
            str(uid),
            str(s["id"]),
            str(pk(s["v"][0])),
        ],
        "reserved",
    )
    live = await services.reservations.progress(s["id"])
    assert live.reserved == 2  # the phantom holds the whole cap ...
    async with services.sessionmaker() as session:
        assert (await repo.sold(session, s["id"]))[0] == 0  # ... that PostgreSQL never sold
    await counters.rebuild_counters(services.sessionmaker, services.reservations, s["id"])
    ok = await preorder(client, s["tokens"][1], s["drop"]["id"], [(s["v"][0], 2)], "after")
    assert ok["errors"] == []
    assert await _assert_consistent(services, s["id"], 2) == 2
