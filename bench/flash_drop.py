"""A flash drop: 100,000 distinct members tap "buy" on one drop with cap 10,000, through GraphQL,
with the API at two processes, while 32 connections keep reading the drop page.

    python -m bench.flash_drop [--members 100000] [--cap 10000] [--workers 2]
                               [--concurrency 256] [--readers 32]
                               [--page progress|status|typename] [--read-processes N]

Tokens are issued before the clock starts. Reported: when the last unit sold and when the last
member was answered, pre-order p50/p99, drop-page read p50/p99 during the storm, and the checks:
0 oversold, 0 acknowledged orders missing, Redis equal to PostgreSQL after reconciliation.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import time
from datetime import UTC, datetime, timedelta

import asyncpg

from bench import common, loadgen
from bench.common import SECRET, gid
from domain.drops import counters
from domain.drops import repository as drop_repo
from domain.drops.reservations import ReservationStore
from domain.identity.tokens import TokenIssuer
from infra.config import Settings
from infra.resources import make_engine, make_redis, make_sessionmaker

PLACE = (
    "mutation PlacePreorder($dropId: ID!, $lines: [OrderLineInput!]!, $idempotencyKey: String!,"
    " $shippingAddress: ShippingAddressInput!) { placePreorder(dropId: $dropId, lines: $lines,"
    " idempotencyKey: $idempotencyKey, shippingAddress: $shippingAddress)"
    " { order { id status quantity amountDue { amountFen currency } expiresAt }"
    " errors { code message field remaining variantId } } }"
)
PAGE = (
    "query DropPage($id: ID!) { node(id: $id) { ... on Drop { id title status"
    " progress { totalQuantity buyers remaining moqPercent currentPrice { amountFen }"
    " secondsLeft } } } }"
)
PAGES = {
    "progress": PAGE,
    "status": "query DropPage($id: ID!) { node(id: $id) { ... on Drop { id title status } } }",
    "typename": "query DropPage { progress: __typename }",
}
ADDRESS = {"name": "Li", "phone": "13800000000", "region": "Hangzhou", "detail": "Road 1"}


async def seed(db_url: str, members: int, cap: int) -> tuple[list[int], int, list[int]]:
    conn = await asyncpg.connect(db_url.replace("+asyncpg", ""))
    now = datetime.now(UTC)
    tag = f"flash-{int(time.time())}"
    try:
        async with conn.transaction():
            koc, users, community = await common.seed_audience(conn, tag, members)
            drop = await conn.fetchval(
                "INSERT INTO drops (owner_id, title, description, image_urls, size_chart, status,"
                " currency, price_fen, tiers, payment_mode, deposit_fen, moq, cap,"
                " per_member_limit, opens_at, closes_at, unpaid_expiry_seconds,"
                " keep_deposit_on_default, published_at, balance_hours)"
                " VALUES ($1, 'flash', '', '{}', '', 'OPEN', 'CNY', 19900, '[]', 'DEPOSIT',"
                " 5000, $2, $3, 2, $4, $5, 7200, true, $4, 48) RETURNING id",
                koc,
                cap // 2,
                cap,
                now - timedelta(minutes=1),
                now + timedelta(hours=2),
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
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return users, drop, variants


async def verify(
    db_url: str, redis_url: str, drop_id: int, cap: int, order_ids: list[int]
) -> dict[str, object]:
    settings = Settings(secret_key=SECRET)
    engine = make_engine(settings, db_url, pool_size=2)
    sessionmaker = make_sessionmaker(engine)
    redis = make_redis(settings, redis_url)
    store = ReservationStore(redis)
    try:
        await counters.reconcile(sessionmaker, store, drop_id)
        async with sessionmaker() as session:
            sold, per_variant = await drop_repo.sold(session, drop_id)
        conn = await asyncpg.connect(db_url.replace("+asyncpg", ""))
        try:
            found = await conn.fetchval(
                "SELECT count(*) FROM orders WHERE id = ANY($1::bigint[])", order_ids
            )
        finally:
            await conn.close()
        live = await store.progress(drop_id)
        return {
            "sold_in_postgres": sold,
            "oversold": max(0, sold - cap),
            "acknowledged_orders_missing": len(order_ids) - int(found),
            "redis_equals_postgres_after_reconcile": live.reserved == sold
            and {k: q for k, q in live.per_variant.items() if q} == per_variant,
        }
    finally:
        await redis.aclose()
        await engine.dispose()


def page_ok(status: int, body: bytes) -> bool:
    """A page read answered: each ``PAGES`` document's data names ``progress`` or ``status``."""
    return (
        status == 200 and b'"errors"' not in body and (b'"progress"' in body or b'"status"' in body)
    )


async def flash(args: argparse.Namespace, db_url: str, redis_url: str) -> dict[str, object]:
    users, drop_id, variants = await seed(db_url, args.members, args.cap)
    issuer = TokenIssuer(SECRET, 4 * 3600)
    rng = random.Random(11)
    port = common.free_port()
    requests = []
    for u in users:  # tokens and bodies before the clock starts
        body = {
            "query": PLACE,
            "operationName": "PlacePreorder",
            "variables": {
                "dropId": gid("Drop", drop_id),
                "lines": [{"variantId": gid("DropVariant", rng.choice(variants)), "quantity": 1}],
                "idempotencyKey": f"flash-{u}",
                "shippingAddress": ADDRESS,
            },
        }
        token = issuer.issue(u).token
        requests.append(
            loadgen.build_request(
                "127.0.0.1", port, "/graphql", body, {"Authorization": f"Bearer {token}"}
            )
        )
    reader_token = issuer.issue(users[0]).token
    read_port = common.free_port() if args.read_processes else port
    page = loadgen.build_request(
        "127.0.0.1",
        read_port,
        "/graphql",
        {"query": PAGES[args.page], "variables": {"id": gid("Drop", drop_id)}},
        {"Authorization": f"Bearer {reader_token}"},
    )
    api = common.start_api(db_url, redis_url, port, args.workers)
    readers = (
        common.start_api(db_url, redis_url, read_port, args.read_processes)
        if args.read_processes
        else None
    )
    try:
        warm = await loadgen.run("127.0.0.1", read_port, [page] * 200, 8, lambda s, b: s == 200)
        assert warm.failed == 0, "the drop page does not answer"
        stop = asyncio.Event()
        reading = asyncio.create_task(
            loadgen.run("127.0.0.1", read_port, [page] * 300_000, args.readers, page_ok, stop=stop)
        )
        buying = await loadgen.run(
            "127.0.0.1",
            port,
            requests,
            args.concurrency,
            lambda s, b: s == 200 and (b'"errors":[]' in b or b'"SOLD_OUT"' in b),
            keep_bodies=True,
        )
        stop.set()
        reads = await reading
    finally:
        common.stop(api)
        if readers is not None:
            common.stop(readers)
    order_ids: list[int] = []
    codes: dict[str, int] = {}
    sold_out_at, unanswered = 0.0, 0
    for body, done in zip(buying.bodies, buying.finished, strict=True):
        data = json.loads(body) if body else {}
        payload = (data.get("data") or {}).get("placePreorder") or {}
        if not payload:
            unanswered += 1
        if payload.get("order"):
            order_ids.append(int(base64.b64decode(payload["order"]["id"]).decode().split(":")[1]))
            sold_out_at = max(sold_out_at, done)
        for e in payload.get("errors") or data.get("errors") or []:
            code = e.get("code") or (e.get("extensions") or {}).get("code")
            codes[code] = codes.get(code, 0) + 1
    check = await verify(db_url, redis_url, drop_id, args.cap, order_ids)
    return {
        "members": args.members,
        "cap": args.cap,
        "api_processes": args.workers,
        "concurrency": args.concurrency,
        "orders_acknowledged": len(order_ids),
        "refused": codes,
        "requests_without_an_answer": unanswered,
        "seconds_to_sell_out": round(sold_out_at, 2),
        "seconds_to_answer_everyone": round(buying.elapsed, 2),
        "preorders_per_s": round(buying.rate, 1),
        "preorder_p50_ms": round(buying.percentile(50) * 1000, 1),
        "preorder_p99_ms": round(buying.percentile(99) * 1000, 1),
        "page_reads": reads.ok + reads.failed,
        "page_reads_failed": reads.failed,
        "page_read_p50_ms": round(reads.percentile(50) * 1000, 1),
        "page_read_p99_ms": round(reads.percentile(99) * 1000, 1),
        **check,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--cap", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--readers", type=int, default=32)
    parser.add_argument(
        "--read-processes",
        type=int,
        default=0,
        help="serve the drop page from this many API processes of their own (what a router"
        " sending GET queries to a read pool gives), beside the --workers that take the writes",
    )
    parser.add_argument(
        "--page",
        choices=sorted(PAGES),
        default="progress",
        help="what the readers ask: the drop page (default), the drop without its progress"
        " (one PostgreSQL wait), or a read that waits on nothing",
    )
    args = parser.parse_args()
    common.run(flash, args)


if __name__ == "__main__":
    main()
