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
    """Measured on the 2-core VM, 2026-12-01 (docs/benchmarks.md, issue 12, names each command)."""

    api_ms_preorder: float  # API CPU per placePreorder through GraphQL (one process ~ one core)
    api_ms_refusal: float  # API CPU per SOLD_OUT answer once a drop sold out
    api_ms_vote: float  # API CPU per castVote through GraphQL
    api_ms_read: float  # API CPU per drop-page read (node { ... on Drop { progress } })
    pg_ms_order: float  # PostgreSQL CPU per pre-order written by the group commit
    valkey_ms_order: float  # Valkey CPU per pre-order in a storm (script, publish, AOF fsync)
    valkey_ms_refusal: float  # Valkey CPU per read-only sold-out check


@dataclass(frozen=True)
class Behaviour:
    kocs: int
    members: int
    drops_per_koc_week: float
    peak_hour_share: float  # share of a day's drop openings that fall in the evening peak hour
    tap_share: float  # share of a drop's audience that taps "buy" in its first minute
    sell_through: float  # share of an ordinary drop's audience that buys
    viral_audience: int  # members who see the one drop that goes viral
    viral_first_ten_seconds: float  # share of the viral drop's first-minute taps in its first 10 s
    viral_cap: int  # units that drop sells
    poll_seconds: float  # a member waiting on a drop page re-reads it this often ...
    watch_seconds: float  # ... for this long after tapping
    votes_per_member_week: float
    core_target: float  # keep each core (API process, shard, database) at this share at peak


def model(c: Costs, b: Behaviour) -> dict[str, float | int]:
    audience = b.members / b.kocs  # members of one KOC's communities, on average
    drops_day = b.kocs * b.drops_per_koc_week / 7
    openings_peak_minute = drops_day * b.peak_hour_share / 60
    # Ordinary drops open all through the peak minute, so their taps add up smoothly.
    ordinary_taps_s = openings_peak_minute * audience * b.tap_share / 60
    ordinary_orders_s = openings_peak_minute * audience * b.sell_through / 60
    # The viral drop: the first 10 s of its first minute.
    viral_taps_s = b.viral_audience * b.tap_share * b.viral_first_ten_seconds / 10
    viral_orders_s = min(viral_taps_s, b.viral_cap / 10)  # what it can sell in those 10 s
    viral_refusals_s = viral_taps_s - viral_orders_s
    taps_s = ordinary_taps_s + viral_taps_s
    reads_s = taps_s * b.watch_seconds / b.poll_seconds
    votes_s = b.members * b.votes_per_member_week / (7 * 86400) * 10  # evening: 10x the mean
    orders_s = ordinary_orders_s + viral_orders_s
    refusals_s = taps_s - orders_s

    api_cpu = (
        orders_s * c.api_ms_preorder
        + refusals_s * c.api_ms_refusal
        + reads_s * c.api_ms_read
        + votes_s * c.api_ms_vote
    ) / 1000
    # Redis: every key of a drop carries its hash tag {drop:<id>}: one slot, one shard, one
    # Valkey thread. What one slot can take, and what the viral drop asks of its slot:
    slot_orders_s = b.core_target / c.valkey_ms_order * 1000
    viral_slot_cpu = (
        viral_orders_s * c.valkey_ms_order + viral_refusals_s * c.valkey_ms_refusal
    ) / 1000
    slots_for_viral = max(1, math.ceil(viral_slot_cpu / b.core_target))
    other_shard_cpu = (
        ordinary_orders_s * c.valkey_ms_order
        + (ordinary_taps_s - ordinary_orders_s) * c.valkey_ms_refusal
        + votes_s * c.valkey_ms_refusal  # a ballot's tally script costs about a check
    ) / 1000
    shards = max(3, math.ceil(other_shard_cpu / b.core_target) + slots_for_viral)
    orders_day = drops_day * audience * b.sell_through
    pg_cpu = orders_s * c.pg_ms_order / 1000
    return {
        "members_per_community": round(audience),
        "drop_openings_per_day": round(drops_day),
        "drop_openings_in_the_peak_minute": round(openings_peak_minute, 1),
        "taps_per_s_ordinary_drops": round(ordinary_taps_s),
        "taps_per_s_viral_drop_first_10s": round(viral_taps_s),
        "orders_per_s_at_peak": round(orders_s),
        "sold_out_answers_per_s_at_peak": round(refusals_s),
        "page_reads_per_s_at_peak": round(reads_s),
        "votes_per_s_evening": round(votes_s),
        "api_cores_at_peak": round(api_cpu, 1),
        "api_processes": math.ceil(api_cpu / b.core_target),
        "api_cores_without_page_polling": round(api_cpu - reads_s * c.api_ms_read / 1000, 1),
        "orders_per_s_one_slot_can_take": round(slot_orders_s),
        "viral_drop_valkey_cores": round(viral_slot_cpu, 2),
        "slots_the_viral_drop_needs": slots_for_viral,
        "redis_shards": shards,
        "postgres_cores_for_orders_at_peak": round(pg_cpu, 2),
        "orders_per_day": round(orders_day),
        "orders_per_year": round(orders_day * 365),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--kocs", type=int, default=10_000)
    p.add_argument("--members", type=int, default=100_000_000)
    p.add_argument("--drops-per-koc-week", type=float, default=2.0)
    p.add_argument("--peak-hour-share", type=float, default=0.3)
    p.add_argument("--tap-share", type=float, default=0.2)
    p.add_argument("--sell-through", type=float, default=0.05)
    p.add_argument("--viral-audience", type=int, default=5_000_000)
    p.add_argument("--viral-first-ten-seconds", type=float, default=0.5)
    p.add_argument("--viral-cap", type=int, default=100_000)
    p.add_argument("--poll-seconds", type=float, default=3.0)
    p.add_argument("--watch-seconds", type=float, default=30.0)
    p.add_argument("--votes-per-member-week", type=float, default=1.0)
    p.add_argument("--core-target", type=float, default=0.7)
    p.add_argument("--api-ms-preorder", type=float, default=0.9)
    p.add_argument("--api-ms-refusal", type=float, default=0.95)
    p.add_argument("--api-ms-vote", type=float, default=0.6)
    p.add_argument("--api-ms-read", type=float, default=3.3)
    p.add_argument("--pg-ms-order", type=float, default=0.28)
    p.add_argument("--valkey-ms-order", type=float, default=0.094)
    p.add_argument("--valkey-ms-refusal", type=float, default=0.038)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    costs = Costs(
        a.api_ms_preorder,
        a.api_ms_refusal,
        a.api_ms_vote,
        a.api_ms_read,
        a.pg_ms_order,
        a.valkey_ms_order,
        a.valkey_ms_refusal,
    )
    behaviour = Behaviour(
        a.kocs,
        a.members,
        a.drops_per_koc_week,
        a.peak_hour_share,
        a.tap_share,
        a.sell_through,
        a.viral_audience,
        a.viral_first_ten_seconds,
        a.viral_cap,
        a.poll_seconds,
        a.watch_seconds,
        a.votes_per_member_week,
        a.core_target,
    )
    out = model(costs, behaviour)
    if a.json:
        print(json.dumps({"costs": asdict(costs), "behaviour": asdict(behaviour), **out}, indent=2))
        return
    for k, v in out.items():
        print(f"{k:40} {v:>14,}")


if __name__ == "__main__":
    main()
