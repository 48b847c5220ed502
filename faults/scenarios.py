"""Fault scenarios: a steady load of votes and pre-orders against servers the scenario owns, the
fault injected, the system left to recover by itself, then every invariant checked.

Each scenario returns a report (what happened, how long recovery took, the invariants' facts)
and raises AssertionError naming every invariant that broke. ``tests/faults`` runs the quick
versions; ``python -m faults`` runs them longer and prints the figures of docs/reliability.md."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from faults.cluster import SECRET, Cluster
from faults.load import Load, Scene, gid, probe, seed
from faults.verify import verify
from infra.config import Settings
from infra.resources import make_engine

# How long the system may take to serve again once a fault is gone (stated in the report).
RECOVERY_BOUND_SECONDS = 20.0
# How long follow-up work (refunds) may take to finish after a fault is gone.
CATCH_UP_BOUND_SECONDS = 75.0


async def _with_cluster(
    root: Path,
    commit_drop_rate: float,
    run: Callable[[Cluster, Scene], Awaitable[dict[str, Any]]],
    job_redeliver_seconds: int = 30,
) -> dict[str, Any]:
    cluster = Cluster(
        root, commit_drop_rate=commit_drop_rate, job_redeliver_seconds=job_redeliver_seconds
    )
    try:
        await cluster.start()
        scene = await seed(cluster.direct_database_url, SECRET)
        report = await run(cluster, scene)
    except BaseException:
        print(cluster.log_tail())
        raise
    finally:
        await cluster.stop()
    return report


async def _recovered(cluster: Cluster, scene: Scene, report: dict[str, Any], what: str) -> None:
    took = await probe(
        cluster.api_url,
        scene.tokens[scene.spare],
        scene.poll_id,
        scene.options[0],
        RECOVERY_BOUND_SECONDS,
    )
    report.setdefault("recovery seconds", {})[what] = round(took, 2)


async def _finish(cluster: Cluster, scene: Scene, load: Load, report: dict[str, Any]) -> None:
    record = await load.stop()
    report["load"] = {
        "requests": record.requests,
        "acknowledged": record.acknowledged,
        "answers that were not answers (retried)": record.unavailable,
        "refusals": record.refused,
    }
    verdict = await verify(cluster.direct_database_url, cluster.redis_url, scene, record)
    report["invariants"] = verdict.facts
    assert not verdict.broken, verdict.broken


async def redis_faults(root: Path, seconds: float = 3.0) -> dict[str, Any]:
    """Valkey killed with -9 and restarted from its AOF; then restarted from an older copy of its
    files (a lagging replica promoted); then restarted empty. Load runs throughout."""

    async def run(cluster: Cluster, scene: Scene) -> dict[str, Any]:
        report: dict[str, Any] = {}
        load = Load(cluster.api_url, scene)
        await load.start()
        await asyncio.sleep(seconds)
        older = cluster.copy_valkey_data("older")
        await asyncio.sleep(seconds)
        cluster.kill_valkey()
        await asyncio.sleep(0.5)
        cluster.start_valkey()
        await _recovered(cluster, scene, report, "restart from the AOF")
        await asyncio.sleep(seconds)
        cluster.kill_valkey()
        cluster.start_valkey(from_copy=older)
        await _recovered(cluster, scene, report, "restart from an older copy")
        await asyncio.sleep(seconds)
        cluster.kill_valkey()
        cluster.start_valkey(empty=True)
        await _recovered(cluster, scene, report, "restart empty")
        await asyncio.sleep(seconds)
        await _finish(cluster, scene, load, report)
        return report

    return await _with_cluster(root, 0.0, run)


async def postgres_faults(
    root: Path, seconds: float = 3.0, commit_drop_rate: float = 0.05
) -> dict[str, Any]:
    """The API's link to PostgreSQL loses the reply to some COMMITs throughout; midway,
    PostgreSQL stops in immediate mode (a crash) and starts again."""

    async def run(cluster: Cluster, scene: Scene) -> dict[str, Any]:
        report: dict[str, Any] = {}
        assert cluster.proxy is not None
        cluster.proxy.drop_rate = commit_drop_rate
        load = Load(cluster.api_url, scene)
        await load.start()
        await asyncio.sleep(seconds)
        cluster.stop_postgres_immediately()
        await asyncio.sleep(1.0)
        cluster.start_postgres()
        await _recovered(cluster, scene, report, "PostgreSQL immediate stop")
        await asyncio.sleep(seconds)
        report["COMMIT replies lost"] = f"{cluster.proxy.dropped} of {cluster.proxy.commits}"
        await _finish(cluster, scene, load, report)
        return report

    return await _with_cluster(root, commit_drop_rate, run)


REFUNDED = """
SELECT count(DISTINCT o.id), count(DISTINCT o.id) FILTER (WHERE net.n <> 0),
       coalesce(sum(net.refunds), 0), coalesce(sum(net.payments), 0)
FROM orders o JOIN LATERAL (
  SELECT sum(CASE WHEN kind = 'PAYMENT' THEN amount_fen ELSE -amount_fen END) AS n,
         count(*) FILTER (WHERE kind = 'REFUND') AS refunds,
         count(*) FILTER (WHERE kind = 'PAYMENT') AS payments
  FROM payment_ledger l WHERE l.order_id = o.id) net ON true
WHERE o.drop_id = :d AND net.payments > 0
"""


async def _refunded(cluster: Cluster, scene: Scene) -> dict[str, int]:
    """Paid orders of the drop, and how many hold money after refunds."""
    engine = make_engine(Settings(), cluster.direct_database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(REFUNDED),
                    {"d": scene.drop_id},
                )
            ).one()
    finally:
        await engine.dispose()
    return {
        "paid orders": row[0],
        "still holding money": row[1],
        "refunds": int(row[2]),
        "payments": int(row[3]),
    }


async def worker_faults(
    root: Path, seconds: float = 3.0, job_redeliver_seconds: int = 30
) -> dict[str, Any]:
    """With Redis down, the KOC cancels the drop: the commit stands, the jobs' push fails. Redis
    comes back empty (the worker must rebuild its consumer group by itself); the relay pushes
    the jobs; the worker is killed with -9 in the middle of the refunds and another takes over.
    Every paid order is refunded exactly once."""

    async def run(cluster: Cluster, scene: Scene) -> dict[str, Any]:
        report: dict[str, Any] = {}
        load = Load(cluster.api_url, scene)
        await load.start()
        await asyncio.sleep(seconds)
        await _finish(cluster, scene, load, report)
        await asyncio.sleep(1.0)  # let the sandbox's payments land

        cluster.kill_valkey()
        async with httpx.AsyncClient(base_url=cluster.api_url, timeout=10) as http:
            resp = await http.post(
                "/graphql",
                headers={"authorization": f"Bearer {scene.koc_token}"},
                json={
                    "query": "mutation($d: ID!) { cancelDrop(dropId: $d) "
                    "{ drop { status } errors { code } } }",
                    "variables": {"d": gid("Drop", scene.drop_id)},
                },
            )
        answer = resp.json()["data"]["cancelDrop"]
        assert answer == {"drop": {"status": "CANCELLED"}, "errors": []}, answer
        cluster.start_valkey(empty=True)
        started = time.monotonic()
        killed = False
        while time.monotonic() - started < CATCH_UP_BOUND_SECONDS:
            state = await _refunded(cluster, scene)
            if not killed and state["refunds"] > 0:
                cluster.kill_worker()  # mid-refunds
                cluster.start_worker()
                killed = True
            if state["still holding money"] == 0 and state["refunds"] >= state["payments"]:
                break
            await asyncio.sleep(0.2)
        report["refunds"] = state
        report["worker killed mid-refunds"] = killed
        report["recovery seconds"] = {
            "all paid orders refunded": round(time.monotonic() - started, 2)
        }
        assert state["still holding money"] == 0, state
        assert state["refunds"] == state["payments"], f"a payment refunded twice? {state}"
        return report

    return await _with_cluster(root, 0.0, run, job_redeliver_seconds)


SCENARIOS = {"redis": redis_faults, "postgres": postgres_faults, "worker": worker_faults}
