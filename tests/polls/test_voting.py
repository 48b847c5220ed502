from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import GraphQLClient
from tests.helpers import (
    CREATE_POLL,
    PUBLISH,
    RESULTS,
    VOTE,
    make_community,
    make_koc,
    make_open_poll,
    members,
    poll_input,
)


@pytest.fixture
async def scene(client: GraphQLClient, operator_token: str) -> dict[str, Any]:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    voters = await members(client, community["inviteCode"], 4)
    poll = await make_open_poll(client, koc["accessToken"], [community["id"]])
    return {
        "koc": koc,
        "community": community,
        "voters": voters,
        "poll": poll,
        "options": [o["id"] for o in poll["options"]],
    }


async def vote(client: GraphQLClient, token: str, poll: str, options: list[str]) -> dict[str, Any]:
    return (await client.query(VOTE, {"p": poll, "o": options}, token=token))["castVote"]


async def results(client: GraphQLClient, token: str, poll: str) -> dict[str, Any]:
    return (await client.query(RESULTS, {"p": poll}, token=token))["node"]


async def test_vote_revote_and_live_results(client: GraphQLClient, scene: dict[str, Any]) -> None:
    p, o, v = scene["poll"]["id"], scene["options"], scene["voters"]
    assert (await vote(client, v[0], p, [o[0], o[1]]))["changed"] is True
    assert (await vote(client, v[1], p, [o[1]]))["changed"] is True
    assert (await vote(client, v[2], p, [o[2]]))["changed"] is True
    again = await vote(client, v[2], p, [o[2]])
    assert again == {"optionIds": [o[2]], "changed": False, "errors": []}
    # Re-voting replaces the ballot.
    assert (await vote(client, v[2], p, [o[1], o[3]]))["changed"] is True
    r = await results(client, v[0], p)
    assert r["results"]["final"] is False and r["results"]["totalVoters"] == 3
    ranked = [
        (x["option"]["id"], x["votes"], x["rank"], x["advanced"]) for x in r["results"]["options"]
    ]
    assert ranked == [
        (o[1], 3, 1, True),
        (o[0], 1, 2, True),
        (o[3], 1, 3, False),
        (o[2], 0, 4, False),
    ]
    mine = await client.query(
        "query($p: ID!) { node(id: $p) { ... on Poll { viewerBallot } } }", {"p": p}, token=v[2]
    )
    assert sorted(mine["node"]["viewerBallot"]) == sorted([o[1], o[3]])


async def test_close_ranks_from_postgres_with_tie_rule(
    client: GraphQLClient, scene: dict[str, Any], services: Any
) -> None:
    p, o, v = scene["poll"]["id"], scene["options"], scene["voters"]
    await vote(client, v[0], p, [o[3]])
    await vote(client, v[1], p, [o[2]])
    await vote(client, v[2], p, [o[2], o[3]])
    # Scramble Redis: the final ranking must not come from it.
    await services.redis.hset(
        f"c2m:{{poll:{int(base64.b64decode(p).decode().split(':')[1])}}}:tally",
        mapping={"999": 1000},
    )
    close = "mutation($p: ID!) { closePoll(pollId: $p) { poll { status } errors { code } } }"
    out = await client.query(close, {"p": p}, token=scene["koc"]["accessToken"])
    assert out["closePoll"] == {"poll": {"status": "CLOSED"}, "errors": []}
    r = await results(client, v[0], p)
    assert r["results"]["final"] is True and r["results"]["totalVoters"] == 3
    ranked = [(x["option"]["id"], x["votes"], x["advanced"]) for x in r["results"]["options"]]
    # o2 and o3 tie at 2: the option listed earlier (o2) ranks first.
    assert ranked == [(o[2], 2, True), (o[3], 2, True), (o[0], 0, False), (o[1], 0, False)]
    # Closing twice changes nothing.
    again = await client.query(close, {"p": p}, token=scene["koc"]["accessToken"])
    assert again["closePoll"]["errors"] == []
    voters_q = """query($o: ID!) { pollOptionVoters(optionId: $o) { nodes { id } } }"""
    voted = await client.query(voters_q, {"o": o[2]}, token=scene["koc"]["accessToken"])
    assert len(voted["pollOptionVoters"]["nodes"]) == 2


async def test_bad_votes_change_nothing(
    client: GraphQLClient, scene: dict[str, Any], operator_token: str
) -> None:
    p, o, v = scene["poll"]["id"], scene["options"], scene["voters"]
    await vote(client, v[0], p, [o[0]])

    async def code(token: str, poll: str, options: list[str]) -> str:
        errors = (await vote(client, token, poll, options))["errors"]
        assert len(errors) == 1
        return errors[0]["code"]

    assert await code(v[0], p, [o[0], o[1], o[2]]) == "TOO_MANY_CHOICES"
    assert await code(v[0], p, [o[1], o[1]]) == "DUPLICATE_OPTION"
    assert await code(v[0], p, []) == "INVALID_INPUT"
    # An option of another poll, and an id that is no option at all.
    other = await make_open_poll(client, scene["koc"]["accessToken"], [scene["community"]["id"]])
    assert await code(v[0], p, [other["options"][0]["id"]]) == "OPTION_NOT_IN_POLL"
    assert (
        await code(v[0], p, [base64.b64encode(b"PollOption:999999").decode()])
        == "OPTION_NOT_IN_POLL"
    )
    assert await code(v[0], p, [base64.b64encode(b"Poll:1").decode()]) == "OPTION_NOT_IN_POLL"
    assert await code(v[0], base64.b64encode(b"Poll:999999").decode(), [o[0]]) == "NOT_FOUND"
    outsider = await client.login("outsider")
    assert await code(outsider["accessToken"], p, [o[0]]) == "NOT_A_MEMBER"
    r = await results(client, v[0], p)
    assert r["results"]["totalVoters"] == 1
    assert {x["option"]["id"]: x["votes"] for x in r["results"]["options"]}[o[0]] == 1
    mine = await client.query(
        "query($p: ID!) { node(id: $p) { ... on Poll { viewerBallot } } }", {"p": p}, token=v[0]
    )
    assert mine["node"]["viewerBallot"] == [o[0]]


async def test_voting_before_open_and_after_close(
    client: GraphQLClient, scene: dict[str, Any]
) -> None:
    koc, cid, v = scene["koc"]["accessToken"], scene["community"]["id"], scene["voters"]
    later = await make_open_poll(
        client, koc, [cid], opens_in=timedelta(hours=1), closes_in=timedelta(hours=2)
    )
    out = await vote(client, v[0], later["id"], [later["options"][0]["id"]])
    assert out["errors"][0]["code"] == "POLL_NOT_OPEN"
    p, o = scene["poll"]["id"], scene["options"]
    await client.query(
        "mutation($p: ID!) { closePoll(pollId: $p) { errors { code } } }", {"p": p}, token=koc
    )
    out = await vote(client, v[0], p, [o[0]])
    assert out["errors"][0]["code"] == "POLL_CLOSED"


async def test_open_poll_cannot_be_edited(client: GraphQLClient, scene: dict[str, Any]) -> None:
    koc, cid = scene["koc"]["accessToken"], scene["community"]["id"]
    upd = """mutation($p: ID!, $i: PollInput!) { updatePoll(pollId: $p, input: $i) {
      poll { id } errors { code } } }"""
    out = await client.query(upd, {"p": scene["poll"]["id"], "i": poll_input([cid])}, token=koc)
    assert out["updatePoll"]["errors"] == [{"code": "POLL_NOT_EDITABLE"}]


async def test_poll_creation_rules(
    client: GraphQLClient, scene: dict[str, Any], operator_token: str
) -> None:
    koc, cid, v = scene["koc"]["accessToken"], scene["community"]["id"], scene["voters"]

    async def errors(token: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        out = await client.query(CREATE_POLL, {"i": data}, token=token)
        return [{"code": e["code"], "field": e["field"]} for e in out["createPoll"]["errors"]]

    assert await errors(v[0], poll_input([cid])) == [{"code": "FORBIDDEN", "field": None}]
    other_koc = await make_koc(client, operator_token, "koc-2")
    assert await errors(other_koc["accessToken"], poll_input([cid])) == [
        {"code": "FORBIDDEN", "field": "communityIds"}
    ]
    assert await errors(koc, poll_input([cid], options=1, max_choices=1, advance=1)) == [
        {"code": "INVALID_INPUT", "field": "options"}
    ]
    assert await errors(koc, poll_input([cid], options=51, max_choices=1, advance=1)) == [
        {"code": "INVALID_INPUT", "field": "options"}
    ]
    assert await errors(koc, poll_input([cid], max_choices=9)) == [
        {"code": "INVALID_INPUT", "field": "maxChoices"}
    ]
    bad_window = poll_input([cid], opens_in=timedelta(hours=2), closes_in=timedelta(hours=1))
    assert await errors(koc, bad_window) == [{"code": "INVALID_INPUT", "field": "closesAt"}]
    bad_url = poll_input([cid])
    bad_url["options"][0]["imageUrls"] = ["http://insecure/x.jpg"]
    assert await errors(koc, bad_url) == [
        {"code": "INVALID_INPUT", "field": "options[0].imageUrls"}
    ]


async def test_draft_is_invisible_to_members_and_publish_is_idempotent(
    client: GraphQLClient, scene: dict[str, Any]
) -> None:
    koc, cid, v = scene["koc"]["accessToken"], scene["community"]["id"], scene["voters"]
    out = await client.query(CREATE_POLL, {"i": poll_input([cid])}, token=koc)
    draft = out["createPoll"]["poll"]
    seen = await client.query(
        "query($p: ID!) { node(id: $p) { id } }", {"p": draft["id"]}, token=v[0]
    )
    assert seen["node"] is None
    listed = await client.query("{ polls(status: [DRAFT, OPEN]) { nodes { id } } }", token=v[0])
    assert [n["id"] for n in listed["polls"]["nodes"]] == [scene["poll"]["id"]]
    for _ in range(2):
        pub = await client.query(PUBLISH, {"p": draft["id"]}, token=koc)
        assert pub["publishPoll"] == {"poll": {"id": draft["id"], "status": "OPEN"}, "errors": []}


async def test_racing_revotes_end_equal_in_redis_and_postgres(
    client: GraphQLClient, scene: dict[str, Any], services: Any
) -> None:
    """One member re-voting from several devices at once: Redis ends as PostgreSQL says."""
    from domain.polls import repository as repo

    p, o, v = scene["poll"]["id"], scene["options"], scene["voters"]
    choices = [[o[0]], [o[1]], [o[2]], [o[3]], [o[0], o[1]], [o[2], o[3]]] * 5
    await asyncio.gather(
        *[vote(client, v[0], p, c) for c in choices],
        *[vote(client, v[1], p, c) for c in reversed(choices)],
    )
    pid = int(base64.b64decode(p).decode().split(":")[1])
    async with services.sessionmaker() as session:
        truth, voters = await repo.counts(session, pid)
    live = await services.live_polls.store.read(pid)
    assert voters == live.voters == 2
    assert {k: n for k, n in live.counts.items() if n} == truth


async def test_kill_redis_keys_mid_poll_results_come_back_exact(
    client: GraphQLClient, scene: dict[str, Any], services: Any
) -> None:
    p, o, v = scene["poll"]["id"], scene["options"], scene["voters"]
    for i, token in enumerate(v):
        await vote(client, token, p, [o[i % 2]])
    before = await results(client, v[0], p)
    pid = int(base64.b64decode(p).decode().split(":")[1])
    await services.redis.delete(
        *[k async for k in services.redis.scan_iter(f"c2m:{{poll:{pid}}}:*")]
    )
    after = await results(client, v[0], p)
    assert after == before
    # And votes keep counting after the rebuild.
    await vote(client, v[0], p, [o[3]])
    r = await results(client, v[0], p)
    assert {x["option"]["id"]: x["votes"] for x in r["results"]["options"]} == {
        o[0]: 1,
        o[1]: 2,
        o[2]: 0,
        o[3]: 1,
    }


async def test_listing_polls_with_options_is_not_n_plus_one(
    client: GraphQLClient, scene: dict[str, Any], services: Any
) -> None:
    from sqlalchemy import event

    koc, cid, v = scene["koc"]["accessToken"], scene["community"]["id"], scene["voters"]
    q = "{ polls(first: 50) { nodes { id options { id title } } } }"
    engine = services.sessionmaker.kw["bind"].sync_engine
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        await client.query(q, token=v[0])
        with_one = len(statements)
        for _ in range(5):
            await make_open_poll(client, koc, [cid])
        statements.clear()
        data = await client.query(q, token=v[0])
        assert len(data["polls"]["nodes"]) == 6
        assert len(statements) == with_one  # options of all polls in one batched query
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_a_poll_key_is_bound_to_its_request(
    client: GraphQLClient, scene: dict[str, Any]
) -> None:
    koc, cid = scene["koc"]["accessToken"], scene["community"]["id"]
    data = poll_input([cid])
    first = await client.query(CREATE_POLL, {"i": data, "k": "poll-1"}, token=koc)
    again = await client.query(CREATE_POLL, {"i": data, "k": "poll-1"}, token=koc)
    assert first["createPoll"]["poll"]["id"] == again["createPoll"]["poll"]["id"]
    other = await client.query(
        CREATE_POLL, {"i": {**data, "title": "Winter coats"}, "k": "poll-1"}, token=koc
    )
    assert other["createPoll"]["errors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    too_long = await client.query(CREATE_POLL, {"i": data, "k": "x" * 65}, token=koc)
    assert too_long["createPoll"]["errors"][0]["field"] == "idempotencyKey"
