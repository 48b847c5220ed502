"""A drop's live progress, served from Redis (rebuilt from PostgreSQL when missing)."""

from __future__ import annotations

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
    variants = await repo.variants(session, drop_id)
    try:
        p = await store.progress(drop_id)
    except NotReady:
        await rebuild_counters(sessionmaker, store, drop_id)
        p = await store.progress(drop_id)
    return DropProgress(drop, p.reserved, p.buyers, p.per_variant, variants)
