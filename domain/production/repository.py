"""Every SQL query of the production context: batches, their lines and items, shipments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.drops.models import Order, OrderLine, OrderStatus
from domain.identity.models import Factory
from domain.production.models import (
    Batch,
    BatchItem,
    BatchLine,
    BatchStatus,
    DropFactory,
    Shipment,
    ShipmentItem,
)

PRODUCING = (
    OrderStatus.CONFIRMED,
    OrderStatus.IN_PRODUCTION,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
)


async def get_batch(session: AsyncSession, batch_id: int, *, lock: bool = False) -> Batch | None:
    stmt = select(Batch).where(Batch.id == batch_id)
    if lock:
        stmt = stmt.with_for_update(key_share=True).execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def feed(
    session: AsyncSession,
    factory_id: int,
    status: BatchStatus | None,
    updated_since: datetime | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[Batch]:
    stmt = select(Batch).where(Batch.factory_id == factory_id)
    if status is not None:
        stmt = stmt.where(Batch.status == status)
    if updated_since is not None:
        stmt = stmt.where(Batch.updated_at >= updated_since)
    if after is not None:
        stmt = stmt.where(
            (Batch.updated_at > after[0]) | ((Batch.updated_at == after[0]) & (Batch.id > after[1]))
        )
    stmt = stmt.order_by(Batch.updated_at, Batch.id).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def batches_of_drop(session: AsyncSession, drop_id: int) -> list[Batch]:
    return list(
        (
            await session.execute(
                select(Batch).where(Batch.drop_id == drop_id).order_by(Batch.sequence)
            )
        ).scalars()
    )


async def lines(session: AsyncSession, batch_ids: Sequence[int]) -> dict[int, list[BatchLine]]:
    out: dict[int, list[BatchLine]] = {b: [] for b in batch_ids}
    stmt = select(BatchLine).where(BatchLine.batch_id.in_(batch_ids)).order_by(BatchLine.variant_id)
    for line in (await session.execute(stmt)).scalars():
        out[line.batch_id].append(line)
    return out


async def items(session: AsyncSession, batch_id: int) -> list[BatchItem]:
    return list(
        (
            await session.execute(
                select(BatchItem).where(BatchItem.batch_id == batch_id).order_by(BatchItem.order_id)
            )
        ).scalars()
    )


async def start_orders_of(session: AsyncSession, batch_id: int) -> None:
    """The confirmed orders a batch fulfils go into production."""
    order_ids = select(BatchItem.order_id).where(BatchItem.batch_id == batch_id)
    await session.execute(
        update(Order)
        .where(Order.id.in_(order_ids), Order.status == OrderStatus.CONFIRMED)
        .values(status=OrderStatus.IN_PRODUCTION)
    )


async def shipment_by_tracking(
    session: AsyncSession, batch_id: int, tracking_number: str
) -> Shipment | None:
    return (
        await session.execute(
            select(Shipment).where(
                Shipment.batch_id == batch_id, Shipment.tracking_number == tracking_number
            )
        )
    ).scalar_one_or_none()


async def ordered_and_shipped(session: AsyncSession, order_id: int) -> tuple[int, int]:
    ordered = (
        await session.execute(
            select(func.coalesce(func.sum(Order.quantity), 0)).where(Order.id == order_id)
        )
    ).scalar_one()
    shipped = (
        await session.execute(
            select(func.coalesce(func.sum(ShipmentItem.quantity), 0)).where(
                ShipmentItem.order_id == order_id
            )
        )
    ).scalar_one()
    return int(ordered), int(shipped)


async def tracking_of(session: AsyncSession, order_id: int) -> list[tuple[str, str]]:
    stmt = (
        select(Shipment.carrier, Shipment.tracking_number)
        .distinct()
        .join(ShipmentItem, ShipmentItem.shipment_id == Shipment.id)
        .where(ShipmentItem.order_id == order_id)
    )
    return [(c, t) for c, t in (await session.execute(stmt)).all()]


async def replace_drop_factories(
    session: AsyncSession, drop_id: int, factory_ids: Sequence[int]
) -> None:
    await session.execute(delete(DropFactory).where(DropFactory.drop_id == drop_id))
    session.add_all(
        [DropFactory(drop_id=drop_id, factory_id=f, priority=i) for i, f in enumerate(factory_ids)]
    )
    await session.flush()


async def factories_of(session: AsyncSession, drop_id: int) -> list[Factory]:
    stmt = (
        select(Factory)
        .join(DropFactory, DropFactory.factory_id == Factory.id)
        .where(DropFactory.drop_id == drop_id)
        .order_by(DropFactory.priority)
    )
    return list((await session.execute(stmt)).scalars())


async def per_variant(session: AsyncSession, drop_id: int) -> dict[str, dict[int, int]]:
    """Per SKU of a drop: units ordered by producing orders, planned in batches, shipped."""
    ordered = dict(
        (
            await session.execute(
                select(OrderLine.variant_id, func.sum(OrderLine.quantity))
                .join(Order, Order.id == OrderLine.order_id)
                .where(Order.drop_id == drop_id, Order.status.in_(PRODUCING))
                .group_by(OrderLine.variant_id)
            )
        ).all()
    )
    planned = dict(
        (
            await session.execute(
                select(BatchLine.variant_id, func.sum(BatchLine.quantity))
                .join(Batch, Batch.id == BatchLine.batch_id)
                .where(Batch.drop_id == drop_id)
                .group_by(BatchLine.variant_id)
            )
        ).all()
    )
    shipped = dict(
        (
            await session.execute(
                select(BatchLine.variant_id, func.sum(BatchLine.shipped))
                .join(Batch, Batch.id == BatchLine.batch_id)
                .where(Batch.drop_id == drop_id)
                .group_by(BatchLine.variant_id)
            )
        ).all()
    )
    return {
        "ordered": {int(k): int(v) for k, v in ordered.items()},
        "planned": {int(k): int(v) for k, v in planned.items()},
        "shipped": {int(k): int(v) for k, v in shipped.items()},
    }


# --- planning --------------------------------------------------------------------------------


async def unallocated(session: AsyncSession, drop_id: int) -> list[tuple[int, int, int]]:
    """(order, variant, units not yet in a batch) of the drop's confirmed orders, in order id
    order (first confirmed, first made)."""
    allocated = (
        select(BatchItem.order_id, BatchItem.variant_id, func.sum(BatchItem.quantity).label("q"))
        .group_by(BatchItem.order_id, BatchItem.variant_id)
        .subquery()
    )
    stmt = (
        select(
            OrderLine.order_id,
            OrderLine.variant_id,
            OrderLine.quantity - func.coalesce(allocated.c.q, 0),
        )
        .join(Order, Order.id == OrderLine.order_id)
        .outerjoin(
            allocated,
            (allocated.c.order_id == OrderLine.order_id)
            & (allocated.c.variant_id == OrderLine.variant_id),
        )
        .where(Order.drop_id == drop_id, Order.status == OrderStatus.CONFIRMED)
        .order_by(OrderLine.order_id, OrderLine.variant_id)
    )
    return [(o, v, int(q)) for o, v, q in (await session.execute(stmt)).all() if q > 0]


async def outstanding_balances(session: AsyncSession, drop_id: int) -> int:
    stmt = (
        select(func.count())
        .select_from(Order)
        .where(Order.drop_id == drop_id, Order.status == OrderStatus.DEPOSIT_PAID)
    )
    return int((await session.execute(stmt)).scalar_one())


async def last_sequence(session: AsyncSession, drop_id: int) -> int:
    return int(
        (
            await session.execute(
                select(func.coalesce(func.max(Batch.sequence), 0)).where(Batch.drop_id == drop_id)
            )
        ).scalar_one()
    )


async def add_batch(
    session: AsyncSession, batch: Batch, items: list[dict[str, Any]], lines: dict[int, int]
) -> None:
    session.add(batch)
    await session.flush()
    for row in items:
        row["batch_id"] = batch.id
    await session.execute(insert(BatchItem), items)  # one executemany, not an ORM flush
    session.add_all(
        [BatchLine(batch_id=batch.id, variant_id=v, quantity=q) for v, q in sorted(lines.items())]
    )
