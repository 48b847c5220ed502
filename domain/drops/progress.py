"""A drop's live progress, served from Redis (rebuilt from PostgreSQL when missing)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.drops import repository as repo
from domain.drops.counters import rebuild_counters
from domain.drops.models import Drop, DropStatus, DropVariant
from domain.drops.pricing import drop_price
from domain.drops.reservations import NotReady, Progress, ReservationStore
from domain.drops.visibility import get_visible, visible_drops
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


class PublishedVariants:
    """The variants of published drops, kept by this process. A drop's variants are replaced
    only while it is a draft (``lifecycle.update_drop``), so once it is published they never
    change: a drop page read then needs no statement for them. Drafts are always read."""

    KEPT = 10_000

    def __init__(self) -> None:
        self._by_drop: dict[int, list[DropVariant]] = {}

    def get(self, drop: Drop) -> list[DropVariant] | None:
        return None if drop.status is DropStatus.DRAFT else self._by_drop.get(drop.id)

    def keep(self, drop: Drop, variants: list[DropVariant]) -> None:
        if drop.status is DropStatus.DRAFT:
            return
        if len(self._by_drop) >= self.KEPT:
            self._by_drop.clear()
        self._by_drop[drop.id] = variants


async def progress(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    actor: Actor,
    drop_id: int,
    published: PublishedVariants | None = None,
) -> DropProgress:
    drop = await get_visible(session, actor, drop_id)
    return await _progress_of(sessionmaker, store, session, drop, published)


async def visible_with_progress(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    actor: Actor,
    drop_id: int,
    published: PublishedVariants,
) -> DropProgress | None:
    """A drop and its progress in one wait, or None when the actor may not see it: the
    visibility statement and the counters' Redis read go out together (the counters are used
    only once the drop is known to be visible). A polled drop page is this one read; on a busy
    process every wait is a turn behind everyone else's requests."""
    seen, live = await asyncio.gather(
        visible_drops(session, actor, [drop_id]), store.progress(drop_id), return_exceptions=True
    )
    if isinstance(seen, BaseException):
        raise seen
    drop = seen.get(drop_id)
    if drop is None:
        return None
    variants = published.get(drop)
    if variants is None or isinstance(live, BaseException):  # a draft, a first read, a rebuild
        return await _progress_of(sessionmaker, store, session, drop, published)
    return _assemble(drop, live, variants)


async def progress_of_seen(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    drop: Drop,
    published: PublishedVariants | None = None,
) -> DropProgress:
    """``progress`` of a drop the caller obtained in this request through ``get_visible``,
    ``visible_drops`` or the KOC's own checks: the visibility is not checked twice."""
    return await _progress_of(sessionmaker, store, session, drop, published)


async def current_progress(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    drop_id: int,
    published: PublishedVariants | None = None,
) -> DropProgress | None:
    """The same progress with no viewer: for a live feed whose followers were each authorized
    (with ``progress``) before they joined. None once the drop is gone."""
    drop = await repo.get(session, drop_id)
    if drop is None:
        return None
    return await _progress_of(sessionmaker, store, session, drop, published)


async def _progress_of(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    session: AsyncSession,
    drop: Drop,
    published: PublishedVariants | None = None,
) -> DropProgress:
    drop_id = drop.id
    variants = published.get(drop) if published is not None else None
    if variants is not None:
        await session.close()
        return _assemble(drop, await _counters(sessionmaker, store, drop_id), variants)
    # The variants (PostgreSQL) and the counters (Redis) are read at the same time: one wait
    # instead of two, which is what a read costs on a busy process.
    read, live = await asyncio.gather(
        repo.variants(session, drop_id), store.progress(drop_id), return_exceptions=True
    )
    # Hand the connection back before any rebuild: a read that finds the counters missing waits
    # for a rebuild, which needs a connection of its own (a crowd holding theirs would starve it).
    await session.close()
    if isinstance(read, BaseException):
        raise read
    if published is not None:
        published.keep(drop, read)
    if isinstance(live, NotReady):
        counters = await _counters(sessionmaker, store, drop_id, rebuild=True)
    elif isinstance(live, BaseException):
        raise live
    else:
        counters = live
    return _assemble(drop, counters, read)


async def _counters(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    drop_id: int,
    *,
    rebuild: bool = False,
) -> Progress:
    """The drop's counters from Redis, rebuilt from PostgreSQL first when they are missing."""
    if not rebuild:
        try:
            return await store.progress(drop_id)
        except NotReady:
            pass
    await rebuild_counters(sessionmaker, store, drop_id)
    return await store.progress(drop_id)


def _assemble(drop: Drop, live: Progress, variants: list[DropVariant]) -> DropProgress:
    return DropProgress(drop, live.reserved, live.buyers, live.per_variant, variants)
