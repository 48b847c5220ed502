"""Factories and their API keys (operators), and what a factory may see of itself."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from domain import validation as v
from domain.base import utcnow
from domain.errors import NotFound, PermissionDenied, Unauthenticated, ValidationFailed
from domain.identity import repository as repo
from domain.identity.actor import Actor
from domain.identity.models import Factory, FactoryApiKey
from domain.identity.roles import require_operator
from domain.identity.tokens import hash_secret, new_factory_key


async def create_factory(session: AsyncSession, actor: Actor, name: str, contact: str) -> Factory:
    await require_operator(session, actor)
    return await repo.add_factory(
        session,
        v.text(name, "name", min_len=1, max_len=128),
        v.text(contact, "contact", max_len=1000),
    )


async def update_factory(
    session: AsyncSession,
    actor: Actor,
    factory_id: int,
    *,
    contact: str | None,
    categories: list[str] | None,
    min_batch: int | None,
    capacity_per_day: int | None,
    lead_time_days: int | None,
) -> Factory:
    await require_operator(session, actor)
    factory = await repo.get_factory(session, factory_id)
    if factory is None:
        raise NotFound("No such factory.", field="factoryId")
    if contact is not None:
        factory.contact = v.text(contact, "contact", max_len=1000)
    if categories is not None:
        if any(not c.strip() for c in categories):
            raise ValidationFailed("Categories are 1 to 32 characters.", field="categories")
        factory.categories = v.tags(categories, "categories", max_count=20, max_len=32)
    for name, value, low, high in (
        ("minBatch", min_batch, 1, 100_000),
        ("capacityPerDay", capacity_per_day, 1, 1_000_000),
        ("leadTimeDays", lead_time_days, 0, 365),
    ):
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
    name = v.text(name, "name", max_len=128)
    prefix, key = new_factory_key()
    row = await repo.add_api_key(
        session,
        FactoryApiKey(
            factory_id=factory_id,
            name=name.strip(),
            prefix=prefix,
            key_hash=hash_secret(key),
            created_by_id=operator.id,
        ),
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


async def visible_factories(
    session: AsyncSession, actor: Actor, factory_ids: Sequence[int]
) -> dict[int, Factory]:
    """``get_factory_for`` for many ids in one statement (others are left out)."""
    if actor.factory_id is not None:
        factory_ids = [f for f in factory_ids if f == actor.factory_id]
    else:
        try:
            await require_operator(session, actor)
        except (Unauthenticated, PermissionDenied):
            return {}
    return {f.id: f for f in await repo.factories_by_id(session, factory_ids)}


async def factories_reached(session: AsyncSession, factory_ids: Sequence[int]) -> list[Factory]:
    """Factories reached through a batch the caller already sees (its KOC knows who makes it)."""
    return await repo.factories_by_id(session, factory_ids)


async def list_factories(
    session: AsyncSession, actor: Actor, after_id: int, limit: int
) -> list[Factory]:
    await require_operator(session, actor)
    return await repo.list_factories(session, after_id, limit)


async def api_keys_of(session: AsyncSession, actor: Actor, factory_id: int) -> list[FactoryApiKey]:
    await require_operator(session, actor)
    return await repo.list_api_keys(session, factory_id)


async def visible_api_keys(
    session: AsyncSession, actor: Actor, key_ids: list[int]
) -> dict[int, FactoryApiKey]:
    """API keys by id for ``node``: operators only; to anyone else they do not exist."""
    try:
        await require_operator(session, actor)
    except (PermissionDenied, Unauthenticated):
        return {}
    return {k.id: k for k in await repo.get_api_keys(session, key_ids)}


async def viewer_factory(session: AsyncSession, actor: Actor) -> Factory | None:
    if actor.factory_id is None:
        return None
    return await repo.get_factory(session, actor.factory_id)
