"""The quick fault scenarios (faults/scenarios.py): each owns its PostgreSQL, Valkey, API and
worker, runs a load, injects its faults, and checks every invariant afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from faults import scenarios

pytestmark = pytest.mark.slow


async def test_redis_killed_restarted_from_its_aof_an_older_copy_and_empty(
    tmp_path: Path,
) -> None:
    report = await scenarios.redis_faults(tmp_path, seconds=2.0)
    assert report["invariants"]["orders acknowledged"] > 0
    assert report["invariants"]["voters acknowledged"] > 0


async def test_commit_replies_lost_and_postgres_crashing(tmp_path: Path) -> None:
    report = await scenarios.postgres_faults(tmp_path, seconds=2.0, commit_drop_rate=0.05)
    assert report["invariants"]["orders acknowledged"] > 0


async def test_jobs_survive_a_redis_outage_a_lost_queue_and_a_killed_worker(
    tmp_path: Path,
) -> None:
    # A killed worker's jobs are re-claimed after 5 s here (30 s by default: python -m faults).
    report = await scenarios.worker_faults(tmp_path, seconds=2.0, job_redeliver_seconds=5)
    assert report["refunds"]["paid orders"] > 0
