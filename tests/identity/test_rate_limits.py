"""Rate limits on sign-in: sliding windows in Redis per account and per address; a refusal is
RATE_LIMITED with retryAfterSeconds, HTTP 429 with Retry-After, and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from infra.config import Settings
from tests.conftest import GraphQLClient

LOGIN = """mutation($c: String!) { loginWithWechat(code: $c) { session { accessToken }
  errors { code retryAfterSeconds } } }"""


@pytest.fixture
async def strict(settings: Settings) -> AsyncIterator[tuple[GraphQLClient, Any]]:
    from server.app import create_app

    app = create_app(
        settings.model_copy(
            update={
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
