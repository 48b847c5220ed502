"""The ceiling of one drop on one Redis shard: every key of a drop carries its hash tag, so a
drop lives in one slot, on one shard, served by one Valkey thread.

    python -m bench.slot_ceiling [--orders 200000] [--pipeline 256] [--clients 4]

Runs the real reservation script (``ReservationStore.reserve_many``, the pipelines the group
commit sends) for distinct members against one drop, then the read-only sold-out check, and
reports Valkey's own CPU per script (from ``INFO cpu``, so the client's speed does not enter)
and the scripts per second one Valkey thread could serve at 100 % and at 70 % of a core.
Valkey runs as the embedded default does: AOF with ``appendfsync always``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from bench import common
from domain.drops.reservations import Limits, ReservationStore
from infra.config import Settings
from infra.resources import make_redis


async def _cpu(redis: Any) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


async def run_all(args: argparse.Namespace, db_url: str, redis_url: str) -> dict[str, Any]:
    del db_url
    settings = Settings(secret_key=common.SECRET)
    redis = make_redis(settings, redis_url)
    store = ReservationStore(redis)
    drop_id = int(time.time())
    variants = list(range(1, 21))
    now_ms = int(time.time() * 1000)
    limits = Limits(
        opens_ms=now_ms - 60_000,
        closes_ms=now_ms + 3_600_000,
        cap=args.orders // 2,  # half sell, half are refused for the cap: both paths measured
        member_limit=2,
        variant_caps={v: None for v in variants},
    )
    await store.rebuild(drop_id, limits, [])
    out: dict[str, Any] = {"orders": args.orders, "pipeline": args.pipeline}

    async def client(start: int, step: int) -> None:
        for base in range(start, args.orders, step):
            chunk = range(base, min(base + args.pipeline, args.orders))
            await store.reserve_many(
                [(drop_id, 10_000_000 + m, m, [(variants[m % 20], 1)]) for m in chunk]
            )

    before, t = await _cpu(redis), time.perf_counter()
    await asyncio.gather(
        *(client(i * args.pipeline, args.clients * args.pipeline) for i in range(args.clients))
    )
    cpu, wall = await _cpu(redis) - before, time.perf_counter() - t
    out["reserve_valkey_cpu_us_per_script"] = round(cpu / args.orders * 1e6, 1)
    out["reserve_scripts_per_s_seen"] = round(args.orders / wall)

    async def checker(start: int, step: int) -> None:
        for base in range(start, args.orders, step):
            chunk = range(base, min(base + args.pipeline, args.orders))
            await store.cap_refusals(
                [(drop_id, 5_000_000 + m, [(variants[m % 20], 1)]) for m in chunk]
            )

    before, t = await _cpu(redis), time.perf_counter()
    await asyncio.gather(
        *(checker(i * args.pipeline, args.clients * args.pipeline) for i in range(args.clients))
    )
    cpu, wall = await _cpu(redis) - before, time.perf_counter() - t
    out["sold_out_check_valkey_cpu_us_per_script"] = round(cpu / args.orders * 1e6, 1)
    per = out["reserve_valkey_cpu_us_per_script"]
    out["one_slot_reservations_per_s_at_100pct"] = round(1e6 / per)
    out["one_slot_reservations_per_s_at_70pct"] = round(0.7e6 / per)
    await redis.aclose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--pipeline", type=int, default=256)
    parser.add_argument("--clients", type=int, default=4)
    common.run(run_all, parser.parse_args())


if __name__ == "__main__":
    main()
