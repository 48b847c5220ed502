"""Every SQL query of the identity context."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.identity.models import Factory, FactoryApiKey, RefreshToken, User


async def upsert_user_by_openid(session: AsyncSession, openid: str, unionid: str | None) -> User:
    # INSERT .. ON CONFLICT makes two first logins racing each other end with one user.
    ins = insert(User).values(wechat_openid=openid, wechat_unionid=unionid, display_name="")
    stmt = ins.on_conflict_do_update(
        index_elements=[User.wechat_openid],
        set_={"wechat_unionid": func.coalesce(ins.excluded.wechat_unionid, User.wechat_unionid)},
    ).returning(User)
    return (await session.execute(stmt)).scalar_one()


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_users(session: AsyncSession, ids: Sequence[int]) -> list[User]:
    rows = await session.execute(select(User).where(User.id.in_(ids)))
    return list(rows.scalars())


async def add_refresh_token(
    session: AsyncSession,
    user_id: int,
    token_hash: bytes,
    family_id: uuid.UUID,
    expires_at: datetime,
) -> None:
    session.add(
        RefreshToken(
            user_id=user_id, token_hash=token_hash, family_id=family_id, expires_at=expires_at
        )
    )
    await session.flush()


async def claim_refresh_token(
    session: AsyncSession, token_hash: bytes, now: datetime
) -> RefreshToken | None:
    """Mark a live refresh token used, atomically; None if it was unknown, used or revoked."""
    stmt = (
        update(RefreshToken)
        .where(
            RefreshToken.token_hash == token_hash,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(RefreshToken)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def find_refresh_token(session: AsyncSession, token_hash: bytes) -> RefreshToken | None:
    stmt = select(RefreshToken).where(RefreshToken.token_hash == token_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def revoke_family(session: AsyncSession, family_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def get_factory(session: AsyncSession, factory_id: int) -> Factory | None:
    return await session.get(Factory, factory_id)


async def factories_by_id(session: AsyncSession, factory_ids: Sequence[int]) -> list[Factory]:
    if not factory_ids:
        return []
    return list(
        (await session.execute(select(Factory).where(Factory.id.in_(factory_ids)))).scalars()
    )


async def list_factories(session: AsyncSession, after_id: int, limit: int) -> list[Factory]:
    rows = await session.execute(
        select(Factory).where(Factory.id > after_id).order_by(Factory.id).limit(limit)
    )
    return list(rows.scalars())


async def add_factory(session: AsyncSession, name: str, contact: str) -> Factory:
    factory = Factory(name=name, contact=contact)
    session.add(factory)
    await session.flush()
    return factory


async def add_api_key(session: AsyncSession, key: FactoryApiKey) -> FactoryApiKey:
    session.add(key)
    await session.flush()
    return key


async def get_api_key(session: AsyncSession, key_id: int) -> FactoryApiKey | None:
    return await session.get(FactoryApiKey, key_id)


async def get_api_keys(session: AsyncSession, key_ids: Sequence[int]) -> list[FactoryApiKey]:
    rows = await session.execute(select(FactoryApiKey).where(FactoryApiKey.id.in_(key_ids)))
    return list(rows.scalars())


async def find_api_key_by_prefix(session: AsyncSession, prefix: str) -> FactoryApiKey | None:
    stmt = select(FactoryApiKey).where(FactoryApiKey.prefix == prefix)
    return (await session.execute(stmt)).scalar_one_or_none()


async def delete_expired_refresh_tokens(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(delete(RefreshToken).where(RefreshToken.expires_at < now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def list_api_keys(session: AsyncSession, factory_id: int) -> list[FactoryApiKey]:
    rows = await session.execute(
        select(FactoryApiKey)
        .where(FactoryApiKey.factory_id == factory_id)
        .order_by(FactoryApiKey.id)
    )
    return list(rows.scalars())
