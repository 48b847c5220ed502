"""Closing happens exactly once: racing closers, votes in flight, a closer killed with kill -9."""

from __future__ import annotations

import asyncio
import textwrap
from datetime import timedelta
from typing import Any

import asyncpg

from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.helpers import (
    RESULTS,
    VOTE,
    kill_when_printed,
    make_community,
    make_koc,
    make_open_poll,
    members,
    pk,
)
from workers import polls as poll_jobs


async def _scene(
    client: GraphQLClient,
    operator_token: str,
    voters: int = 6,
    closes_in: timedelta = timedelta(hours=1),
) -> dict[str, Any]:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    tokens = await members(client, community["inviteCode"], voters)
    poll = await make_open_poll(client, koc["accessToken"], [community["id"]], closes_in=closes_in)
    return {
        "koc": koc,
        "tokens": tokens,
        "poll": poll,
        "options": [o["id"] for o in poll["options"]],
    }


async def _force_due(settings: Settings, poll_id: int) -> None:
    conn = await asyncpg.connect((settings.database_url or "").replace("+asyncpg", ""))
    try:
        await conn.execute(
            "UPDATE polls SET opens_at = now() - interval '2 hours', "
            "closes_at = now() - interval '1 second' WHERE id = $1",
            poll_id,
        )
    finally:
        await conn.close()


async def test_worker_job_closes_due_polls_once_even_when_racing(
    client: GraphQLClient, operator_token: str, services: Any, settings: Settings
) -> None:
    s = await _scene(client, operator_token)
    for i, token in enumerate(s["tokens"]):
        await client.query(VOTE, {"p": s["poll"]["id"], "o": [s["options"][i % 3]]}, token=token)
    await _force_due(settings, pk(s["poll"]["id"]))
    closed = await asyncio.gather(
        *[poll_jobs.close_one(services, pk(s["poll"]["id"])) for _ in range(4)]
    )
    assert sorted(closed) == [0, 0, 0, 1]
    r = (await client.query(RESULTS, {"p": s["poll"]["id"]}, token=s["tokens"][0]))["node"]
    assert r["status"] == "CLOSED" and r["results"]["totalVoters"] == 6
    assert [x["votes"] for x in r["results"]["options"]] == [2, 2, 2, 0]


async def test_close_due_job_leaves_polls_that_are_not_due(
    client: GraphQLClient, operator_token: str, services: Any
) -> None:
    s = await _scene(client, operator_token, voters=1)
    assert await poll_jobs.close_due(services) == 0
    r = (await client.query(RESULTS, {"p": s["poll"]["id"]}, token=s["tokens"][0]))["node"]
    assert r["status"] == "OPEN"


async def test_every_acknowledged_vote_is_in_the_final_count(
    client: GraphQLClient, operator_token: str
) -> None:
    """Votes racing the KOC's early close: each one either succeeded and is counted, or was
    refused with POLL_CLOSED; none is acknowledged and then lost."""
    s = await _scene(client, operator_token, voters=30)
    p, o = s["poll"]["id"], s["options"]
    close = "mutation($p: ID!) { closePoll(pollId: $p) { errors { code } } }"

    async def one(token: str) -> bool:
        out = (await client.query(VOTE, {"p": p, "o": [o[0]]}, token=token))["castVote"]
        if out["errors"]:
            assert out["errors"][0]["code"] == "POLL_CLOSED"
            return False
        return True

    votes = [one(t) for t in s["tokens"]]
    closing = client.query(close, {"p": p}, token=s["koc"]["accessToken"])
    outcomes = await asyncio.gather(*votes[:15], closing, *votes[15:])
    accepted = sum(1 for x in outcomes if x is True)
    r = (await client.query(RESULTS, {"p": p}, token=s["koc"]["accessToken"]))["node"]
    assert r["results"]["final"] is True
    assert r["results"]["totalVoters"] == accepted


CLOSER = textwrap.dedent(
    """
    import asyncio, sys
    from domain.polls import repository as repo
    from domain.polls import lifecycle
    from infra.config import Settings
    from infra.resources import make_engine, make_sessionmaker

    original = repo.counts

    async def slow_counts(session, poll_id):
        result = await original(session, poll_id)
        print("counted", flush=True)
        await asyncio.sleep(60)   # killed here, half-way through the close
        return result

    repo.counts = slow_counts

    async def main():
        engine = make_engine(Settings(), sys.argv[1], pool_size=1)
        async with make_sessionmaker(engine)() as session, session.begin():
            await lifecycle.close_poll(session, int(sys.argv[2]))

    asyncio.run(main())
    """
)


async def test_closer_killed_half_way_is_safe_to_run_again(
    client: GraphQLClient, operator_token: str, services: Any, settings: Settings
) -> None:
    s = await _scene(client, operator_token, voters=3)
    for token in s["tokens"]:
        await client.query(VOTE, {"p": s["poll"]["id"], "o": [s["options"][1]]}, token=token)
    pid = pk(s["poll"]["id"])
    await _force_due(settings, pid)
    await kill_when_printed(CLOSER, [settings.database_url or "", str(pid)], "counted")
    r = (await client.query(RESULTS, {"p": s["poll"]["id"]}, token=s["tokens"][0]))["node"]
    assert r["status"] == "OPEN"  # nothing of the half-done close survived
    assert await poll_jobs.close_one(services, pid) == 1
    r = (await client.query(RESULTS, {"p": s["poll"]["id"]}, token=s["tokens"][0]))["node"]
    assert r["status"] == "CLOSED" and r["results"]["totalVoters"] == 3
    assert r["results"]["options"][0]["votes"] == 3 and r["results"]["options"][0]["advanced"]
