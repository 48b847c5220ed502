"""Rate limits on castVote (per member and poll, checked once per vote batch) and on sign-in
(per account and per address): sliding windows in Redis; a refusal is RATE_LIMITED with
retryAfterSeconds, HTTP 429 with Retry-After, and changes nothing (fast lane and executor)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.helpers import VOTE, make_community, make_koc, make_open_poll, members

VOTE_ERRORS = """mutation($p: ID!, $o: [ID!]!) { castVote(pollId: $p, optionIds: $o) {
  changed errors { code retryAfterSeconds } } }"""
LOGIN = """mutation($c: String!) { loginWithWechat(code: $c) { session { accessToken }
  errors { code retryAfterSeconds } } }"""


@pytest.fixture
async def strict(settings: Settings) -> AsyncIterator[tuple[GraphQLClient, Any]]:
    from server.app import create_app

    app = create_app(
        settings.model_copy(
            update={
                "vote_rate_per_member": "3/minute",
                "login_rate_per_member": "3/minute",
                "login_rate_per_address": "12/minute",
            }
        )
    )
    async with (
        LifespanManager(app) as m,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=m.app), base_url="http://s") as h,
    ):
        yield GraphQLClient(h), app.state.services


async def test_sign_ins_are_limited_with_a_typed_429(strict: tuple[GraphQLClient, Any]) -> None:
    client, _ = strict
    # Sign-ins: three per account, then refused; other accounts are not.
    for _ in range(3):
        assert (await client.query(LOGIN, {"c": "rl-0"}))["loginWithWechat"]["errors"] == []
    resp = await client.post({"query": LOGIN, "variables": {"c": "rl-0"}})
    assert resp.status_code == 429 and "Retry-After" in resp.headers
    assert resp.json()["data"]["loginWithWechat"]["errors"][0]["code"] == "RATE_LIMITED"
    assert (await client.query(LOGIN, {"c": "rl-fresh"}))["loginWithWechat"]["errors"] == []
    # Twelve sign-ins from one address in the window, whoever signs in.
    codes = iter(f"rl-many-{i}" for i in range(20))
    while (await client.post({"query": LOGIN, "variables": {"c": next(codes)}})).status_code == 200:
        pass
    resp = await client.post({"query": LOGIN, "variables": {"c": next(codes)}})
    assert resp.status_code == 429


async def test_votes_are_limited_per_member_and_poll(
    strict: tuple[GraphQLClient, Any], operator_token: str
) -> None:
    client, _ = strict
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    member, other = await members(client, community["inviteCode"], 2, prefix="rv")
    poll = await make_open_poll(client, koc["accessToken"], [community["id"]])
    second = await make_open_poll(client, koc["accessToken"], [community["id"]])
    a, b = poll["options"][0]["id"], poll["options"][1]["id"]
    for picks in ([a], [b], [a]):  # three votes in the window
        out = await client.query(VOTE, {"p": poll["id"], "o": picks}, token=member)
        assert out["castVote"]["errors"] == []
    for doc in (VOTE_ERRORS, VOTE_ERRORS.replace("changed ", "")):  # fast lane, executor
        resp = await client.post(
            {"query": doc, "variables": {"p": poll["id"], "o": [b]}}, token=member
        )
        assert resp.status_code == 429
        assert 1 <= int(resp.headers["Retry-After"]) <= 60
        (error,) = resp.json()["data"]["castVote"]["errors"]
        assert error["code"] == "RATE_LIMITED" and 1 <= error["retryAfterSeconds"] <= 60
    ballot = await client.query(
        "query($p: ID!) { node(id: $p) { ... on Poll { viewerBallot } } }",
        {"p": poll["id"]},
        token=member,
    )
    assert ballot["node"]["viewerBallot"] == [a]  # the refused votes changed nothing
    # Another member, and the same member in another poll, are not held back.
    assert (await client.query(VOTE, {"p": poll["id"], "o": [b]}, token=other))["castVote"][
        "errors"
    ] == []
    first = second["options"][0]["id"]
    assert (await client.query(VOTE, {"p": second["id"], "o": [first]}, token=member))["castVote"][
        "errors"
    ] == []


def test_the_address_limit_defaults_on_in_production_only() -> None:
    assert Settings(env="production").login_rate_per_address_rule() == "600/minute"
    assert Settings(env="dev").login_rate_per_address_rule() == ""
    chosen = Settings(env="dev", login_rate_per_address="5/second")
    assert chosen.login_rate_per_address_rule() == "5/second"
