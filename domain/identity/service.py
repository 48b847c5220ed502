"""Identity rules: sign-in, token rotation, roles, factories and their API keys.

Services never commit: the caller's unit of work does.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from domain.base import utcnow
from domain.errors import ErrorCode, NotFound, PermissionDenied, Unauthenticated, ValidationFailed
from domain.identity import repository as repo
from domain.identity.actor import Actor
from domain.identity.models import Factory, FactoryApiKey, User
from domain.identity.tokens import (
    TokenIssuer,
    hash_secret,
    new_factory_key,
    new_refresh_token,
    split_factory_key,
)
from domain.identity.wechat import WeChatLogin

MAX_CODE_LENGTH = 128


@dataclass(frozen=True)
class Session:
    user: User
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    refresh_token_expires_at: datetime


async def _open_session(
    session: AsyncSession, user: User, tokens: TokenIssuer, refresh_ttl: int,
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
    session: AsyncSession, wechat: WeChatLogin, code: str, tokens: TokenIssuer, refresh_ttl: int
) -> Session:
    code = code.strip()
    if not code or len(code) > MAX_CODE_LENGTH:
        raise ValidationFailed(
            f"The login code must be 1 to {MAX_CODE_LENGTH} characters.", field="code",
            code=ErrorCode.INVALID_LOGIN_CODE,
        )
    wx = await wechat.code_to_session(code)
    user = await repo.upsert_user_by_openid(session, wx.openid, wx.unionid)
    return await _open_session(session, user, tokens, refresh_ttl)


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
            "The refresh token is not valid; sign in again.", code=ErrorCode.INVALID_TOKEN,
            field="refreshToken",
        )
    user = await repo.get_user(session, row.user_id)
    if user is None:
        raise Unauthenticated("The account no longer exists.", code=ErrorCode.INVALID_TOKEN)
    return await _open_session(session, user, tokens, refresh_ttl, family_id=row.family_id)


async def logout(session: AsyncSession, refresh_token: str) -> None:
    row = await repo.find_refresh_token(session, hash_secret(refresh_token))
    if row is not None:
        await repo.revoke_family(session, row.family_id, utcnow())


async def authenticate_factory_key(session: AsyncSession, key: str) -> Actor:
    prefix = split_factory_key(key)
    row = await repo.find_api_key_by_prefix(session, prefix) if prefix else None
    if row is None or row.revoked_at is not None or not hmac.compare_digest(
        row.key_hash, hash_secret(key)
    ):
        raise Unauthenticated("The API key is not valid.", code=ErrorCode.INVALID_TOKEN)
    return Actor(factory_id=row.factory_id)


# --- roles -----------------------------------------------------------------------------------


async def require_user(session: AsyncSession, actor: Actor) -> User:
    if actor.user_id is None:
        raise Unauthenticated()
    user = await repo.get_user(session, actor.user_id)
    if user is None:
        raise Unauthenticated("The account no longer exists.")
    return user


async def visible_users(session: AsyncSession, actor: Actor, ids: list[int]) -> dict[int, User]:
    """Accounts by id as ``node`` shows them: a member sees only themself; operators see all."""
    if actor.user_id is None or not ids:
        return {}
    me = await repo.get_user(session, actor.user_id)
    if me is None:
        return {}
    if not me.is_operator:
        ids = [i for i in ids if i == me.id]
    return {u.id: u for u in await repo.get_users(session, ids)}


async def require_operator(session: AsyncSession, actor: Actor) -> User:
    user = await require_user(session, actor)
    if not user.is_operator:
        raise PermissionDenied("Only an operator can do that.")
    return user


async def require_koc(session: AsyncSession, actor: Actor) -> User:
    user = await require_user(session, actor)
    if not (user.is_koc or user.is_operator):
        raise PermissionDenied("Only a KOC can do that.")
    return user


async def set_koc_role(session: AsyncSession, actor: Actor, user_id: int, granted: bool) -> User:
    await require_operator(session, actor)
    user = await repo.get_user(session, user_id)
    if user is None:
        raise NotFound("No such user.", field="userId")
    user.is_koc = granted
    await session.flush()
    return user


async def ensure_operator(session: AsyncSession, openid: str, display_name: str) -> User:
    """Bootstrap (CLI): create or promote the account with this openid to operator."""
    if not openid.strip():
        raise ValidationFailed("An openid is required.", field="openid")
    user = await repo.upsert_user_by_openid(session, openid.strip(), None)
    user.is_operator = True
    if display_name:
        user.display_name = display_name
    await session.flush()
    return user


async def update_profile_name(
    session: AsyncSession, actor: Actor, display_name: str, avatar_url: str | None
) -> User:
    user = await require_user(session, actor)
    name = display_name.strip()
    if not 1 <= len(name) <= 64:
        raise ValidationFailed("The display name must be 1 to 64 characters.",
                               field="displayName")
    if avatar_url is not None and (len(avatar_url) > 1024 or not avatar_url.startswith("https://")):
        raise ValidationFailed("The avatar must be an https URL.", field="avatarUrl")
    user.display_name = name
    user.avatar_url = avatar_url
    await session.flush()
    return user


# --- factories -------------------------------------------------------------------------------


async def create_factory(session: AsyncSession, actor: Actor, name: str, contact: str) -> Factory:
    await require_operator(session, actor)
    name = name.strip()
    if not 1 <= len(name) <= 128:
        raise ValidationFailed("The factory name must be 1 to 128 characters.", field="name")
    if len(contact) > 1000:
        raise ValidationFailed("The contact is too long (1000 characters at most).",
                               field="contact")
    return await repo.add_factory(session, name, contact.strip())


async def update_factory(
    session: AsyncSession, actor: Actor, factory_id: int, *, contact: str | None,
    categories: list[str] | None, min_batch: int | None, capacity_per_day: int | None,
    lead_time_days: int | None,
) -> Factory:
    await require_operator(session, actor)
    factory = await repo.get_factory(session, factory_id)
    if factory is None:
        raise NotFound("No such factory.", field="factoryId")
    if contact is not None:
        if len(contact) > 1000:
            raise ValidationFailed("The contact is too long.", field="contact")
        factory.contact = contact.strip()
    if categories is not None:
        if len(categories) > 20 or any(not 1 <= len(c.strip()) <= 32 for c in categories):
            raise ValidationFailed("Up to 20 categories of 1 to 32 characters.",
                                   field="categories")
        factory.categories = [c.strip() for c in categories]
    for name, value, low, high in (("minBatch", min_batch, 1, 100_000),
                                   ("capacityPerDay", capacity_per_day, 1, 1_000_000),
                                   ("leadTimeDays", lead_time_days, 0, 365)):
        if value is not None and not low <= value <= high:
            raise ValidationFailed(f"{name} must be {low} to {high}.", field=name)
    if min_batch is not None:
        factory.min_batch = min_batch
    if capacity_per_day is not None:
        factory.capacity_per_day = capacity_per_day
    if lead_time_days is not None:
        factory.lead_time_days = lead_time_days
    await session.flush()
    return factory


async def create_factory_api_key(
    session: AsyncSession, actor: Actor, factory_id: int, name: str
) -> tuple[FactoryApiKey, str]:
    operator = await require_operator(session, actor)
    if await repo.get_factory(session, factory_id) is None:
        raise NotFound("No such factory.", field="factoryId")
    if len(name) > 128:
        raise ValidationFailed("The key name is too long (128 characters at most).", field="name")
    prefix, key = new_factory_key()
    row = await repo.add_api_key(
        session,
        FactoryApiKey(factory_id=factory_id, name=name.strip(), prefix=prefix,
                      key_hash=hash_secret(key), created_by_id=operator.id),
    )
    return row, key


async def revoke_factory_api_key(session: AsyncSession, actor: Actor, key_id: int) -> FactoryApiKey:
    await require_operator(session, actor)
    row = await repo.get_api_key(session, key_id)
    if row is None:
        raise NotFound("No such API key.", field="keyId")
    if row.revoked_at is None:  # revoking twice is a no-op, not an error
        row.revoked_at = utcnow()
        await session.flush()
    return row


async def get_factory_for(session: AsyncSession, actor: Actor, factory_id: int) -> Factory:
    """A factory sees only itself; operators see all; everyone else gets not-found."""
    if actor.factory_id is not None:
        if actor.factory_id != factory_id:
            raise NotFound("No such factory.")
    else:
        await require_operator(session, actor)
    factory = await repo.get_factory(session, factory_id)
    if factory is None:
        raise NotFound("No such factory.")
    return factory
