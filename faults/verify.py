"""The invariants every fault scenario ends by checking (``../shared/HARD-PARTS.md``)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from domain.drops import counters
from domain.drops.reservations import ReservationStore
from domain.polls.live import LivePolls
from faults.load import Record, Scene
from infra.config import Settings
from infra.resources import make_engine, make_redis, make_sessionmaker

LIVE = "o.status NOT IN ('CANCELLED', 'REFUNDED')"


@dataclass
class Verdict:
    facts: dict[str, Any] = field(default_factory=dict)
    broken: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.broken.append(what)


KEPT = (
    "SELECT o.id, sum(CASE WHEN l.kind = 'PAYMENT' THEN l.amount_fen ELSE -l.amount_fen END), "
    "o.unit_price_fen * o.quantity FROM orders o JOIN payment_ledger l ON l.order_id = o.id "
    "WHERE o.drop_id = :d GROUP BY o.id HAVING sum(CASE WHEN l.kind = 'PAYMENT' "
    "THEN l.amount_fen ELSE -l.amount_fen END) > o.unit_price_fen * o.quantity"
)


async def verify(
    database_url: str, redis_url: str, scene: Scene, record: Record, settle_seconds: float = 60
) -> Verdict:
    v = Verdict()
    settings = Settings()
    engine = make_engine(settings, database_url, pool_size=2)
    redis = make_redis(settings, redis_url)
    sm = make_sessionmaker(engine)
    try:
        async with sm() as session:

            async def rows(sql: str, **params: Any) -> list[Any]:
                return list((await session.execute(text(sql), params)).all())

            # 1. Every acknowledged pre-order exists.
            existing = {
                r[0]
                for r in await rows("SELECT id FROM orders WHERE drop_id = :d", d=scene.drop_id)
            }
            missing = record.acked_orders - existing
            v.facts["orders acknowledged"] = len(record.acked_orders)
            v.check(
                not missing, f"{len(missing)} acknowledged orders missing: {sorted(missing)[:5]}"
            )

            # 2. Nothing oversold: the cap, each variant's cap, each member's limit.
            sold = (
                await rows(
                    f"SELECT coalesce(sum(quantity), 0) FROM orders o "
                    f"WHERE drop_id = :d AND {LIVE}",
                    d=scene.drop_id,
                )
            )[0][0]
            v.facts["units sold"] = int(sold)
            v.check(sold <= scene.cap, f"oversold: {sold} > cap {scene.cap}")
            per_variant = dict(
                await rows(
                    f"SELECT l.variant_id, sum(l.quantity) FROM order_lines l JOIN orders o "
                    f"ON o.id = l.order_id WHERE o.drop_id = :d AND {LIVE} GROUP BY 1",
                    d=scene.drop_id,
                )
            )
            for variant, cap in scene.variant_caps.items():
                v.check(
                    per_variant.get(variant, 0) <= cap,
                    f"variant {variant} oversold: {per_variant.get(variant)} > {cap}",
                )
            over = await rows(
                f"SELECT user_id, sum(quantity) FROM orders o WHERE drop_id = :d "
                f"AND {LIVE} GROUP BY 1 HAVING sum(quantity) > :lim",
                d=scene.drop_id,
                lim=scene.member_limit,
            )
            v.check(not over, f"members over their limit: {over[:5]}")
            units = (
                await rows("SELECT count(*) FROM drop_units WHERE drop_id = :d", d=scene.drop_id)
            )[0][0]
            v.check(units == sold, f"units held in PostgreSQL ({units}) differ from sold ({sold})")

            # 3. Every acknowledged vote is there (or a later ballot of the same member is).
            ballots = {
                u: sorted(o)
                for u, o in await rows(
                    "SELECT user_id, option_ids FROM ballots WHERE poll_id = :p", p=scene.poll_id
                )
            }
            lost_votes = [
                m
                for m, last in record.last_acked_ballot.items()
                if ballots.get(m) not in record.ballots[m][last:]
            ]
            v.facts["voters acknowledged"] = len(record.last_acked_ballot)
            v.check(not lost_votes, f"{len(lost_votes)} acknowledged votes lost: {lost_votes[:5]}")

            # 4. No money kept twice: a payment once per provider transaction, and no order
            # holding more than it owes once the refunds it caused have run (within a bound).
            started = time.monotonic()
            while True:
                kept = await rows(KEPT, d=scene.drop_id)
                if not kept or time.monotonic() - started > settle_seconds:
                    break
                await session.rollback()
                await asyncio.sleep(0.25)
            v.facts["seconds until no order held more than it owes"] = round(
                time.monotonic() - started, 2
            )
            v.check(not kept, f"orders holding more than they owe: {kept[:5]}")
            v.facts["payments"] = (
                await rows(
                    "SELECT count(*) FROM payment_ledger l JOIN orders o ON o.id = l.order_id "
                    "WHERE o.drop_id = :d AND l.kind = 'PAYMENT'",
                    d=scene.drop_id,
                )
            )[0][0]

        # 5. Redis equals PostgreSQL once reconciled (the worker's own reconcilers, run now).
        store = ReservationStore(redis)
        repaired = await counters.reconcile(sm, store, scene.drop_id)
        v.facts["drop counters repaired by the reconciler"] = repaired
        v.check(
            not await counters.reconcile(sm, store, scene.drop_id),
            "drop counters still differ from PostgreSQL after reconciling",
        )
        live = LivePolls(sm, redis)
        await live.rebuild(scene.poll_id, force=True)
        tally = await live.read(scene.poll_id)
        async with sm() as session:
            pg: dict[int, int] = dict(
                (
                    await session.execute(
                        text(
                            "SELECT o, count(*) FROM ballots, unnest(option_ids) AS o "
                            "WHERE poll_id = :p GROUP BY o"
                        ),
                        {"p": scene.poll_id},
                    )
                ).all()
            )
        v.check(
            {k: c for k, c in tally.counts.items() if c} == {int(k): int(c) for k, c in pg.items()},
            f"poll tally {tally.counts} differs from PostgreSQL {pg}",
        )
    finally:
        await redis.aclose()
        await engine.dispose()
    return v
