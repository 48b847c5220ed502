"""Contract tests of the subscribe-message adapter against a local fake WeChat server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.notifications.wechat import HttpSubscribeMessages, SendFailed, SubscribeMessage
from tests.fakes.wechat import FakeWeChat, fake_wechat

MSG = SubscribeMessage(
    openid="o-1", template_id="tpl", page="/drops/1", data={"thing1": {"value": "hi"}}
)


def _token_route(fake: FakeWeChat, tokens: list[str]) -> None:
    def handle(method: str, q: dict[str, str], body: bytes, h: dict[str, str]) -> tuple[int, Any]:
        assert q == {"grant_type": "client_credential", "appid": "app", "secret": "sec"}
        return 200, {"access_token": tokens.pop(0), "expires_in": 7200}

    fake.route("GET", "/cgi-bin/token", handle)


async def test_sends_with_a_cached_token() -> None:
    with fake_wechat() as fake:
        _token_route(fake, ["T1"])
        fake.route(
            "POST",
            "/cgi-bin/message/subscribe/send",
            lambda m, q, b, h: (200, {"errcode": 0, "errmsg": "ok"}),
        )
        adapter = HttpSubscribeMessages("app", "sec", fake.base_url)
        try:
            await adapter.send(MSG)
            await adapter.send(MSG)
        finally:
            await adapter.aclose()
        sends = [r for r in fake.requests if r[1] == "/cgi-bin/message/subscribe/send"]
        assert len(sends) == 2 and all(r[2] == {"access_token": "T1"} for r in sends)
        assert json.loads(sends[0][3]) == {
            "touser": "o-1",
            "template_id": "tpl",
            "page": "/drops/1",
            "data": {"thing1": {"value": "hi"}},
        }
        assert len([r for r in fake.requests if r[1] == "/cgi-bin/token"]) == 1


async def test_expired_token_is_refreshed_once() -> None:
    with fake_wechat() as fake:
        _token_route(fake, ["OLD", "NEW"])
        fake.route(
            "POST",
            "/cgi-bin/message/subscribe/send",
            lambda m, q, b, h: (
                200,
                {"errcode": 0}
                if q["access_token"] == "NEW"
                else {"errcode": 42001, "errmsg": "expired"},
            ),
        )
        adapter = HttpSubscribeMessages("app", "sec", fake.base_url)
        try:
            await adapter.send(MSG)
            await adapter.send(MSG)  # the fresh token is kept
        finally:
            await adapter.aclose()
        sends = [r[2]["access_token"] for r in fake.requests if r[1].endswith("/send")]
        assert sends == ["OLD", "NEW", "NEW"]  # refused once, refreshed once, then reused
        assert len([r for r in fake.requests if r[1] == "/cgi-bin/token"]) == 2


@pytest.mark.parametrize("errcode,permanent", [(43101, True), (45009, False), (-1, False)])
async def test_errors_are_classified(errcode: int, permanent: bool) -> None:
    with fake_wechat() as fake:
        _token_route(fake, ["T"])
        fake.route(
            "POST",
            "/cgi-bin/message/subscribe/send",
            lambda m, q, b, h: (200, {"errcode": errcode, "errmsg": "x"}),
        )
        adapter = HttpSubscribeMessages("app", "sec", fake.base_url)
        try:
            with pytest.raises(SendFailed) as info:
                await adapter.send(MSG)
        finally:
            await adapter.aclose()
        assert info.value.permanent is permanent
