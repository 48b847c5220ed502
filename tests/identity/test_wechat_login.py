"""Contract tests of the code2session adapter against a local fake WeChat server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from domain.errors import ErrorCode
from domain.identity.wechat import HttpWeChatLogin, WeChatLoginError
from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.fakes.wechat import FakeWeChat, code2session_handler, fake_wechat

APP_ID, SECRET = "wx-app-1", "s3cret"


@pytest.fixture
def wechat() -> Iterator[FakeWeChat]:
    with fake_wechat() as fake:
        fake.route(
            "GET",
            "/sns/jscode2session",
            code2session_handler({"good-code": "openid-123"}, APP_ID, SECRET),
        )
        yield fake


async def test_good_code_gives_openid(wechat: FakeWeChat) -> None:
    adapter = HttpWeChatLogin(APP_ID, SECRET, wechat.base_url)
    try:
        session = await adapter.code_to_session("good-code")
    finally:
        await adapter.aclose()
    assert session.openid == "openid-123" and session.unionid == "u-openid-123"
    method, path, query, _ = wechat.requests[-1]
    assert (method, path) == ("GET", "/sns/jscode2session")
    assert query == {
        "appid": APP_ID,
        "secret": SECRET,
        "js_code": "good-code",
        "grant_type": "authorization_code",
    }


async def test_bad_code_is_invalid_login_code(wechat: FakeWeChat) -> None:
    adapter = HttpWeChatLogin(APP_ID, SECRET, wechat.base_url)
    try:
        with pytest.raises(WeChatLoginError) as info:
            await adapter.code_to_session("expired-code")
    finally:
        await adapter.aclose()
    assert info.value.code is ErrorCode.INVALID_LOGIN_CODE


async def test_wechat_failure_is_upstream_error(wechat: FakeWeChat) -> None:
    adapter = HttpWeChatLogin(APP_ID, SECRET, wechat.base_url)
    try:
        with pytest.raises(WeChatLoginError) as info:
            await adapter.code_to_session("boom")
    finally:
        await adapter.aclose()
    assert info.value.code is ErrorCode.UPSTREAM_ERROR


async def test_unreachable_wechat_is_upstream_error() -> None:
    adapter = HttpWeChatLogin(APP_ID, SECRET, "http://127.0.0.1:9", timeout=1)
    try:
        with pytest.raises(WeChatLoginError) as info:
            await adapter.code_to_session("good-code")
    finally:
        await adapter.aclose()
    assert info.value.code is ErrorCode.UPSTREAM_ERROR


@pytest.fixture
async def prod_like_client(settings: Settings, wechat: FakeWeChat) -> AsyncIterator[GraphQLClient]:
    from server.app import create_app

    app = create_app(
        settings.model_copy(
            update={
                "env": "test",
                "wechat_app_id": APP_ID,
                "wechat_app_secret": SECRET,
                "wechat_api_base": wechat.base_url,
            }
        )
    )
    async with LifespanManager(app) as m:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=m.app), base_url="http://t"
        ) as http:
            yield GraphQLClient(http)


async def test_login_through_the_api_uses_code2session(prod_like_client: GraphQLClient) -> None:
    session = await prod_like_client.login("good-code")
    again = await prod_like_client.login("good-code")
    assert session["user"]["id"] == again["user"]["id"]
    # With WeChat configured a code is never taken as an openid: an unknown code is refused.
    out = await prod_like_client.query(
        'mutation { loginWithWechat(code: "openid-123") { '
        "session { accessToken } errors { code } } }"
    )
    assert out["loginWithWechat"] == {"session": None, "errors": [{"code": "INVALID_LOGIN_CODE"}]}


def test_production_refuses_to_start_without_wechat(settings: Settings) -> None:
    from server.app import create_app

    with pytest.raises(RuntimeError, match="WECHAT"):
        create_app(
            settings.model_copy(
                update={"env": "production", "secret_key": "Zq4mW8-pT2vK9xR3yB7nL1cF6hJ0dG5sA"}
            )
        )
