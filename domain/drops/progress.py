"""A drop's live progress, served from Redis (rebuilt from PostgreSQL when missing)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.drops import repository as repo
from domain.drops.counters import rebuild_counters
from domain.drops.models import Drop, DropVariant
from domain.drops.pricing import drop_price
from domain.drops.reservations import NotReady, ReservationStore
from domain.drops.visibility import get_visible
from domain.identity.actor import Actor


@dataclass(frozen=True)
class DropProgress:
    drop: Drop
    reserved: int
    buyers: int
    per_variant: dict[int, int]
    variants: list[DropVariant]

    @property
    def current_price(self) -> int:
        return drop_price(self.drop, self.reserved)[0]

    @property
    def next_tier(self) -> dict[str, int] | None:
        return drop_price(self.drop, self.reserved)[1]


async def progress(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    actor: Actor,
    drop_id: int,
) -> DropProgress:
    drop = await get_visible(session, actor, drop_id)
    return await _progress_of(sessionmaker, store, session, drop)


async def progress_of_seen(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    drop: Drop,
) -> DropProgress:
    """``progress`` of a drop the caller obtained in this request through ``get_visible``,
    ``visible_drops`` or the KOC's own checks: the visibility is not checked twice."""
    return await _progress_of(sessionmaker, store, session, drop)


async def current_progress(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    drop_id: int,
) -> DropProgress | None:
    """The same progress with no viewer: for a live feed whose followers were each authorized
    (with ``progress``) before they joined. None once the drop is gone."""
    drop = await repo.get(session, drop_id)
    return None if drop is None else await _progress_of(sessionmaker, store, session, drop)


async def _progress_of(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    session: AsyncSession,
    drop: Drop,
) -> DropProgress:
    drop_id = drop.id
    # The variants (PostgreSQL) and the counters (Redis) are read at the same time: one wait
    # instead of two, which is what a read costs on a busy process.
    variants, live = await asyncio.gather(
        repo.variants(session, drop_id), store.progress(drop_id), return_exceptions=True
    )
    # Hand the connection back before any rebuild: a read that finds the counters missing waits
    # for a rebuild, which needs a connection of its own (a crowd holding theirs would starve it).
    await session.close()
    if isinstance(variants, BaseException):
        raise variants
    if isinstance(live, NotReady):
        await rebuild_counters(sessionmaker, store, drop_id)
        live = await store.progress(drop_id)
    elif isinstance(live, BaseException):
        raise live
    p = live
    return DropProgress(drop, p.reserved, p.buyers, p.per_variant, variants)
