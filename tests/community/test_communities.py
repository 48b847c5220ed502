from __future__ import annotations

import asyncio

from tests.conftest import GraphQLClient
from tests.helpers import CREATE_COMMUNITY, JOIN, join, make_community, make_koc

MEMBERS = """query($c: ID!, $tag: String, $size: String, $after: String) {
  communityMembers(communityId: $c, tag: $tag, size: $size, first: 2, after: $after) {
    nodes { id displayName invitedBy profile { usualSizes styleTags heightCm } }
    pageInfo { hasNextPage endCursor } } }"""
PROFILE = """mutation($i: MemberProfileInput!) { updateMemberProfile(input: $i) {
  profile { heightCm usualSizes styleTags } errors { code field } } }"""


async def test_koc_creates_and_members_join_with_referral(
    client: GraphQLClient, operator_token: str
) -> None:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    alice = await client.login("alice")
    await join(client, alice["accessToken"], community["inviteCode"])
    # Alice invites Bob with her own code: the referral edge points at Alice.
    mine = await client.query(
        "query($c: ID!) { node(id: $c) { ... on Community { inviteCode } } }",
        {"c": community["id"]},
        token=alice["accessToken"],
    )
    alice_code = mine["node"]["inviteCode"]
    assert alice_code != community["inviteCode"]
    bob = await client.login("bob")
    await join(client, bob["accessToken"], alice_code)
    listed = await client.query(MEMBERS, {"c": community["id"]}, token=koc["accessToken"])
    by_id = {n["id"]: n for n in listed["communityMembers"]["nodes"]}
    assert by_id[bob["user"]["id"]]["invitedBy"] == alice["user"]["id"]
    assert by_id[alice["user"]["id"]]["invitedBy"] == koc["user"]["id"]
    mine = await client.query(
        "{ myCommunities { nodes { id viewerRole memberCount } } }", token=bob["accessToken"]
    )
    assert mine["myCommunities"]["nodes"] == [
        {"id": community["id"], "viewerRole": "MEMBER", "memberCount": 2}
    ]


async def test_joining_twice_or_racing_changes_nothing(
    client: GraphQLClient, operator_token: str
) -> None:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    m = await client.login("twice")
    outs = await asyncio.gather(
        *[
            client.query(JOIN, {"c": community["inviteCode"]}, token=m["accessToken"])
            for _ in range(5)
        ]
    )
    assert all(o["joinCommunity"]["errors"] == [] for o in outs)
    count = await client.query(
        "query($c: ID!) { node(id: $c) { ... on Community { memberCount } } }",
        {"c": community["id"]},
        token=koc["accessToken"],
    )
    assert count["node"]["memberCount"] == 1


async def test_bad_invite_code(client: GraphQLClient) -> None:
    m = await client.login("lost")
    out = await client.query(JOIN, {"c": "NOPE123"}, token=m["accessToken"])
    assert out["joinCommunity"]["errors"] == [{"code": "INVALID_INVITE", "field": "inviteCode"}]


async def test_leave_and_rejoin_but_removed_cannot(
    client: GraphQLClient, operator_token: str
) -> None:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    m = await client.login("flaky")
    await join(client, m["accessToken"], community["inviteCode"])
    leave = "mutation($c: ID!) { leaveCommunity(communityId: $c) { ok errors { code } } }"
    assert (await client.query(leave, {"c": community["id"]}, token=m["accessToken"]))[
        "leaveCommunity"
    ] == {"ok": True, "errors": []}
    await join(client, m["accessToken"], community["inviteCode"])
    remove = """mutation($c: ID!, $u: ID!) { removeCommunityMember(communityId: $c, userId: $u) {
      ok errors { code } } }"""
    # A member cannot remove anyone; the KOC can.
    denied = await client.query(
        remove, {"c": community["id"], "u": m["user"]["id"]}, token=m["accessToken"]
    )
    assert denied["removeCommunityMember"]["errors"] == [{"code": "FORBIDDEN"}]
    ok = await client.query(
        remove, {"c": community["id"], "u": m["user"]["id"]}, token=koc["accessToken"]
    )
    assert ok["removeCommunityMember"]["ok"] is True
    again = await client.query(JOIN, {"c": community["inviteCode"]}, token=m["accessToken"])
    assert again["joinCommunity"]["errors"] == [{"code": "FORBIDDEN", "field": "inviteCode"}]


async def test_only_kocs_create_communities(client: GraphQLClient) -> None:
    m = await client.login("wannabe")
    out = await client.query(CREATE_COMMUNITY, {"n": "Mine"}, token=m["accessToken"])
    assert out["createCommunity"]["errors"][0]["code"] == "FORBIDDEN"


async def test_create_community_is_idempotent_by_key(
    client: GraphQLClient, operator_token: str
) -> None:
    koc = await make_koc(client, operator_token)
    a = await client.query(CREATE_COMMUNITY, {"n": "X", "k": "req-1"}, token=koc["accessToken"])
    b = await client.query(CREATE_COMMUNITY, {"n": "X", "k": "req-1"}, token=koc["accessToken"])
    assert a["createCommunity"]["community"]["id"] == b["createCommunity"]["community"]["id"]
    # The key is bound to its request: the same key with other input is refused (the one
    # meaning of a reused key, for every mutation that takes one).
    c = await client.query(CREATE_COMMUNITY, {"n": "Y", "k": "req-1"}, token=koc["accessToken"])
    assert c["createCommunity"]["errors"] == [
        {
            "code": "IDEMPOTENCY_KEY_REUSED",
            "field": "idempotencyKey",
            "message": "This idempotency key was used for a different request.",
        }
    ]
    mine = await client.query("{ myCommunities { nodes { name } } }", token=koc["accessToken"])
    assert [c["name"] for c in mine["myCommunities"]["nodes"]] == ["X"]


async def test_profile_private_search_and_pagination(
    client: GraphQLClient, operator_token: str
) -> None:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    tokens = {}
    for name, sizes, tags in [
        ("p1", ["S"], ["vintage"]),
        ("p2", ["M"], ["vintage", "minimal"]),
        ("p3", ["S", "M"], ["minimal"]),
    ]:
        s = await client.login(name)
        tokens[name] = s
        await join(client, s["accessToken"], community["inviteCode"])
        out = await client.query(
            PROFILE,
            {"i": {"heightCm": 158, "usualSizes": sizes, "styleTags": tags}},
            token=s["accessToken"],
        )
        assert out["updateMemberProfile"]["errors"] == []
    vintage = await client.query(
        MEMBERS, {"c": community["id"], "tag": "vintage"}, token=koc["accessToken"]
    )
    assert {n["id"] for n in vintage["communityMembers"]["nodes"]} == {
        tokens["p1"]["user"]["id"],
        tokens["p2"]["user"]["id"],
    }
    size_s = await client.query(
        MEMBERS, {"c": community["id"], "size": "S"}, token=koc["accessToken"]
    )
    assert len(size_s["communityMembers"]["nodes"]) == 2
    page1 = await client.query(MEMBERS, {"c": community["id"]}, token=koc["accessToken"])
    assert page1["communityMembers"]["pageInfo"]["hasNextPage"] is True
    page2 = await client.query(
        MEMBERS,
        {"c": community["id"], "after": page1["communityMembers"]["pageInfo"]["endCursor"]},
        token=koc["accessToken"],
    )
    assert len(page1["communityMembers"]["nodes"]) + len(page2["communityMembers"]["nodes"]) == 3
    # Another member cannot list members (and so cannot read profiles).
    resp = await client.post(
        {"query": MEMBERS, "variables": {"c": community["id"]}}, token=tokens["p1"]["accessToken"]
    )
    assert resp.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_profile_validation(client: GraphQLClient) -> None:
    s = await client.login("tall")
    out = await client.query(PROFILE, {"i": {"heightCm": 900}}, token=s["accessToken"])
    assert out["updateMemberProfile"]["errors"] == [{"code": "INVALID_INPUT", "field": "heightCm"}]
    out = await client.query(PROFILE, {"i": {"styleTags": ["x" * 40]}}, token=s["accessToken"])
    assert out["updateMemberProfile"]["errors"] == [{"code": "INVALID_INPUT", "field": "styleTags"}]
