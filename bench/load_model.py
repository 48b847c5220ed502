"""A load model for c2m at platform scale, from costs measured on this machine.

    python -m bench.load_model [--kocs 10000] [--members 100000000] [--viral-audience 5000000]
                               [--json]

Arithmetic, not a simulation of code: it takes the per-request costs measured by the benches
(docs/benchmarks.md names each command) and a stated model of how members behave, and prints what
each engine must carry at the peak and how many of each part that takes. Change a flag to see how
the plan moves; docs/scaling.md quotes the default run.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Costs:
    """Measured on the 2-core VM, 2026-12-01 (docs/benchmarks.md, issue 12)."""

    api_ms_preorder: float  # API CPU per placePreorder through GraphQL (one process ~ one core)
    api_ms_vote: float  # API CPU per castVote through GraphQL
    api_ms_read: float  # API CPU per drop-page read (drop { progress }) through the executor
    pg_ms_order: float  # PostgreSQL CPU per pre-order written by the group commit
    valkey_script_us: float  # Valkey CPU per reservation script inside a pipeline
    valkey_core_share: float  # share of one core a Valkey shard may use before latency suffers


@dataclass(frozen=True)
class Behaviour:
    kocs: int
    members: int
    drops_per_koc_week: float
    peak_hour_share: float  # share of a day's drop openings that fall in the evening peak hour
    tap_share: float  # share of a drop's audience that taps "buy" in the first minute
    first_ten_seconds: float  # share of the first minute's taps that land in its first 10 s
    sell_through: float  # share of an ordinary drop's audience that ends up buying
    viral_audience: int  # members who see the one drop that goes viral
    viral_cap: int  # units that drop sells
    readers_per_tapper: float  # drop-page polls per second per member waiting on the page
    votes_per_member_week: float


def model(c: Costs, b: Behaviour) -> dict[str, object]:
    audience = b.members / b.kocs  # members per KOC community, on average
    drops_day = b.kocs * b.drops_per_koc_week / 7
    peak_minute_openings = drops_day * b.peak_hour_share / 60
    # Ordinary drops: taps of the drops opening in one peak minute, peak-shaped.
    ordinary_taps_s = peak_minute_openings * audience * b.tap_share / 60
    ordinary_peak_s = ordinary_taps_s * b.first_ten_seconds * 6
    # The viral drop: its whole first minute, peak-shaped.
    viral_taps = b.viral_audience * b.tap_share
    viral_peak_s = viral_taps * b.first_ten_seconds / 10
    writes_peak_s = ordinary_peak_s + viral_peak_s
    reads_peak_s = (ordinary_peak_s + viral_peak_s) * b.readers_per_tapper * 10
    votes_s = b.members * b.votes_per_member_week / (7 * 86400) * 10  # evening: 10x the mean

    api_cores = (
        writes_peak_s * c.api_ms_preorder + reads_peak_s * c.api_ms_read + votes_s * c.api_ms_vote
    ) / 1000
    api_processes = math.ceil(api_cores / 0.7)  # one process per core, kept at 70 %

    # Redis: one drop lives in one hash slot, hence on one shard and one Valkey thread.
    slot_ceiling_s = c.valkey_core_share * 1e6 / c.valkey_script_us
    viral_slots = max(1, math.ceil(viral_peak_s / slot_ceiling_s))
    shard_load_s = ordinary_peak_s + votes_s  # spread over slots by the hash tags
    shards = max(3, math.ceil(shard_load_s / slot_ceiling_s) + viral_slots)

    # PostgreSQL: only placed orders are written (a refusal costs a guarded read-and-undo in a
    # shared batch); orders a day and a year decide partitioning.
    orders_day = drops_day * audience * b.sell_through
    orders_peak_s = min(viral_peak_s, b.viral_cap / 10) + ordinary_peak_s * b.sell_through / (
        b.tap_share
    )
    pg_cores = (orders_peak_s + writes_peak_s * 0.25) * c.pg_ms_order / 1000
    return {
        "costs": asdict(c),
        "behaviour": asdict(b),
        "members_per_community": round(audience),
        "drop_openings_per_day": round(drops_day),
        "drop_openings_in_the_peak_minute": round(peak_minute_openings, 1),
        "ordinary_drops_taps_per_s_at_peak": round(ordinary_peak_s),
        "viral_drop_taps_per_s_at_peak": round(viral_peak_s),
        "writes_per_s_at_peak": round(writes_peak_s),
        "reads_per_s_at_peak": round(reads_peak_s),
        "votes_per_s_evening": round(votes_s),
        "api_cores": round(api_cores, 1),
        "api_processes_at_70pct": api_processes,
        "reservations_per_s_one_slot_ceiling": round(slot_ceiling_s),
        "slots_the_viral_drop_needs": viral_slots,
        "redis_shards": shards,
        "orders_per_day": round(orders_day),
        "orders_per_year": round(orders_day * 365),
        "orders_written_per_s_at_peak": round(orders_peak_s),
        "postgres_cores_for_orders": round(pg_cores, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--kocs", type=int, default=10_000)
    p.add_argument("--members", type=int, default=100_000_000)
    p.add_argument("--drops-per-koc-week", type=float, default=2.0)
    p.add_argument("--peak-hour-share", type=float, default=0.3)
    p.add_argument("--tap-share", type=float, default=0.2)
    p.add_argument("--first-ten-seconds", type=float, default=0.5)
    p.add_argument("--sell-through", type=float, default=0.05)
    p.add_argument("--viral-audience", type=int, default=5_000_000)
    p.add_argument("--viral-cap", type=int, default=100_000)
    p.add_argument("--readers-per-tapper", type=float, default=0.2)
    p.add_argument("--votes-per-member-week", type=float, default=1.0)
    p.add_argument("--api-ms-preorder", type=float, default=1.05)
    p.add_argument("--api-ms-vote", type=float, default=0.73)
    p.add_argument("--api-ms-read", type=float, default=1.2)
    p.add_argument("--pg-ms-order", type=float, default=0.25)
    p.add_argument("--valkey-script-us", type=float, default=40.0)
    p.add_argument("--valkey-core-share", type=float, default=0.7)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    out = model(
        Costs(
            a.api_ms_preorder,
            a.api_ms_vote,
            a.api_ms_read,
            a.pg_ms_order,
            a.valkey_script_us,
            a.valkey_core_share,
        ),
        Behaviour(
            a.kocs,
            a.members,
            a.drops_per_koc_week,
            a.peak_hour_share,
            a.tap_share,
            a.first_ten_seconds,
            a.sell_through,
            a.viral_audience,
            a.viral_cap,
            a.readers_per_tapper,
            a.votes_per_member_week,
        ),
    )
    if a.json:
        print(json.dumps(out, indent=2))
        return
    for k, v in out.items():
        if not isinstance(v, dict):
            print(f"{k:40} {v:>14,}" if isinstance(v, int) else f"{k:40} {v:>14}")


if __name__ == "__main__":
    main()
