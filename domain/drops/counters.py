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
        early_ms=_ms(drop.early_opens_at) if drop.voter_head_start_minutes else None,
    )


async def rebuild_counters(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    drop_id: int,
    *,
    only_if_stale: bool = False,
) -> int:
    """Replace the drop's Redis counters with PostgreSQL's truth; returns the units held.

    ``only_if_stale``: skip the work when, once the lock is ours, the counters turn out to be
    valid (another request rebuilt them while this one waited): a crowd that finds Redis empty
    rebuilds it once, not once per request."""
    async with sessionmaker() as session, session.begin():
        await repo.lock_exclusive(session, drop_id)
        if only_if_stale and await store.is_ready(drop_id):
            return -1
        drop = await repo.get(session, drop_id)
        if drop is None:
            return 0
        variants = await repo.variants(session, drop_id)
        live = await repo.live_reservations(session, drop_id)
        voters = await repo.head_start_voters(session, drop)
        total = await store.rebuild(drop_id, limits_for(drop, variants), live, voters)
    log.info("rebuilt counters of drop %s: %s units in %s orders", drop_id, total, len(live))
    return total


async def reconcile(
    sessionmaker: async_sessionmaker[AsyncSession], store: ReservationStore, drop_id: int
) -> bool:
    """Compare the drop's Redis counters with PostgreSQL under the exclusive lock (no reservation
    is between Redis and its commit then) and rebuild them if they differ: a phantom of a
    process that died, a release that was lost, a Redis that came back behind. True if it
    rebuilt."""
    async with sessionmaker() as session, session.begin():
        await repo.lock_exclusive(session, drop_id)
        drop = await repo.get(session, drop_id)
        if drop is None:
            return False
        live = await repo.live_reservations(session, drop_id)
        state = await store.state(drop_id) if await store.is_ready(drop_id) else None
        truth = (sum(u for r in live for _, u in r.held.lines), {str(r.order_id) for r in live})
        if state == truth:
            return False
        variants = await repo.variants(session, drop_id)
        voters = await repo.head_start_voters(session, drop)
        total = await store.rebuild(drop_id, limits_for(drop, variants), live, voters)
    log.warning(
        "drop %s: Redis counters differed from PostgreSQL (%s); rebuilt to %s units",
        drop_id,
        "missing or stale" if state is None else f"{state[0]} units in {len(state[1])} orders",
        total,
    )
    return True


async def reconcile_selling(
    sessionmaker: async_sessionmaker[AsyncSession], store: ReservationStore
) -> int:
    """Reconcile every selling drop (the worker, periodically); returns how many it rebuilt."""
    async with sessionmaker() as session:
        ids = await repo.drop_ids_in(session, SELLING)
    return sum([await reconcile(sessionmaker, store, drop_id) for drop_id in ids])
