"""Settle a drop of N pre-orders (5 sizes x 4 colours) and build its batches; report wall time
and peak memory, for several N to show how it grows.

    python -m bench.settle_drop [--orders 20000] [--also 5000 10000]

Uses embedded servers in a temporary directory unless C2M_DATABASE_URL/C2M_REDIS_URL are set.
"""

from __future__ import annotations

import argparse
import random
import resource
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text

from bench import common
from bench.common import SECRET
from domain.community.models import Community
from domain.drops import settlement
from domain.drops.models import Drop, DropStatus, DropVariant, PaymentMode
from domain.identity.models import Factory, User
from domain.production import planner
from domain.production.models import Batch, DropFactory
from infra.config import Settings
from infra.queue import make_broker
from infra.resources import make_engine, make_sessionmaker
from infra.uow import unit_of_work


async def seed(sm: Any, n: int, tag: str) -> int:
    now = datetime.now(UTC)
    async with sm() as session, session.begin():
        koc = (
            await session.execute(
                insert(User)
                .values(wechat_openid=f"{tag}-koc", display_name="k", is_koc=True)
                .returning(User.id)
            )
        ).scalar_one()
        users = list(
            (
                await session.execute(
                    insert(User).returning(User.id),
                    [{"wechat_openid": f"{tag}-{i}", "display_name": ""} for i in range(n)],
                )
            ).scalars()
        )
        await session.execute(insert(Community).values(owner_id=koc, name="c", description=""))
        drop = (
            await session.execute(
                insert(Drop)
                .values(
                    owner_id=koc,
                    title="bench",
                    description="",
                    image_urls=[],
                    size_chart="",
                    status=DropStatus.CLOSED,
                    currency="CNY",
                    price_fen=19900,
                    tiers=[{"min_quantity": 1000, "price_fen": 17900}],
                    payment_mode=PaymentMode.FULL,
                    moq=100,
                    cap=10 * n,
                    per_member_limit=10,
                    opens_at=now - timedelta(days=2),
                    closes_at=now - timedelta(minutes=1),
                    unpaid_expiry_seconds=1800,
                    keep_deposit_on_default=True,
                    balance_hours=48,
                    closed_at=now,
                )
                .returning(Drop.id)
            )
        ).scalar_one()
        variants = list(
            (
                await session.execute(
                    insert(DropVariant).returning(DropVariant.id),
                    [
                        {"drop_id": drop, "position": i, "size": s, "color": c, "cap": None}
                        for i, (s, c) in enumerate(
                            (s, c)
                            for s in ("S", "M", "L", "XL", "XXL")
                            for c in ("red", "blue", "black", "white")
                        )
                    ],
                )
            ).scalars()
        )
        factory = (
            await session.execute(
                insert(Factory)
                .values(
                    name="F",
                    contact="",
                    categories=[],
                    min_batch=50,
                    capacity_per_day=2000,
                    lead_time_days=7,
                )
                .returning(Factory.id)
            )
        ).scalar_one()
        await session.execute(
            insert(DropFactory).values(drop_id=drop, factory_id=factory, priority=0)
        )
        rng = random.Random(n)
        await session.execute(
            text(
                """
            INSERT INTO orders (drop_id, user_id, idempotency_key, request_hash, status, quantity,
                                unit_price_fen, amount_due_fen, currency, shipping_address)
            SELECT :drop, u, 'k', '\\x00'::bytea, 'PAID', 1, 19900, 19900, 'CNY', '{}'::jsonb
            FROM unnest(CAST(:users AS bigint[])) AS u
            """
            ),
            {"drop": drop, "users": users},
        )
        order_ids = list(
            (
                await session.execute(
                    text("SELECT id FROM orders WHERE drop_id = :d ORDER BY id"), {"d": drop}
                )
            ).scalars()
        )
        await session.execute(
            text(
                "INSERT INTO order_lines (order_id, variant_id, quantity) "
                "SELECT o, v, 1 FROM unnest(CAST(:o AS bigint[]), CAST(:v AS bigint[])) AS t(o, v)"
            ),
            {"o": order_ids, "v": [rng.choice(variants) for _ in order_ids]},
        )
    return drop


async def measure(db_url: str, redis_url: str, n: int) -> dict[str, Any]:
    settings = Settings(secret_key=SECRET)
    engine = make_engine(settings, db_url, pool_size=2)
    sm = make_sessionmaker(engine)
    broker = make_broker(settings, redis_url)  # the refunds and plans settlement queues
    await broker.startup()
    drop_id = await seed(sm, n, f"settle-{n}-{int(time.time())}")
    tracemalloc.start()
    started = time.perf_counter()
    async with unit_of_work(sm, broker) as session:
        outcome = await settlement.settle_drop(session, drop_id)
    settled = time.perf_counter()
    async with unit_of_work(sm, broker) as session:
        batches = await planner.plan(session, drop_id)
    done = time.perf_counter()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    async with sm() as session:
        made = len(
            list(
                (await session.execute(select(Batch.id).where(Batch.drop_id == drop_id))).scalars()
            )
        )
    await broker.shutdown()
    await engine.dispose()
    assert outcome.settled_now and made == len(batches)
    return {
        "orders": n,
        "settle_s": round(settled - started, 2),
        "plan_s": round(done - settled, 2),
        "total_s": round(done - started, 2),
        "batches": made,
        "peak_python_alloc_mb": round(peak / 2**20, 1),
    }


async def run_all(args: argparse.Namespace, db_url: str, redis_url: str) -> dict[str, Any]:
    runs = [await measure(db_url, redis_url, n) for n in sorted({*args.also, args.orders})]
    return {
        "runs": runs,
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--also", type=int, nargs="*", default=[5000, 10000])
    common.run(run_all, parser.parse_args())


if __name__ == "__main__":
    main()
