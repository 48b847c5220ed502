"""The WeChat subscribe-message port and its adapters.

``HttpSubscribeMessages`` calls ``/cgi-bin/message/subscribe/send`` with an access token from
``/cgi-bin/token`` (cached until shortly before it expires, refreshed on errcode 40001/42001);
contract-tested against a local fake server. ``SandboxSubscribeMessages`` (the embedded default)
keeps the messages in a bounded in-process list and the log, so the same delivery code runs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

import httpx

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubscribeMessage:
    openid: str
    template_id: str
    page: str
    data: dict[str, dict[str, str]]


class SendFailed(Exception):
    """``permanent``: retrying cannot help (the member refused, the template is wrong)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class SubscribeMessages(Protocol):
    async def send(self, message: SubscribeMessage) -> None: ...

    async def aclose(self) -> None: ...


# 43101: the member has not subscribed (or unsubscribed); 40003: bad openid;
# 40037: bad template id; 47003: template data invalid.
_PERMANENT = {43101, 40003, 40037, 47003}
_TOKEN_INVALID = {40001, 42001, 40014}


class HttpSubscribeMessages:
    def __init__(
        self, app_id: str, app_secret: str, base_url: str, *, timeout: float = 5.0
    ) -> None:
        self._app_id = app_id
        self._secret = app_secret
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout)
        self._token: str | None = None
        self._token_expires = 0.0

    async def _access_token(self, *, refresh: bool = False) -> str:
        if self._token and not refresh and time.monotonic() < self._token_expires:
            return self._token
        try:
            resp = await self._client.get(
                "/cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": self._app_id,
                    "secret": self._secret,
                },
            )
            resp.raise_for_status()
            body = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SendFailed(f"token request failed: {exc!r}", permanent=False) from exc
        if not body.get("access_token"):
            raise SendFailed(
                f"token refused: {body.get('errcode')} {body.get('errmsg')}", permanent=False
            )
        self._token = str(body["access_token"])
        self._token_expires = time.monotonic() + int(body.get("expires_in", 7200)) - 300
        return self._token

    async def send(self, message: SubscribeMessage) -> None:
        for attempt in range(2):
            token = await self._access_token(refresh=attempt > 0)
            try:
                resp = await self._client.post(
                    "/cgi-bin/message/subscribe/send",
                    params={"access_token": token},
                    json={
                        "touser": message.openid,
                        "template_id": message.template_id,
                        "page": message.page,
                        "data": message.data,
                    },
                )
                resp.raise_for_status()
                body = resp.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise SendFailed(f"send failed: {exc!r}", permanent=False) from exc
            errcode = int(body.get("errcode") or 0)
            if errcode == 0:
                return
            if errcode in _TOKEN_INVALID and attempt == 0:
                continue
            raise SendFailed(
                f"errcode {errcode}: {body.get('errmsg')}", permanent=errcode in _PERMANENT
            )
        raise SendFailed("access token rejected twice", permanent=False)

    async def aclose(self) -> None:
        await self._client.aclose()


class SandboxSubscribeMessages:
    """Accepts every message; keeps the last ones for inspection."""

    def __init__(self, keep: int = 1000) -> None:
        self.sent: list[SubscribeMessage] = []
        self._keep = keep

    async def send(self, message: SubscribeMessage) -> None:
        log.info("sandbox WeChat message to %s: %s", message.openid, message.data)
        self.sent.append(message)
        del self.sent[: -self._keep]

    async def aclose(self) -> None:
        return None
