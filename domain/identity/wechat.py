"""The WeChat mini-program login port (code2session) and its adapters.

``HttpWeChatLogin`` calls WeChat's ``/sns/jscode2session``; it is contract-tested against a local
fake server. ``DevWeChatLogin`` (only when ``C2M_ENV=dev``/``test``) accepts any code as the openid,
so the embedded default is usable without WeChat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx

from domain.errors import DomainError, ErrorCode


@dataclass(frozen=True)
class WeChatSession:
    openid: str
    unionid: str | None = None


class WeChatLoginError(DomainError):
    code = ErrorCode.INVALID_LOGIN_CODE
    default_message = "The WeChat login code was rejected."


class WeChatLogin(Protocol):
    async def code_to_session(self, code: str) -> WeChatSession: ...

    async def aclose(self) -> None: ...


# code2session errcodes that mean "the code is bad" rather than "WeChat is unwell".
_BAD_CODE_ERRCODES = {40029, 40163, 40226}


class HttpWeChatLogin:
    def __init__(
        self, app_id: str, app_secret: str, base_url: str, *, timeout: float = 5.0
    ) -> None:
        self._app_id = app_id
        self._app_secret = app_secret
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def code_to_session(self, code: str) -> WeChatSession:
        try:
            resp = await self._client.get(
                "/sns/jscode2session",
                params={
                    "appid": self._app_id,
                    "secret": self._app_secret,
                    "js_code": code,
                    "grant_type": "authorization_code",
                },
            )
            resp.raise_for_status()
            # WeChat answers text/plain with a JSON body.
            body = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise WeChatLoginError(
                "WeChat login is unavailable; try again.", code=ErrorCode.UPSTREAM_ERROR
            ) from exc
        errcode = int(body.get("errcode") or 0)
        if errcode in _BAD_CODE_ERRCODES:
            raise WeChatLoginError(field="code")
        if errcode != 0 or not body.get("openid"):
            raise WeChatLoginError(
                f"WeChat login failed (errcode {errcode}); try again.",
                code=ErrorCode.UPSTREAM_ERROR,
            )
        return WeChatSession(openid=str(body["openid"]), unionid=body.get("unionid"))

    async def aclose(self) -> None:
        await self._client.aclose()


class DevWeChatLogin:
    """Development identity provider: the code *is* the openid."""

    async def code_to_session(self, code: str) -> WeChatSession:
        return WeChatSession(openid=code)

    async def aclose(self) -> None:
        return None
