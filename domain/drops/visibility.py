"""Who sees which drop: its KOC and operators always; members of one of its communities once it
is published; nobody else (to them it does not exist)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from domain.community import communities as community
from domain.drops import repository as repo
from domain.drops.models import Drop, DropStatus, DropVariant
from domain.errors import NotFound
from domain.identity import roles
from domain.identity.actor import Actor


async def get_visible(session: AsyncSession, actor: Actor, drop_id: int) -> Drop:
    user = await roles.require_user(session, actor)
    drop = await repo.get(session, drop_id)
    if drop is None or not await community.audience_can_see(
        user,
        drop.owner_id,
        drop.status is DropStatus.DRAFT,
        lambda: repo.is_eligible(session, drop_id, user.id),
    ):
        raise NotFound("No such drop.", field="dropId")
    return drop


async def visible_drops(
    session: AsyncSession, actor: Actor, drop_ids: Sequence[int]
) -> dict[int, Drop]:
    """The drops among ``drop_ids`` the actor may see (others are left out): the same rule as
    ``get_visible``, decided on one statement's rows."""
    if actor.user_id is None or not drop_ids:
        return {}
    return {
        drop.id: drop
        for drop, user, eligible in await repo.drops_for_viewer(session, actor.user_id, drop_ids)
        if community.audience_sees(user, drop.owner_id, drop.status is DropStatus.DRAFT, eligible)
    }


async def visible_variants(
    session: AsyncSession, actor: Actor, variant_ids: Sequence[int]
) -> dict[int, DropVariant]:
    """The variants among ``variant_ids`` whose drop the actor sees (two statements)."""
    if actor.user_id is None or not variant_ids:
        return {}
    variants = await repo.variants_by_id(session, variant_ids)
    seen = await visible_drops(session, actor, list({v.drop_id for v in variants}))
    return {v.id: v for v in variants if v.drop_id in seen}


async def drops_reached(session: AsyncSession, drop_ids: Sequence[int]) -> list[Drop]:
    """Drops the caller reaches through something it already sees (its order, its batch): the
    loader behind ``Order.drop`` and ``Batch.drop``. A factory sees the drop of its batch this
    way, and only what the Drop type shows; the fields that need more ask the domain."""
    return await repo.drops_by_id(session, drop_ids)


async def variants_reached(session: AsyncSession, variant_ids: Sequence[int]) -> list[DropVariant]:
    """Variants reached through an order's lines the caller already sees."""
    return await repo.variants_by_id(session, variant_ids)


async def drops_for_member(
    session: AsyncSession, actor: Actor, statuses: Sequence[DropStatus], after_id: int, limit: int
) -> list[Drop]:
    """Drops of the viewer's communities; drafts are never listed (only their KOC sees them)."""
    user = await roles.require_user(session, actor)
    shown = [st for st in statuses if st is not DropStatus.DRAFT]
    return await repo.drops_for_member(session, user.id, shown, after_id, limit, owns=user.is_koc)


async def variants_of(session: AsyncSession, drop_ids: Sequence[int]) -> list[DropVariant]:
    """Variants of drops the caller already sees (the DataLoader behind ``Drop.variants``)."""
    return await repo.variants_of_drops(session, drop_ids)
