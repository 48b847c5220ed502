"""Prometheus metrics: HTTP requests and GraphQL operations by name.

With several API processes (`c2m api --workers N`) the metrics run in prometheus_client's
multiprocess mode: the CLI points PROMETHEUS_MULTIPROC_DIR at a fresh directory before the
processes start, each process writes its samples there, and /metrics, whichever process
answers it, sums them all."""

from __future__ import annotations

import os
import re

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
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
