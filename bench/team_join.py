"""Team joins: 1,000 members race to join 100 group-buy teams of 5 (each opened by its leader
before the clock) through GraphQL at concurrency 64, then the same through the bare endpoint
(same domain call, no GraphQL), in one run. Afterwards: no team holds more than 5 seats, every
accepted join has its order in its team, no order sits in two teams, and Redis's seats equal
PostgreSQL's for every team.

    python -m bench.team_join [--members 1000] [--teams 100] [--size 5] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench import common, loadgen
from bench.common import SECRET, gid
from domain.drops.reservations import ReservationStore
from domain.identity.tokens import TokenIssuer
from infra.config import Settings
from infra.resources import make_redis

JOIN = (
    "mutation Join($t: String!, $l: [OrderLineInput!]!, $k: String!, $a: ShippingAddressInput!)"
    " { joinTeam(shareToken: $t, lines: $l, idempotencyKey: $k, shippingAddress: $a)"
    " { team { id seatsTaken } order { id } errors { code } } }"
)
OPEN = (
    "mutation Open($d: ID!, $l: [OrderLineInput!]!, $k: String!, $a: ShippingAddressInput!)"
    " { openTeam(dropId: $d, lines: $l, idempotencyKey: $k, shippingAddress: $a)"
    " { team { id shareToken } errors { code } } }"
)
ADDRESS = {"name": "Li", "phone": "13800000000", "region": "Hangzhou", "detail": "Road 1"}


async def seed(db_url: str, people: int, size: int) -> tuple[list[int], dict[str, Any]]:
    conn = await asyncpg.connect(db_url.replace("+asyncpg", ""))
    now = datetime.now(UTC)
    tag = f"team-{int(time.time())}"
    drops: dict[str, Any] = {}
    try:
        async with conn.transaction():
            koc, users, community = await common.seed_audience(conn, tag, people)
            for name in ("graphql", "bare"):
                drop = await conn.fetchval(
                    "INSERT INTO drops (owner_id, title, description, image_urls, size_chart,"
                    " status, currency, price_fen, tiers, payment_mode, moq, cap,"
                    " per_member_limit, opens_at, closes_at, unpaid_expiry_seconds,"
                    " keep_deposit_on_default, published_at, balance_hours, team_size,"
                    " team_price_fen, team_hours, team_policy)"
                    " VALUES ($1, $2, '', '{}', '', 'OPEN', 'CNY', 29900, '[]', 'FULL', 10,"
                    " 100000, 3, $3, $4, 7200, true, $3, 48, $5, 19900, 24, 'REFUND')"
                    " RETURNING id",
                    koc,
                    f"teams {name}",
                    now - timedelta(minutes=1),
                    now + timedelta(hours=2),
                    size,
                )
                await conn.execute(
                    "INSERT INTO drop_communities (drop_id, community_id) VALUES ($1, $2)",
                    drop,
                    community,
                )
                variants = [
                    r[0]
                    for r in await conn.fetch(
                        "INSERT INTO drop_variants (drop_id, position, size, color)"
                        " SELECT $1, (s - 1) * 4 + c, 'S' || s, 'C' || c"
                        " FROM generate_series(1, 5) s, generate_series(1, 4) c RETURNING id",
                        drop,
                    )
                ]
                drops[name] = (drop, variants)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return users, drops


def _pk(global_id: str) -> int:
    return int(base64.b64decode(global_id).decode().split(":")[1])


async def verify(
    db_url: str, redis_url: str, drop_id: int, size: int, accepted: dict[int, int]
) -> dict[str, object]:
    """``accepted``: order id -> the team the response named."""
    conn = await asyncpg.connect(db_url.replace("+asyncpg", ""))
    redis = make_redis(Settings(secret_key=SECRET), redis_url)
    try:
        seats = {
            r["team_id"]: r["n"]
            for r in await conn.fetch(
                "SELECT t.id AS team_id, count(o.id) AS n FROM teams t LEFT JOIN orders o"
                " ON o.team_id = t.id AND o.status NOT IN ('CANCELLED', 'REFUNDED')"
                " WHERE t.drop_id = $1 GROUP BY t.id",
                drop_id,
            )
        }
        rows = await conn.fetch(
            "SELECT id, team_id FROM orders WHERE id = ANY($1::bigint[])", list(accepted)
        )
        store = ReservationStore(redis)
        in_redis = {t: await store.team_seats(drop_id, t) for t in seats}
        return {
            "teams": len(seats),
            "seats_taken": sum(seats.values()),
            "teams_over_size": sum(1 for n in seats.values() if n > size),
            "accepted_joins_missing_or_in_another_team": len(accepted)
            - sum(1 for r in rows if accepted[r["id"]] == r["team_id"]),
            "redis_seats_equal_postgres": in_redis == seats,
        }
    finally:
        await redis.aclose()
        await conn.close()


async def race(args: argparse.Namespace, db_url: str, redis_url: str) -> dict[str, object]:
    people, drops = await seed(db_url, args.teams + args.members, args.size)
    leaders, joiners = people[: args.teams], people[args.teams :]
    issuer = TokenIssuer(SECRET, 4 * 3600)
    tokens = {u: issuer.issue(u).token for u in people}
    rng = random.Random(5)
    results: dict[str, object] = {}
    with common.api_and_bare(db_url, redis_url, args.workers) as (api, gql_port, bare, bare_port):
        profilers = common.profile(args, {"graphql": api, "bare": bare})
        for name in ("graphql", "bare"):
            drop_id, variants = drops[name]
            opens = [
                loadgen.build_request(
                    "127.0.0.1",
                    gql_port,
                    "/graphql",
                    {
                        "query": OPEN,
                        "operationName": "Open",
                        "variables": {
                            "d": gid("Drop", drop_id),
                            "l": [{"variantId": gid("DropVariant", variants[0]), "quantity": 1}],
                            "k": f"open-{name}-{u}",
                            "a": ADDRESS,
                        },
                    },
                    {"Authorization": f"Bearer {tokens[u]}"},
                )
                for u in leaders
            ]
            opened = await loadgen.run(
                "127.0.0.1", gql_port, opens, 16, lambda s, b: b'"errors":[]' in b,
                keep_bodies=True,
            )  # fmt: skip
            assert opened.failed == 0, "a leader could not open a team"
            shares = [
                json.loads(b)["data"]["openTeam"]["team"]["shareToken"] for b in opened.bodies
            ]
            plan = [(u, rng.choice(shares), rng.choice(variants)) for u in joiners]
            if name == "graphql":
                reqs = [
                    loadgen.build_request(
                        "127.0.0.1",
                        gql_port,
                        "/graphql",
                        {
                            "query": JOIN,
                            "operationName": "Join",
                            "variables": {
                                "t": share,
                                "l": [{"variantId": gid("DropVariant", v), "quantity": 1}],
                                "k": f"join-{name}-{u}",
                                "a": ADDRESS,
                            },
                        },
                        {"Authorization": f"Bearer {tokens[u]}"},
                    )
                    for u, share, v in plan
                ]
                port = gql_port
            else:
                reqs = [
                    loadgen.build_request(
                        "127.0.0.1",
                        bare_port,
                        "/join",
                        {
                            "token": share,
                            "lines": [[v, 1]],
                            "key": f"join-{name}-{u}",
                            "address": ADDRESS,
                        },
                        {"Authorization": f"Bearer {tokens[u]}"},
                    )
                    for u, share, v in plan
                ]
                port = bare_port

            def ok(status: int, body: bytes) -> bool:
                return status == 200 and (b'"order":{' in body or b'"order":' in body)

            out = await loadgen.run("127.0.0.1", port, reqs, args.concurrency, ok, keep_bodies=True)
            accepted: dict[int, int] = {}
            refused: dict[str, int] = {}
            for body in out.bodies:
                data = json.loads(body)
                if name == "graphql":
                    p = (data.get("data") or {}).get("joinTeam") or {}
                    if p.get("order"):
                        accepted[_pk(p["order"]["id"])] = _pk(p["team"]["id"])
                    errors = p.get("errors") or data.get("errors") or []
                    for e in errors:
                        code = e.get("code") or (e.get("extensions") or {}).get("code")
                        refused[code] = refused.get(code, 0) + 1
                elif "order" in data:
                    accepted[int(data["order"])] = int(data["team"])
                else:
                    refused[data.get("error", "?")] = refused.get(data.get("error", "?"), 0) + 1
            check = await verify(db_url, redis_url, drop_id, args.size, accepted)
            results[name] = {
                "joins": len(reqs),
                "accepted": len(accepted),
                "refused": refused,
                "seconds": round(out.elapsed, 2),
                "joins_per_s": round(out.rate, 1),
                "p50_ms": round(out.percentile(50) * 1000, 1),
                "p99_ms": round(out.percentile(99) * 1000, 1),
                **check,
            }
        for profiler in profilers:
            profiler.wait()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--teams", type=int, default=100)
    parser.add_argument("--size", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64)
    common.storm_options(parser)
    common.run(race, parser.parse_args())


if __name__ == "__main__":
    main()
