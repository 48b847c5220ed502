"""The capped-reservation failure modes of HARD-PARTS.md, each against real Redis/PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import pytest

from domain.drops import counters, inputs, preorders
from domain.drops import repository as repo
from domain.drops.reservations import keys
from domain.identity.actor import Actor
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
    assert len(await _units_held(services, drop_id)) == total  # PostgreSQL holds each unit once
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
    held = await services.reservations.reserve(s["id"], 999_999, 42, [(pk(s["v"][0]), 2)])
    assert held.units == [2, 3]
    blocked = await preorder(client, s["tokens"][1], s["drop"]["id"], [(s["v"][0], 1)], "x")
    assert blocked["errors"][0]["code"] == "SOLD_OUT"
    # The reconciler finds what PostgreSQL does not know, and puts the truth back.
    assert await counters.reconcile(services.sessionmaker, services.reservations, s["id"])
    assert not await counters.reconcile(services.sessionmaker, services.reservations, s["id"])
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

    original = repo.insert_hold

    async def stall(session, drop_id, order_id, held):
        print("reserved", flush=True)
        await asyncio.sleep(60)  # killed here: reserved in Redis, not committed

    repo.insert_hold = stall

    async def main():
        engine = make_engine(Settings(), sys.argv[1], pool_size=1)
        sm = make_sessionmaker(engine)
        store = ReservationStore(make_redis(Settings(), sys.argv[2]))
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


async def _units_held(services: Any, drop_id: int) -> list[int]:
    async with services.sessionmaker() as session:
        rows = await repo.live_reservations(session, drop_id)
    return sorted(u for r in rows for u in r.held.units)


async def test_a_redis_that_comes_back_behind_never_oversells(
    client: GraphQLClient, operator_token: str, services: Any
) -> None:
    """Redis restored from an older copy of its data (what a lagging replica promoted by a
    failover holds): its counters undercount, yet PostgreSQL refuses every unit already held."""
    s = await _drop(client, operator_token, 12, cap=10, moq=1, limit=1)
    v = s["v"][0]
    for i in range(4):
        assert (await preorder(client, s["tokens"][i], s["drop"]["id"], [(v, 1)], "a"))["order"]
    redis = services.redis
    snapshot = {k: await redis.dump(k) async for k in redis.scan_iter(f"c2m:{{drop:{s['id']}}}*")}
    for i in range(4, 8):
        assert (await preorder(client, s["tokens"][i], s["drop"]["id"], [(v, 1)], "b"))["order"]
    for key, value in snapshot.items():  # back to when 4 units were sold; 8 are
        await redis.restore(key, 0, value, replace=True)
    outs = await asyncio.gather(
        *[preorder(client, t, s["drop"]["id"], [(v, 1)], "c") for t in s["tokens"][8:]]
    )
    assert sum(1 for o in outs if o["order"]) == 2
    assert {o["errors"][0]["code"] for o in outs if not o["order"]} == {"SOLD_OUT"}
    assert await _units_held(services, s["id"]) == list(range(1, 11))
    assert await _assert_consistent(services, s["id"], 10) == 10


async def test_counters_written_by_another_redis_process_are_rebuilt(
    client: GraphQLClient, operator_token: str, services: Any
) -> None:
    """The marker names the Redis process that rebuilt the counters: after a restart or a
    failover it names another one, and nothing is sold before a rebuild from PostgreSQL."""
    s = await _drop(client, operator_token, 3, cap=5, moq=1, limit=5)
    v = s["v"][0]
    assert (await preorder(client, s["tokens"][0], s["drop"]["id"], [(v, 3)], "a"))["order"]
    ready, _, total = keys(s["id"])[:3]
    await services.redis.set(ready, "0" * 40)  # written on a Redis process that is gone
    await services.redis.set(total, 0)  # and behind
    out = await preorder(client, s["tokens"][1], s["drop"]["id"], [(v, 3)], "b")
    assert out["errors"][0]["code"] == "SOLD_OUT" and out["errors"][0]["message"].endswith(
        "2 remaining."
    )
    assert await _assert_consistent(services, s["id"], 5) == 3


async def test_a_lost_commit_reply_neither_loses_the_order_nor_frees_its_units(
    client: GraphQLClient, operator_token: str, services: Any
) -> None:
    """The connection drops after PostgreSQL committed, before the reply: the request answers
    with its order (the commit stood) and keeps the reservation; a retry gets the same order."""
    s = await _drop(client, operator_token, 2, cap=3, moq=1, limit=3)
    user_id = pk((await client.query("{ viewer { id } }", token=s["tokens"][0]))["viewer"]["id"])

    @contextlib.asynccontextmanager
    async def reply_lost() -> AsyncIterator[Any]:
        async with services.unit_of_work() as session:
            yield session
        raise ConnectionResetError("the reply to COMMIT never arrived")

    address = inputs.Address("Li", "13800000000", "Hangzhou", "Wensan Rd 1")
    order = await preorders.place_preorder(
        reply_lost,
        services.sessionmaker,
        services.reservations,
        Actor(user_id=user_id),
        s["id"],
        [(pk(s["v"][0]), 3)],
        "lost",
        address,
    )
    assert order.quantity == 3
    assert await services.reservations.has(s["id"], order.id)
    again = await preorders.place_preorder(
        services.unit_of_work,
        services.sessionmaker,
        services.reservations,
        Actor(user_id=user_id),
        s["id"],
        [(pk(s["v"][0]), 3)],
        "lost",
        address,
    )
    assert again.id == order.id
    other = await preorder(client, s["tokens"][1], s["drop"]["id"], [(s["v"][0], 1)], "o")
    assert other["errors"][0]["code"] == "SOLD_OUT"
    assert await _assert_consistent(services, s["id"], 3) == 3


async def test_a_commit_that_failed_gives_the_reservation_back(
    client: GraphQLClient, operator_token: str, services: Any
) -> None:
    s = await _drop(client, operator_token, 1, cap=3, moq=1, limit=3)
    user_id = pk((await client.query("{ viewer { id } }", token=s["tokens"][0]))["viewer"]["id"])

    @contextlib.asynccontextmanager
    async def commit_fails() -> AsyncIterator[Any]:
        async with services.sessionmaker() as session, session.begin():
            yield session
            await session.rollback()  # PostgreSQL never committed it
            raise ConnectionResetError("connection lost before COMMIT")

    with pytest.raises(ConnectionResetError):
        await preorders.place_preorder(
            commit_fails,
            services.sessionmaker,
            services.reservations,
            Actor(user_id=user_id),
            s["id"],
            [(pk(s["v"][0]), 3)],
            "failed",
            inputs.Address("Li", "13800000000", "Hangzhou", "Wensan Rd 1"),
        )
    assert await _assert_consistent(services, s["id"], 3) == 0
    assert (await services.reservations.state(s["id"])) == (0, set())
