"""A KOC's side of production: which factories make a drop, and what is confirmed, planned and
shipped per SKU; the tracking numbers of a member's order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from domain.drops import repository as drop_repo
from domain.drops.models import Drop, DropVariant, Order, OrderStatus
from domain.errors import NotFound, ValidationFailed
from domain.identity import repository as identity_repo
from domain.identity import roles
from domain.identity.actor import Actor
from domain.production import repository as repo
from domain.production.models import Batch

MAX_FACTORIES = 10


async def assign_factories(
    session: AsyncSession, actor: Actor, drop_id: int, factory_ids: Sequence[int]
) -> Drop:
    drop = await _managed_drop(session, actor, drop_id)
    ids = list(dict.fromkeys(factory_ids))
    if not 1 <= len(ids) <= MAX_FACTORIES:
        raise ValidationFailed(f"Assign 1 to {MAX_FACTORIES} factories.", field="factoryIds")
    for fid in ids:
        if await identity_repo.get_factory(session, fid) is None:
            raise NotFound("No such factory.", field="factoryIds")
    await repo.replace_drop_factories(session, drop_id, ids)
    return drop


@dataclass(frozen=True)
class SkuProgress:
    variant: DropVariant
    ordered: int
    planned: int
    shipped: int


@dataclass(frozen=True)
class ProductionView:
    """A drop's production as its KOC (or an operator) sees it; obtained through
    ``production_view``, which checked who asks."""

    drop: Drop
    batches: list[Batch]
    skus: list[SkuProgress]

    @property
    def units_confirmed(self) -> int:
        return sum(s.ordered for s in self.skus)

    @property
    def units_planned(self) -> int:
        return sum(s.planned for s in self.skus)


async def production_view(session: AsyncSession, actor: Actor, drop_id: int) -> ProductionView:
    """A drop's batches and, per SKU, what is confirmed, planned and shipped (KOC and operator)."""
    drop = await _managed_drop(session, actor, drop_id)
    batches = await repo.batches_of_drop(session, drop_id)
    variants = await drop_repo.variants(session, drop_id)
    sums = await repo.per_variant(session, drop_id)
    skus = [
        SkuProgress(
            v,
            sums["ordered"].get(v.id, 0),
            sums["planned"].get(v.id, 0),
            sums["shipped"].get(v.id, 0),
        )
        for v in variants
    ]
    return ProductionView(drop, batches, skus)


@dataclass(frozen=True)
class StatusCount:
    status: OrderStatus
    orders: int
    units: int


@dataclass(frozen=True)
class SettlementProgress:
    """Where a closed drop is between its close and its factories: what a console shows while
    the worker settles, refunds and plans."""

    view: ProductionView
    by_status: list[StatusCount]
    refunds_pending: int  # cancelled orders still holding money the walker has to return


async def settlement_of(session: AsyncSession, view: ProductionView) -> SettlementProgress:
    """The settlement of a drop whose production view the caller already obtained (the
    authorization is not checked twice)."""
    counts, pending = await repo.settlement_counts(session, view.drop.id)
    return SettlementProgress(
        view=view,
        by_status=[StatusCount(OrderStatus(s), n, u) for s, n, u in counts],
        refunds_pending=pending,
    )


async def _managed_drop(session: AsyncSession, actor: Actor, drop_id: int) -> Drop:
    user = await roles.require_user(session, actor)
    drop = await drop_repo.get(session, drop_id)
    if drop is None or not roles.manages(user, drop.owner_id):
        raise NotFound("No such drop.", field="dropId")
    return drop


async def tracking_of(session: AsyncSession, actor: Actor, order: Order) -> list[tuple[str, str]]:
    """Carrier and tracking number of each shipment of an order: its member only."""
    if actor.user_id is None or actor.user_id != order.user_id:
        return []
    return await repo.tracking_of(session, order.id)
