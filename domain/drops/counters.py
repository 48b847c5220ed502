"""A drop's Redis counters, rebuilt from PostgreSQL's orders at any moment.

A rebuild holds the drop's advisory lock exclusively while it reads and writes: reservations in
flight (which hold it shared until they commit) finish first, and new ones wait until it is done.
Phantom reservations (a process that died between Redis and its commit) disappear here."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.drops import repository as repo
from domain.drops.models import SELLING, Drop, DropVariant
from domain.drops.reservations import Limits, ReservationStore

log = logging.getLogger(__name__)


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def limits_for(drop: Drop, variants: Sequence[DropVariant]) -> Limits:
    """What the reservation script enforces; a drop that no longer sells has an empty window."""
    selling = drop.status in SELLING
    return Limits(
        opens_ms=_ms(drop.opens_at),
        closes_ms=_ms(drop.closes_at) if selling else 0,
        cap=drop.cap,
        member_limit=drop.per_member_limit,
        variant_caps={var.id: var.cap for var in variants},
    )


async def rebuild_counters(
    sessionmaker: async_sessionmaker[AsyncSession], store: ReservationStore, drop_id: int
) -> int:
    """Replace the drop's Redis counters with PostgreSQL's truth; returns the units held."""
    async with sessionmaker() as session, session.begin():
        await repo.lock_exclusive(session, drop_id)
        drop = await repo.get(session, drop_id)
        if drop is None:
            return 0
        variants = await repo.variants(session, drop_id)
        live = await repo.live_reservations(session, drop_id)
        total = await store.rebuild(drop_id, limits_for(drop, variants), live)
    log.info("rebuilt counters of drop %s: %s units in %s orders", drop_id, total, len(live))
    return total


async def rebuild_selling(
    sessionmaker: async_sessionmaker[AsyncSession], store: ReservationStore
) -> int:
    """Rebuild every selling drop (the reconciler); returns how many."""
    async with sessionmaker() as session:
        ids = await repo.drop_ids_in(session, SELLING)
    for drop_id in ids:
        await rebuild_counters(sessionmaker, store, drop_id)
    return len(ids)
