from __future__ import annotations

import asyncio

from tests.conftest import GraphQLClient

VIEWER = "{ viewer { id displayName roles } }"


async def test_login_then_viewer(client: GraphQLClient) -> None:
    session = await client.login("wx-code-alice")
    assert session["user"]["roles"] == ["MEMBER"]
    data = await client.query(VIEWER, token=session["accessToken"])
    assert data["viewer"]["id"] == session["user"]["id"]


async def test_anonymous_viewer_is_null(client: GraphQLClient) -> None:
    assert (await client.query(VIEWER))["viewer"] is None


async def test_same_code_same_member_even_when_racing(client: GraphQLClient) -> None:
    sessions = await asyncio.gather(*[client.login("same-person") for _ in range(8)])
    assert len({s["user"]["id"] for s in sessions}) == 1


async def test_bad_token_is_a_typed_error(client: GraphQLClient) -> None:
    resp = await client.post({"query": VIEWER}, token="not-a-jwt")
    body = resp.json()
    assert resp.status_code == 200
    assert body["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"
    assert "Traceback" not in resp.text


async def test_empty_login_code_is_rejected(client: GraphQLClient) -> None:
    data = await client.query(
        'mutation { loginWithWechat(code: "  ") { session { accessToken } errors { code field } } }'
    )
    assert data["loginWithWechat"] == {
        "session": None,
        "errors": [{"code": "INVALID_LOGIN_CODE", "field": "code"}],
    }


REFRESH = """mutation($t: String!) { refreshSession(refreshToken: $t) {
  session { accessToken refreshToken } errors { code } } }"""


async def test_refresh_rotates_and_reuse_revokes_the_family(client: GraphQLClient) -> None:
    first = await client.login("rotating")
    second = (await client.query(REFRESH, {"t": first["refreshToken"]}))["refreshSession"]
    assert second["errors"] == []
    new_refresh = second["session"]["refreshToken"]
    # The old token presented again: rejected, and the token it was rotated into dies too.
    replay = (await client.query(REFRESH, {"t": first["refreshToken"]}))["refreshSession"]
    assert replay["errors"] == [{"code": "INVALID_TOKEN"}]
    stolen = (await client.query(REFRESH, {"t": new_refresh}))["refreshSession"]
    assert stolen["errors"] == [{"code": "INVALID_TOKEN"}]


async def test_logout_ends_the_refresh_token(client: GraphQLClient) -> None:
    s = await client.login("leaving")
    out = await client.query(
        "mutation($t: String!) { logout(refreshToken: $t) { ok errors { code } } }",
        {"t": s["refreshToken"]},
    )
    assert out["logout"] == {"ok": True, "errors": []}
    again = (await client.query(REFRESH, {"t": s["refreshToken"]}))["refreshSession"]
    assert again["errors"] == [{"code": "INVALID_TOKEN"}]


GRANT = (
    """mutation($u: ID!) { grantKocRole(userId: $u) { user { id roles } errors { code field } } }"""
)


async def test_operator_grants_koc(client: GraphQLClient, operator_token: str) -> None:
    member = await client.login("future-koc")
    out = await client.query(GRANT, {"u": member["user"]["id"]}, token=operator_token)
    assert out["grantKocRole"]["user"]["roles"] == ["MEMBER", "KOC"]
    viewer = await client.query(VIEWER, token=member["accessToken"])
    assert viewer["viewer"]["roles"] == ["MEMBER", "KOC"]


async def test_member_cannot_grant_koc(client: GraphQLClient) -> None:
    a = await client.login("a-member")
    b = await client.login("b-member")
    out = await client.query(GRANT, {"u": b["user"]["id"]}, token=a["accessToken"])
    assert out["grantKocRole"] == {"user": None, "errors": [{"code": "FORBIDDEN", "field": None}]}
    viewer = await client.query(VIEWER, token=b["accessToken"])
    assert viewer["viewer"]["roles"] == ["MEMBER"]


async def test_grant_to_unknown_or_wrong_type_id(
    client: GraphQLClient, operator_token: str
) -> None:
    import base64

    unknown = base64.b64encode(b"User:999999").decode()
    out = await client.query(GRANT, {"u": unknown}, token=operator_token)
    assert out["grantKocRole"]["errors"] == [{"code": "NOT_FOUND", "field": "userId"}]
    wrong = base64.b64encode(b"Factory:1").decode()
    out = await client.query(GRANT, {"u": wrong}, token=operator_token)
    assert out["grantKocRole"]["errors"] == [{"code": "NOT_FOUND", "field": "userId"}]


async def test_update_profile_validates(client: GraphQLClient) -> None:
    s = await client.login("profile")
    q = """mutation($n: String!, $a: String) { updateProfile(displayName: $n, avatarUrl: $a) {
      user { displayName avatarUrl } errors { code field } } }"""
    bad = await client.query(q, {"n": "x" * 65, "a": None}, token=s["accessToken"])
    assert bad["updateProfile"]["errors"] == [{"code": "INVALID_INPUT", "field": "displayName"}]
    bad = await client.query(q, {"n": "Ann", "a": "javascript:alert(1)"}, token=s["accessToken"])
    assert bad["updateProfile"]["errors"] == [{"code": "INVALID_INPUT", "field": "avatarUrl"}]
    ok = await client.query(
        q, {"n": "Ann", "a": "https://img.example/a.png"}, token=s["accessToken"]
    )
    assert ok["updateProfile"]["user"] == {
        "displayName": "Ann",
        "avatarUrl": "https://img.example/a.png",
    }
    anon = await client.query(q, {"n": "Ann", "a": None})
    assert anon["updateProfile"]["errors"] == [{"code": "UNAUTHENTICATED", "field": None}]


async def test_members_see_only_themselves_operators_see_all(
    client: GraphQLClient, operator_token: str
) -> None:
    a = await client.login("seen-a")
    b = await client.login("seen-b")
    q = "query($u: ID!) { node(id: $u) { id } }"
    assert (await client.query(q, {"u": a["user"]["id"]}, token=a["accessToken"]))["node"] == {
        "id": a["user"]["id"]
    }
    assert (await client.query(q, {"u": b["user"]["id"]}, token=a["accessToken"]))["node"] is None
    assert (await client.query(q, {"u": b["user"]["id"]}))["node"] is None
    assert (await client.query(q, {"u": b["user"]["id"]}, token=operator_token))["node"] == {
        "id": b["user"]["id"]
    }
