"""Pre-order storm: 2,000 distinct members race for a drop with cap 300 through the HTTP GraphQL
endpoint, then the same through a bare Starlette endpoint (same domain call, no GraphQL), in one
run. Afterwards: exactly 300 units sold, 0 oversold, 0 lost, Redis counters equal PostgreSQL, and
every successful response has its order in the database.

    python -m bench.preorder_storm [--members 2000] [--cap 300] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from bench import common, loadgen
from bench.common import SECRET, gid
from domain.community.models import Community, CommunityMember, MembershipStatus
from domain.drops import repository as drop_repo
from domain.drops.models import Drop, DropCommunity, DropStatus, DropVariant, Order, PaymentMode
from domain.drops.reservations import ReservationStore
from domain.identity.models import User
from domain.identity.tokens import TokenIssuer
from infra.config import Settings
from infra.resources import make_engine, make_redis, make_sessionmaker

PLACE = (
    "mutation Place($d: ID!, $l: [OrderLineInput!]!, $k: String!, $a: ShippingAddressInput!)"
    " { placePreorder(dropId: $d, lines: $l, idempotencyKey: $k, shippingAddress: $a)"
    " { order { id quantity } errors { code } } }"
)
ADDRESS = {"name": "Li", "phone": "13800000000", "region": "Hangzhou", "detail": "Road 1"}


async def seed(
    db_url: str, members: int, cap: int
) -> tuple[list[int], dict[str, tuple[int, list[int]]]]:
    engine = make_engine(Settings(secret_key=SECRET), db_url, pool_size=2)
    sm = make_sessionmaker(engine)
    now = datetime.now(UTC)
    tag = f"pre-{int(time.time())}"
    async with sm() as session, session.begin():
        koc = (
            await session.execute(
                insert(User)
                .values(wechat_openid=f"{tag}-koc", display_name="KOC", is_koc=True)
                .returning(User.id)
            )
        ).scalar_one()
        users = list(
            (
                await session.execute(
                    insert(User).returning(User.id),
                    [
                        {"wechat_openid": f"{tag}-{i}", "display_name": f"m{i}"}
                        for i in range(members)
                    ],
                )
            ).scalars()
        )
        community = (
            await session.execute(
                insert(Community)
                .values(owner_id=koc, name="bench", description="")
                .returning(Community.id)
            )
        ).scalar_one()
        await session.execute(
            insert(CommunityMember),
            [
                {"community_id": community, "user_id": u, "status": MembershipStatus.ACTIVE}
                for u in users
            ],
        )
        drops: dict[str, tuple[int, list[int]]] = {}
        for name in ("graphql", "bare"):
            drop = (
                await session.execute(
                    insert(Drop)
                    .values(
                        owner_id=koc,
                        title=f"bench {name}",
                        description="",
                        image_urls=[],
                        size_chart="",
                        status=DropStatus.OPEN,
                        currency="CNY",
                        price_fen=19900,
                        tiers=[],
                        payment_mode=PaymentMode.FULL,
                        moq=100,
                        cap=cap,
                        per_member_limit=3,
                        opens_at=now - timedelta(minutes=1),
                        closes_at=now + timedelta(hours=2),
                        unpaid_expiry_seconds=7200,
                        keep_deposit_on_default=True,
                        published_at=now,
                    )
                    .returning(Drop.id)
                )
            ).scalar_one()
            await session.execute(
                insert(DropCommunity).values(drop_id=drop, community_id=community)
            )
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
            drops[name] = (drop, variants)
    await common.analyze(engine)
    await engine.dispose()
    return users, drops


async def verify(
    db_url: str, redis_url: str, drop_id: int, order_ids: list[int]
) -> dict[str, object]:
    engine = make_engine(Settings(secret_key=SECRET), db_url, pool_size=2)
    sm = make_sessionmaker(engine)
    redis = make_redis(Settings(secret_key=SECRET), redis_url)
    try:
        async with sm() as session:
            sold, per_variant = await drop_repo.sold(session, drop_id)
            found = (
                set(
                    (
                        await session.execute(select(Order.id).where(Order.id.in_(order_ids)))
                    ).scalars()
                )
                if order_ids
                else set()
            )
        live = await ReservationStore(redis).progress(drop_id)
        return {
            "sold_in_postgres": sold,
            "redis_reserved": live.reserved,
            "redis_equals_postgres": live.reserved == sold
            and live.per_variant == {k: q for k, q in per_variant.items()},
            "acknowledged_orders_missing": len(set(order_ids) - found),
        }
    finally:
        await redis.aclose()
        await engine.dispose()


async def storm(args: argparse.Namespace, db_url: str, redis_url: str) -> dict[str, object]:
    users, drops = await seed(db_url, args.members, args.cap)
    issuer = TokenIssuer(SECRET, 4 * 3600)
    tokens = {u: issuer.issue(u).token for u in users}
    rng = random.Random(7)
    with common.api_and_bare(db_url, redis_url, args.workers) as (api, gql_port, bare, bare_port):
        results: dict[str, object] = {}
        profilers = common.profile(args, {"graphql": api, "bare": bare})
        for name in ("graphql", "bare"):
            drop_id, variants = drops[name]
            plan = [(u, rng.choice(variants), 1) for u in users]
            if name == "graphql":
                reqs = [
                    loadgen.build_request(
                        "127.0.0.1",
                        gql_port,
                        "/graphql",
                        {
                            "query": PLACE,
                            "operationName": "Place",
                            "variables": {
                                "d": gid("Drop", drop_id),
                                "l": [{"variantId": gid("DropVariant", v), "quantity": q}],
                                "k": f"{name}-{u}",
                                "a": ADDRESS,
                            },
                        },
                        {"Authorization": f"Bearer {tokens[u]}"},
                    )
                    for u, v, q in plan
                ]
                port = gql_port
            else:
                reqs = [
                    loadgen.build_request(
                        "127.0.0.1",
                        bare_port,
                        "/preorder",
                        {
                            "dropId": drop_id,
                            "lines": [[v, q]],
                            "key": f"{name}-{u}",
                            "address": ADDRESS,
                        },
                        {"Authorization": f"Bearer {tokens[u]}"},
                    )
                    for u, v, q in plan
                ]
                port = bare_port

            def ok(status: int, body: bytes) -> bool:
                return status == 200 and (b'"errors":[]' in body or b'"order":' in body)

            out = await loadgen.run("127.0.0.1", port, reqs, args.concurrency, ok, keep_bodies=True)
            order_ids: list[int] = []
            refused: dict[str, int] = {}
            for body in out.bodies:
                data = json.loads(body)
                if name == "graphql":
                    p = data.get("data", {}).get("placePreorder") or {}
                    if p.get("order"):
                        import base64

                        order_ids.append(
                            int(base64.b64decode(p["order"]["id"]).decode().split(":")[1])
                        )
                    for e in p.get("errors") or data.get("errors") or []:
                        code = e.get("code") or e.get("extensions", {}).get("code")
                        refused[code] = refused.get(code, 0) + 1
                elif "order" in data:
                    order_ids.append(int(data["order"]))
                else:
                    refused[data.get("error", "?")] = refused.get(data.get("error", "?"), 0) + 1
            check = await verify(db_url, redis_url, drop_id, order_ids)
            results[name] = {
                "requests": len(reqs),
                "succeeded": len(order_ids),
                "refused": refused,
                "seconds": round(out.elapsed, 2),
                "requests_per_s": round(out.rate, 1),
                "p50_ms": round(out.percentile(50) * 1000, 1),
                "p99_ms": round(out.percentile(99) * 1000, 1),
                **check,
                "oversold": max(0, int(check["sold_in_postgres"]) - args.cap),  # type: ignore[call-overload]
            }
        for profiler in profilers:
            profiler.wait()
        g, b = results["graphql"], results["bare"]
        results["graphql_to_bare_ratio"] = round(g["requests_per_s"] / b["requests_per_s"], 2)  # type: ignore[index,operator]
        return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--cap", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=64)
    common.storm_options(parser)
    args = parser.parse_args()
    common.run(storm, args)


if __name__ == "__main__":
    main()
