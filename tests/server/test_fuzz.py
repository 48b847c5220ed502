"""Property-based GraphQL fuzzing (hypothesis-graphql, the generator behind schemathesis's GraphQL
mode) against ``schema.graphql``, as each kind of caller, over HTTP, on a world of real objects.

Valid documents (every query field and mutation, random arguments, ids drawn from the world's
objects and from hostile ids) and invalid ones (one schema violation each) must never get a 5xx,
an ``INTERNAL_SERVER_ERROR`` or an unknown error code, and must leave no traceback in the log.

``C2M_FUZZ_EXAMPLES`` sets the number of documents per caller and kind (CI: the default below; a
longer run's figures are in docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from graphql import ValueNode
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes

from domain.errors import ErrorCode
from tests.conftest import GraphQLClient
from tests.server.conftest import Scene

EXAMPLES = int(os.environ.get("C2M_FUZZ_EXAMPLES", "40"))
# Anonymous first and the operator last: an operator's random mutations (revoking a key,
# cancelling a drop) change the world under the others.
FUZZED_ROLES = ("anonymous", "member", "factory", "koc", "operator")
SCHEMA = (Path(__file__).resolve().parents[2] / "schema.graphql").read_text()
KNOWN_CODES = {c.value for c in ErrorCode} | {
    "BAD_REQUEST",
    "BAD_USER_INPUT",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "PAYLOAD_TOO_LARGE",
    "QUERY_TOO_COMPLEX",
}


def _gid(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _world_ids(scene: Scene) -> list[str]:
    found: set[str] = set()
    for world in scene.worlds.values():
        for value in world.values():
            if isinstance(value, str):
                try:
                    if ":" in base64.b64decode(value, validate=True).decode():
                        found.add(value)
                except ValueError:
                    continue
    return sorted(found)


def _scalars(ids: list[str]) -> dict[str, st.SearchStrategy[ValueNode]]:
    hostile_ids = [
        _gid("Order:99999999999999999999"),
        _gid("Query:1"),
        _gid("Node:1"),
        _gid("Order:\u00b2"),
        _gid("Drop:0"),
        "",
        "%%%",
    ]
    utc = st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    )
    return {
        "ID": st.one_of(st.sampled_from(ids + hostile_ids), st.text(max_size=12)).map(nodes.String),
        "DateTime": st.one_of(utc.map(lambda d: d.isoformat()), st.text(max_size=30)).map(
            nodes.String
        ),
        "Date": st.one_of(
            st.dates(min_value=date(2000, 1, 1)).map(date.isoformat), st.text(max_size=12)
        ).map(nodes.String),
        "Fen": st.integers(min_value=-(2**60), max_value=2**60).map(nodes.Int),
    }


def _check(doc: str, status: int, body: Any) -> None:
    assert status in (200, 400, 413), (status, doc, body)
    assert isinstance(body, dict), (doc, body)
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code != "INTERNAL_SERVER_ERROR", (doc, error)
        assert code in KNOWN_CODES, (doc, error)


async def test_fuzzed_documents_never_fail_inside(
    client: GraphQLClient, scene: Scene, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    loop = asyncio.get_running_loop()
    scalars = _scalars(_world_ids(scene))
    documents = st.one_of(
        from_schema(SCHEMA, custom_scalars=scalars),
        from_schema(SCHEMA, custom_scalars=scalars, mode=Mode.NEGATIVE),
    )
    sent = 0

    def fuzz(number: int, token: str | None) -> None:
        # Reproducible (a seed per caller, so each caller gets other documents).
        @seed(number)
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(doc=documents)
        def case(doc: str) -> None:
            nonlocal sent
            resp = asyncio.run_coroutine_threadsafe(
                client.post({"query": doc}, token=token or ""), loop
            ).result(timeout=60)
            sent += 1
            _check(doc, resp.status_code, resp.json())

        case()

    for number, role in enumerate(FUZZED_ROLES):
        await asyncio.to_thread(fuzz, number, scene.tokens[role])
    assert sent >= EXAMPLES * len(FUZZED_ROLES)
    traces = [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert traces == []
