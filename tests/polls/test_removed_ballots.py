"""A member the KOC removes loses their ballots in that community's open polls, in the live
tally and in the final count, exactly; a ballot another of the poll's communities still vouches
for stays; the live tally rebuilt from PostgreSQL agrees."""

from __future__ import annotations

from typing import Any

from tests.conftest import GraphQLClient
from tests.helpers import (
    CREATE_POLL,
    PUBLISH,
    VOTE,
    join,
    make_community,
    make_koc,
    make_open_poll,
    members,
    poll_input,
)
from tests.production.scenario import sql

RESULTS = """query($p: ID!) { node(id: $p) { ... on Poll { results { final totalVoters
  options { option { id } votes } } } } }"""
REMOVE = """mutation($c: ID!, $u: ID!) { removeCommunityMember(communityId: $c, userId: $u) {
  ok errors { code } } }"""
VIEWER = "{ viewer { id } }"


async def _results(client: GraphQLClient, token: str, poll_id: str) -> tuple[bool, int, dict]:
    r = (await client.query(RESULTS, {"p": poll_id}, token=token))["node"]["results"]
    return r["final"], r["totalVoters"], {o["option"]["id"]: o["votes"] for o in r["options"]}


async def test_a_removed_member_loses_their_ballots_exactly(
    client: GraphQLClient, operator_token: str, services: Any
) -> None:
    koc = await make_koc(client, operator_token)
    kt = koc["accessToken"]
    one = await make_community(client, kt, "one")
    two = await make_community(client, kt, "two")
    m1, m2, m3 = await members(client, one["inviteCode"], 3, prefix="rm")
    await join(client, m3, two["inviteCode"])  # m3 is in both of the poll's communities
    poll = await make_open_poll(client, kt, [one["id"], two["id"]], options=3)
    a, b, _ = (o["id"] for o in poll["options"])
    for token, picks in ((m1, [a]), (m2, [a, b]), (m3, [b])):
        assert (await client.query(VOTE, {"p": poll["id"], "o": picks}, token=token))["castVote"][
            "errors"
        ] == []
    _, voters, votes = await _results(client, kt, poll["id"])
    assert (voters, votes[a], votes[b]) == (3, 2, 2)

    ids = [(await client.query(VIEWER, token=t))["viewer"]["id"] for t in (m2, m3)]
    for _ in range(2):  # removing twice changes nothing more
        out = await client.query(REMOVE, {"c": one["id"], "u": ids[0]}, token=kt)
        assert out["removeCommunityMember"] == {"ok": True, "errors": []}
    out = await client.query(REMOVE, {"c": one["id"], "u": ids[1]}, token=kt)
    assert out["removeCommunityMember"]["ok"] is True
    _, voters, votes = await _results(client, kt, poll["id"])
    assert (voters, votes[a], votes[b]) == (2, 1, 1)  # m2 gone; m3 still in community two

    again = await client.query(VOTE, {"p": poll["id"], "o": [a]}, token=m2)
    assert again["castVote"]["errors"][0]["code"] in ("NOT_A_MEMBER", "NOT_FOUND")

    await services.redis.flushall()  # rebuilt from PostgreSQL: the same figures
    _, voters, votes = await _results(client, kt, poll["id"])
    assert (voters, votes[a], votes[b]) == (2, 1, 1)

    await client.query(
        "mutation($p: ID!) { closePoll(pollId: $p) { errors { code } } }",
        {"p": poll["id"]},
        token=kt,
    )
    final, voters, votes = await _results(client, kt, poll["id"])
    assert (final, voters, votes[a], votes[b]) == (True, 2, 1, 1)


async def test_a_poll_may_count_only_members_of_some_standing(
    client: GraphQLClient, operator_token: str, settings: Any
) -> None:
    koc = await make_koc(client, operator_token)
    kt = koc["accessToken"]
    community = await make_community(client, kt)
    old, new = await members(client, community["inviteCode"], 2, prefix="age")
    data = poll_input([community["id"]])
    data["minMemberAgeHours"] = 24
    poll = (await client.query(CREATE_POLL, {"i": data}, token=kt))["createPoll"]["poll"]
    await client.query(PUBLISH, {"p": poll["id"]}, token=kt)
    await sql(
        settings,
        "UPDATE community_members SET joined_at = now() - interval '25 hours'"
        " WHERE user_id = (SELECT id FROM users WHERE wechat_openid = 'age-0')",
    )
    option = poll["options"][0]["id"]
    ok = await client.query(VOTE, {"p": poll["id"], "o": [option]}, token=old)
    assert ok["castVote"]["errors"] == []
    too_new = await client.query(VOTE, {"p": poll["id"], "o": [option]}, token=new)
    assert too_new["castVote"]["errors"][0]["code"] == "MEMBER_TOO_NEW"
    _, voters, _ = await _results(client, kt, poll["id"])
    assert voters == 1

    bad = poll_input([community["id"]])
    bad["minMemberAgeHours"] = 8761
    out = await client.query(CREATE_POLL, {"i": bad}, token=kt)
    assert out["createPoll"]["errors"][0]["field"] == "minMemberAgeHours"
