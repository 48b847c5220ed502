"""Signing in to the console by approval from the mini-program: the challenge is approved by a
KOC or operator once, completed once, expires, and a member or a forged code opens nothing."""

from __future__ import annotations

from typing import Any

from tests.conftest import GraphQLClient
from tests.helpers import make_koc

START = "mutation { startConsoleLogin { challenge expiresAt errors { code } } }"
APPROVE = """mutation($c: String!) { approveConsoleLogin(challenge: $c) { approved
  errors { code field } } }"""
COMPLETE = """mutation($c: String!) { completeConsoleLogin(challenge: $c) {
  session { accessToken refreshToken user { id roles } } errors { code field } } }"""


async def test_a_koc_approves_the_console_from_the_mini_program(
    client: GraphQLClient, operator_token: str, services: Any
) -> None:
    koc = await make_koc(client, operator_token)
    member = await client.login("console-member")
    started = (await client.query(START))["startConsoleLogin"]
    challenge = started["challenge"]
    assert started["errors"] == [] and started["expiresAt"]

    waiting = (await client.query(COMPLETE, {"c": challenge}))["completeConsoleLogin"]
    assert waiting["session"] is None
    assert waiting["errors"] == [{"code": "CONSOLE_LOGIN_PENDING", "field": "challenge"}]

    by_member = await client.query(APPROVE, {"c": challenge}, token=member["accessToken"])
    assert by_member["approveConsoleLogin"]["errors"][0]["code"] == "FORBIDDEN"
    anonymous = await client.query(APPROVE, {"c": challenge})
    assert anonymous["approveConsoleLogin"]["errors"][0]["code"] == "UNAUTHENTICATED"

    ok = await client.query(APPROVE, {"c": challenge}, token=koc["accessToken"])
    assert ok["approveConsoleLogin"] == {"approved": True, "errors": []}
    again = await client.query(APPROVE, {"c": challenge}, token=operator_token)
    assert again["approveConsoleLogin"]["errors"][0]["code"] == "NOT_FOUND"

    done = (await client.query(COMPLETE, {"c": challenge}))["completeConsoleLogin"]
    assert done["errors"] == [] and done["session"]["user"]["id"] == koc["user"]["id"]
    assert "KOC" in done["session"]["user"]["roles"]
    viewer = await client.query("{ viewer { id } }", token=done["session"]["accessToken"])
    assert viewer["viewer"]["id"] == koc["user"]["id"]
    # Once: a second completion (a photo of the QR code, a replay) opens nothing.
    replay = (await client.query(COMPLETE, {"c": challenge}))["completeConsoleLogin"]
    assert replay["errors"] == [{"code": "NOT_FOUND", "field": "challenge"}]
    # The session ends like any other.
    out = await client.query(
        "mutation($t: String!) { logout(refreshToken: $t) { errors { code } } }",
        {"t": done["session"]["refreshToken"]},
    )
    assert out["logout"]["errors"] == []

    # Forged and expired codes.
    for forged in ("c2m-console:nope", "x" * 300):
        got = (await client.query(COMPLETE, {"c": forged}))["completeConsoleLogin"]
        assert got["errors"][0]["code"] == "NOT_FOUND"
    stale = (await client.query(START))["startConsoleLogin"]["challenge"]
    await services.redis.delete(*[k async for k in services.redis.scan_iter("c2m:console-login:*")])
    late = await client.query(APPROVE, {"c": stale}, token=koc["accessToken"])
    assert late["approveConsoleLogin"]["errors"][0]["code"] == "NOT_FOUND"


async def test_two_tabs_racing_get_one_session(client: GraphQLClient, operator_token: str) -> None:
    import asyncio

    koc = await make_koc(client, operator_token)
    challenge = (await client.query(START))["startConsoleLogin"]["challenge"]
    approvals = await asyncio.gather(
        client.query(APPROVE, {"c": challenge}, token=koc["accessToken"]),
        client.query(APPROVE, {"c": challenge}, token=operator_token),
    )
    assert sorted(a["approveConsoleLogin"]["approved"] for a in approvals) == [False, True]
    tabs = await asyncio.gather(*[client.query(COMPLETE, {"c": challenge}) for _ in range(4)])
    sessions = [t["completeConsoleLogin"]["session"] for t in tabs]
    assert sum(s is not None for s in sessions) == 1
    assert all(
        t["completeConsoleLogin"]["errors"] == [{"code": "NOT_FOUND", "field": "challenge"}]
        for t in tabs
        if t["completeConsoleLogin"]["session"] is None
    )


async def test_the_approver_sees_who_asks_before_approving(
    client: GraphQLClient, operator_token: str
) -> None:
    """The mini-program shows the address and browser that started the challenge, and when: a
    relayed (phished) QR code shows the relaying browser, not the approver's own."""
    koc = await make_koc(client, operator_token)
    member = await client.login("console-shown-member")
    agent = "Mozilla/5.0 (Windows NT 10.0) Chrome/131.0 " + "x" * 400
    started = (await client.post({"query": START}, headers={"user-agent": agent})).json()
    challenge = started["data"]["startConsoleLogin"]["challenge"]
    shown_doc = """query($c: String!) { consoleLoginRequest(challenge: $c) {
      requestedAt expiresAt ipAddress userAgent } }"""

    seen = await client.query(shown_doc, {"c": challenge}, token=koc["accessToken"])
    shown = seen["consoleLoginRequest"]
    assert shown["userAgent"] == agent[:300]
    assert shown["ipAddress"]  # the test client's address, as the server saw it
    assert shown["requestedAt"] < shown["expiresAt"]
    assert shown["requestedAt"] <= started["data"]["startConsoleLogin"]["expiresAt"]

    async def refused(token: str | None, c: str = challenge) -> str:
        body = (await client.post({"query": shown_doc, "variables": {"c": c}}, token=token)).json()
        assert body["data"] is None
        return str(body["errors"][0]["extensions"]["code"])

    assert await refused(member["accessToken"]) == "FORBIDDEN"
    assert await refused(None) == "UNAUTHENTICATED"
    assert await refused(koc["accessToken"], "c2m-console:forged") == "NOT_FOUND"
    assert await refused(koc["accessToken"], "y" * 300) == "NOT_FOUND"
    # Looking does not approve; once approved, there is nothing left to show.
    waiting = (await client.query(COMPLETE, {"c": challenge}))["completeConsoleLogin"]
    assert waiting["errors"][0]["code"] == "CONSOLE_LOGIN_PENDING"
    ok = await client.query(APPROVE, {"c": challenge}, token=koc["accessToken"])
    assert ok["approveConsoleLogin"]["approved"] is True
    assert await refused(koc["accessToken"]) == "NOT_FOUND"
