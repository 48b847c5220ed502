"""Prometheus metrics: HTTP requests, GraphQL operations by name and outcome, what the platform
does (mutations by outcome, payments, refunds), jobs and the queue, pools and sockets.

With several API processes (`c2m api --workers N`) the metrics run in prometheus_client's
multiprocess mode: the CLI points PROMETHEUS_MULTIPROC_DIR at a fresh directory before the
processes start, each process writes its samples there, and /metrics, whichever process
answers it, sums them all."""

from __future__ import annotations

import os
import re

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

HTTP_REQUESTS = Counter("c2m_http_requests_total", "HTTP requests", ["method", "path", "status"])
HTTP_LATENCY = Histogram(
    "c2m_http_request_duration_seconds", "HTTP request latency", ["method", "path"]
)
GRAPHQL_OPERATIONS = Counter(
    "c2m_graphql_operations_total", "GraphQL operations", ["operation", "type", "outcome"]
)
GRAPHQL_LATENCY = Histogram(
    "c2m_graphql_operation_duration_seconds",
    "GraphQL operation latency",
    ["operation", "type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# What the platform does: each mutation field by outcome ("ok" or the first error code of its
# payload: castVote and placePreorder by SOLD_OUT, RATE_LIMITED, ...), payment notifications
# and refunds.
MUTATIONS = Counter("c2m_mutations_total", "Mutations by field and outcome", ["field", "outcome"])
PAYMENT_NOTIFICATIONS = Counter(
    "c2m_payment_notifications_total", "Payment notifications received", ["outcome"]
)
REFUNDS = Counter("c2m_refunds_total", "Refund jobs by outcome", ["outcome"])
REFUNDED_FEN = Counter("c2m_refunded_fen_total", "Fen refunded")

# Workers and the queue.
JOBS = Counter("c2m_jobs_total", "Jobs run by task and outcome", ["task", "outcome"])
JOB_DURATION = Histogram(
    "c2m_job_duration_seconds",
    "How long a job ran",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
JOB_WAIT = Histogram(
    "c2m_job_wait_seconds",
    "From a job's enqueueing to its start",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
QUEUE_DEPTH = Gauge(
    "c2m_queue_depth",
    "Jobs in the stream (read by the workers' heartbeat)",
    multiprocess_mode="max",
)
QUEUE_PENDING = Gauge(
    "c2m_queue_pending",
    "Jobs delivered to a worker and not yet acknowledged",
    multiprocess_mode="max",
)

# Pools and sockets (sampled every few seconds by each API process; summed across processes).
DB_POOL = Gauge(
    "c2m_db_pool_connections", "Database connections", ["state"], multiprocess_mode="livesum"
)
REDIS_POOL = Gauge(
    "c2m_redis_pool_connections", "Redis connections", ["state"], multiprocess_mode="livesum"
)
WEBSOCKETS = Gauge(
    "c2m_websocket_connections", "Open graphql-transport-ws sockets", multiprocess_mode="livesum"
)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_KNOWN_PATHS = {"/graphql", "/healthz", "/readyz", "/metrics"}
_MAX_OPERATION_LABELS = 500
_seen_operations: set[str] = set()


def operation_label(name: str | None) -> str:
    """Client-chosen names become labels only while their number stays bounded."""
    if not name:
        return "anonymous"
    if not _NAME.match(name):
        return "invalid"
    if name in _seen_operations:
        return name
    if len(_seen_operations) >= _MAX_OPERATION_LABELS:
        return "other"
    _seen_operations.add(name)
    return name


def sample_pools(engine_pool: object, redis_pool: object) -> None:
    """Record how many database and Redis connections are in use and idle (duck-typed: the
    pools' own counters, read without locks; a sample, not an account)."""
    checked_out = getattr(engine_pool, "checkedout", None)
    checked_in = getattr(engine_pool, "checkedin", None)
    if callable(checked_out) and callable(checked_in):
        DB_POOL.labels("in_use").set(checked_out())
        DB_POOL.labels("idle").set(checked_in())
    in_use = getattr(redis_pool, "_in_use_connections", None)
    available = getattr(redis_pool, "_available_connections", None)
    if in_use is not None and available is not None:
        REDIS_POOL.labels("in_use").set(len(in_use))
        REDIS_POOL.labels("idle").set(len(available))


def path_label(path: str) -> str:
    return path if path in _KNOWN_PATHS else "other"


def exposition() -> bytes:
    """The text /metrics serves: this process's metrics, or every API process's in
    multiprocess mode."""
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()
