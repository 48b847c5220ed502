"""The suspicious-vote report flags sock puppets (new accounts brought by one member in a burst,
casting identical ballots) and not honest members; the KOC voids them (recorded, reversible)
and live and final results follow exactly."""

from __future__ import annotations

from typing import Any

from tests.conftest import GraphQLClient
from tests.helpers import VOTE, join, make_community, make_koc, make_open_poll, members
from tests.polls.test_removed_ballots import _results
from tests.production.scenario import sql

REPORT = """query($p: ID!) { suspiciousBallots(pollId: $p) { userId reasons voided optionIds } }"""
VOID = """mutation($p: ID!, $u: [ID!]!, $r: String!) { voidBallots(pollId: $p, userIds: $u,
  reason: $r) { changed errors { code } } }"""
RESTORE = """mutation($p: ID!, $u: [ID!]!) { restoreBallots(pollId: $p, userIds: $u) {
  changed errors { code } } }"""
INVITE = "query($c: ID!) { node(id: $c) { ... on Community { inviteCode } } }"
VIEWER = "{ viewer { id } }"


async def test_sock_puppets_are_flagged_voided_and_restored_exactly(
    client: GraphQLClient, operator_token: str, settings: Any
) -> None:
    koc = await make_koc(client, operator_token)
    kt = koc["accessToken"]
    community = await make_community(client, kt)
    h1, h2, host = await members(client, community["inviteCode"], 3, prefix="honest")
    await sql(settings, "UPDATE users SET created_at = now() - interval '30 days'")
    code = (await client.query(INVITE, {"c": community["id"]}, token=host))["node"]["inviteCode"]
    puppets = []
    for i in range(3):
        token = (await client.login(f"puppet-{i}"))["accessToken"]
        await join(client, token, code)
        puppets.append(token)
    poll = await make_open_poll(client, kt, [community["id"]], options=3)
    a, b, c = (o["id"] for o in poll["options"])
    for token, picks in [(h1, [b]), (h2, [c]), (host, [a, b])] + [(p, [a]) for p in puppets]:
        assert (await client.query(VOTE, {"p": poll["id"], "o": picks}, token=token))["castVote"][
            "errors"
        ] == []
    ids = [(await client.query(VIEWER, token=t))["viewer"]["id"] for t in puppets]

    report = (await client.query(REPORT, {"p": poll["id"]}, token=kt))["suspiciousBallots"]
    assert {r["userId"] for r in report} == set(ids)  # the honest members are not flagged
    for r in report:
        assert set(r["reasons"]) == {"NEW_ACCOUNT", "INVITE_BURST", "IDENTICAL_BURST"}
        assert r["voided"] is False and r["optionIds"] == [a]
    assert (await _results(client, kt, poll["id"]))[1:] == (6, {a: 4, b: 2, c: 1})

    out = await client.query(VOID, {"p": poll["id"], "u": ids, "r": "sock puppets"}, token=kt)
    assert out["voidBallots"] == {"changed": 3, "errors": []}
    again = await client.query(VOID, {"p": poll["id"], "u": ids, "r": "again"}, token=kt)
    assert again["voidBallots"]["changed"] == 0
    assert (await _results(client, kt, poll["id"]))[1:] == (3, {a: 1, b: 2, c: 1})
    revote = await client.query(VOTE, {"p": poll["id"], "o": [b]}, token=puppets[0])
    assert revote["castVote"]["errors"][0]["code"] == "BALLOT_VOIDED"
    report = (await client.query(REPORT, {"p": poll["id"]}, token=kt))["suspiciousBallots"]
    assert all(r["voided"] for r in report) and len(report) == 3

    for token in (h1, (await make_koc(client, operator_token, "other"))["accessToken"]):
        refused = await client.query(VOID, {"p": poll["id"], "u": ids, "r": "x"}, token=token)
        assert refused["voidBallots"]["errors"] == [{"code": "NOT_FOUND"}]

    back = await client.query(RESTORE, {"p": poll["id"], "u": ids[:1]}, token=kt)
    assert back["restoreBallots"] == {"changed": 1, "errors": []}
    assert (await _results(client, kt, poll["id"]))[1:] == (4, {a: 2, b: 2, c: 1})
    rows = await sql(settings, "SELECT count(*) AS n FROM ballot_voids")
    assert rows[0]["n"] == 3  # the restored void stays on record

    await client.query(
        "mutation($p: ID!) { closePoll(pollId: $p) { errors { code } } }",
        {"p": poll["id"]},
        token=kt,
    )
    late = await client.query(VOID, {"p": poll["id"], "u": ids, "r": "late"}, token=kt)
    assert late["voidBallots"]["errors"] == [{"code": "POLL_CLOSED"}]
    final, voters, votes = await _results(client, kt, poll["id"])
    assert (final, voters, votes) == (True, 4, {a: 2, b: 2, c: 1})
