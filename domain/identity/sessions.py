"""Signing in: WeChat login, rotating refresh tokens (reuse revokes the family), logout, and
factory API keys as credentials. Services never commit: the caller's unit of work does."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from domain import validation as v
from domain.base import utcnow
from domain.errors import ErrorCode, Unauthenticated, ValidationFailed
from domain.identity import repository as repo
from domain.identity.actor import Actor
from domain.identity.models import User
from domain.identity.tokens import (
    TokenIssuer,
    hash_secret,
    new_refresh_token,
    split_factory_key,
)
from domain.identity.wechat import WeChatLogin
from domain.throttle import LOGIN_PER_ADDRESS, LOGIN_PER_MEMBER, Throttle

MAX_CODE_LENGTH = 128


@dataclass(frozen=True)
class Session:
    user: User
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    refresh_token_expires_at: datetime


async def open_session(
    session: AsyncSession,
    user: User,
    tokens: TokenIssuer,
    refresh_ttl: int,
    family_id: uuid.UUID | None = None,
) -> Session:
    access = tokens.issue(user.id)
    refresh = new_refresh_token()
    refresh_exp = utcnow() + timedelta(seconds=refresh_ttl)
    await repo.add_refresh_token(
        session, user.id, hash_secret(refresh), family_id or uuid.uuid4(), refresh_exp
    )
    return Session(user, access.token, access.expires_at, refresh, refresh_exp)


async def login_with_wechat(
    session: AsyncSession,
    wechat: WeChatLogin,
    code: str,
    tokens: TokenIssuer,
    refresh_ttl: int,
    throttle: Throttle | None = None,
    address: str | None = None,
) -> Session:
    """Sign in with a mini-program login code. ``throttle``: sign-ins per address (checked
    before WeChat is asked) and per account (after it named the account, before any session is
    made) are limited: RATE_LIMITED, nothing changed."""
    code = code.strip()
    if not code or len(code) > MAX_CODE_LENGTH or not v.clean_text(code):
        raise ValidationFailed(
            f"The login code must be 1 to {MAX_CODE_LENGTH} characters.",
            field="code",
            code=ErrorCode.INVALID_LOGIN_CODE,
        )
    if throttle is not None and address:
        await throttle.check(LOGIN_PER_ADDRESS, address)
    wx = await wechat.code_to_session(code)
    if throttle is not None:
        await throttle.check(LOGIN_PER_MEMBER, wx.openid)
    user = await repo.upsert_user_by_openid(session, wx.openid, wx.unionid)
    return await open_session(session, user, tokens, refresh_ttl)


async def refresh_session(
    session: AsyncSession, refresh_token: str, tokens: TokenIssuer, refresh_ttl: int
) -> Session:
    now = utcnow()
    token_hash = hash_secret(refresh_token)
    row = await repo.claim_refresh_token(session, token_hash, now)
    if row is None:
        old = await repo.find_refresh_token(session, token_hash)
        if old is not None and old.used_at is not None and old.revoked_at is None:
            # A used token presented again means it leaked: end the whole family.
            await repo.revoke_family(session, old.family_id, now)
        raise Unauthenticated(
            "The refresh token is not valid; sign in again.",
            code=ErrorCode.INVALID_TOKEN,
            field="refreshToken",
        )
    user = await repo.get_user(session, row.user_id)
    if user is None:
        raise Unauthenticated("The account no longer exists.", code=ErrorCode.INVALID_TOKEN)
    return await open_session(session, user, tokens, refresh_ttl, family_id=row.family_id)


async def logout(session: AsyncSession, refresh_token: str) -> None:
    row = await repo.find_refresh_token(session, hash_secret(refresh_token))
    if row is not None:
        await repo.revoke_family(session, row.family_id, utcnow())


async def authenticate_factory_key(session: AsyncSession, key: str) -> Actor:
    prefix = split_factory_key(key)
    row = await repo.find_api_key_by_prefix(session, prefix) if prefix else None
    if (
        row is None
        or row.revoked_at is not None
        or not hmac.compare_digest(row.key_hash, hash_secret(key))
    ):
        raise Unauthenticated("The API key is not valid.", code=ErrorCode.INVALID_TOKEN)
    return Actor(factory_id=row.factory_id)


async def purge_expired_tokens(session: AsyncSession) -> int:
    """Refresh tokens past their expiry can never be used again: delete them."""
    return await repo.delete_expired_refresh_tokens(session, utcnow())
