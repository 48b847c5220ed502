"""Revoking the KOC role takes every power away at once, even from a token issued before; what
the former KOC ran goes on and operators manage it (the access matrix checks every field)."""

from __future__ import annotations

from typing import Any

from tests.conftest import GraphQLClient
from tests.helpers import (
    GRANT,
    join,
    make_community,
    make_koc,
    make_open_drop,
    members,
    preorder,
)

REVOKE = "mutation($u: ID!) { revokeKocRole(userId: $u) { user { roles } errors { code } } }"
CLOSE = "mutation($d: ID!) { closeDrop(dropId: $d) { drop { status } errors { code } } }"
DROP = "query($d: ID!) { node(id: $d) { ... on Drop { status } } }"
MINE = "{ myCommunities { nodes { id viewerRole } } }"
MEMBERS = "query($c: ID!) { communityMembers(communityId: $c) { nodes { displayName } } }"


async def test_revoked_koc_loses_control_and_operators_take_over(
    client: GraphQLClient, operator_token: str
) -> None:
    koc = await make_koc(client, operator_token)
    token = koc["accessToken"]  # issued while a KOC, still valid after the revocation
    community = await make_community(client, token)
    [member] = await members(client, community["inviteCode"], 1)
    drop = await make_open_drop(client, token, [community["id"]])
    out = await preorder(client, member, drop["id"], [(drop["variants"][0]["id"], 1)], "k1")
    assert out["errors"] == []

    revoked = await client.query(REVOKE, {"u": koc["user"]["id"]}, token=operator_token)
    assert revoked["revokeKocRole"] == {"user": {"roles": ["MEMBER"]}, "errors": []}

    refused = await client.query(CLOSE, {"d": drop["id"]}, token=token)
    assert refused["closeDrop"]["drop"] is None
    assert [e["code"] for e in refused["closeDrop"]["errors"]] == ["NOT_FOUND"]
    resp = await client.post({"query": MEMBERS, "variables": {"c": community["id"]}}, token=token)
    assert resp.json()["errors"][0]["extensions"]["code"] in ("FORBIDDEN", "NOT_FOUND")
    assert (await client.query(MINE, token=token))["myCommunities"]["nodes"] == []

    # Members keep the drop and their order; an operator closes it.
    assert (await client.query(DROP, {"d": drop["id"]}, token=member))["node"]["status"] == "OPEN"
    closed = await client.query(CLOSE, {"d": drop["id"]}, token=operator_token)
    assert closed["closeDrop"] == {"drop": {"status": "CLOSED"}, "errors": []}

    # The former KOC may join their old community as an ordinary member.
    await join(client, token, community["inviteCode"])
    assert (await client.query(MINE, token=token))["myCommunities"]["nodes"] == [
        {"id": community["id"], "viewerRole": "MEMBER"}
    ]
    resp = await client.post({"query": MEMBERS, "variables": {"c": community["id"]}}, token=token)
    assert resp.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    # Granted again, they run it again.
    granted = await client.query(GRANT, {"u": koc["user"]["id"]}, token=operator_token)
    assert granted["grantKocRole"]["errors"] == []
    listed = await client.query(MEMBERS, {"c": community["id"]}, token=token)
    assert len(listed["communityMembers"]["nodes"]) == 2
    mine = (await client.query(MINE, token=token))["myCommunities"]["nodes"]
    assert {"id": community["id"], "viewerRole": "OWNER"} in mine
    other: Any = await make_community(client, token, "Second")
    assert other["name"] == "Second"
