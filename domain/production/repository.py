"""Every SQL query of the production context: batches, their lines and items, shipments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, insert, select, text, update
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


async def settlement_counts(
    session: AsyncSession, drop_id: int
) -> tuple[list[tuple[str, int, int]], int]:
    """Orders of a drop per status (count, units), and the cancelled ones whose payments the
    refunds have not yet returned in full."""
    counts = (
        await session.execute(
            text(
                "SELECT status, count(*), coalesce(sum(quantity), 0) FROM orders "
                "WHERE drop_id = :d GROUP BY status ORDER BY status"
            ),
            {"d": drop_id},
        )
    ).all()
    pending = await session.scalar(
        text(
            "SELECT count(*) FROM orders o WHERE o.drop_id = :d AND o.status = 'CANCELLED' "
            "AND (SELECT coalesce(sum(CASE WHEN l.kind = 'PAYMENT' THEN l.amount_fen "
            "ELSE -l.amount_fen END), 0) FROM payment_ledger l WHERE l.order_id = o.id) > 0"
        ),
        {"d": drop_id},
    )
    return [(str(r[0]), int(r[1]), int(r[2])) for r in counts], int(pending or 0)


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


async def unallocated(
    session: AsyncSession, drop_id: int
) -> tuple[list[int], list[int], list[int]]:
    """The drop's confirmed demand not yet in a batch, as three parallel arrays (order, variant,
    units left), in order id order (first confirmed, first made). One row of three arrays: the
    queue of 20,000 lines arrives in one message, decoded by asyncpg."""
    row = (await session.execute(UNALLOCATED, {"drop": drop_id})).one()
    return list(row[0]), list(row[1]), list(row[2])


UNALLOCATED = text(
    """
    SELECT coalesce(array_agg(q.order_id ORDER BY q.order_id, q.variant_id), '{}'),
           coalesce(array_agg(q.variant_id ORDER BY q.order_id, q.variant_id), '{}'),
           coalesce(array_agg(q.left_ ORDER BY q.order_id, q.variant_id), '{}')
    FROM (
        SELECT l.order_id, l.variant_id, l.quantity - coalesce(a.q, 0) AS left_
        FROM order_lines l
        JOIN orders o ON o.id = l.order_id
        LEFT JOIN (
            SELECT i.order_id, i.variant_id, sum(i.quantity) AS q
            FROM batch_items i JOIN batches b ON b.id = i.batch_id
            WHERE b.drop_id = :drop
            GROUP BY i.order_id, i.variant_id
        ) a ON a.order_id = l.order_id AND a.variant_id = l.variant_id
        WHERE o.drop_id = :drop AND o.status = 'CONFIRMED'
    ) q
    WHERE q.left_ > 0
    """
)


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


async def add_batches(
    session: AsyncSession,
    drop_id: int,
    batches: Sequence[tuple[int, int, bool]],
    items: tuple[list[int], list[int], list[int], list[int]],
) -> list[Batch]:
    """Write planned batches in three statements, however many items they hold: the batches
    (factory, sequence, below minimum) in one insert; their items from four parallel arrays
    (batch sequence, order, variant, quantity) in one insert over unnest; their lines summed
    from those items by PostgreSQL."""
    ids = dict(
        (
            await session.execute(
                insert(Batch)
                .values(
                    [
                        {
                            "drop_id": drop_id,
                            "factory_id": f,
                            "sequence": seq,
                            "below_minimum": below,
                            "status": BatchStatus.CREATED,
                            "note": "",
                        }
                        for f, seq, below in batches
                    ]
                )
                .returning(Batch.sequence, Batch.id)
            )
        ).all()
    )
    sequences, orders, variants, quantities = items
    await session.execute(
        INSERT_ITEMS,
        {"b": [ids[s] for s in sequences], "o": orders, "v": variants, "q": quantities},
    )
    await session.execute(INSERT_LINES, {"ids": list(ids.values())})
    stmt = select(Batch).where(Batch.id.in_(list(ids.values()))).order_by(Batch.sequence)
    return list((await session.execute(stmt)).scalars())


INSERT_ITEMS = text(
    """
    INSERT INTO batch_items (batch_id, order_id, variant_id, quantity, shipped)
    SELECT b, o, v, q, 0
    FROM unnest(CAST(:b AS bigint[]), CAST(:o AS bigint[]), CAST(:v AS bigint[]),
                CAST(:q AS integer[])) AS t(b, o, v, q)
    """
)

INSERT_LINES = text(
    """
    INSERT INTO batch_lines (batch_id, variant_id, quantity, shipped)
    SELECT batch_id, variant_id, sum(quantity), 0
    FROM batch_items WHERE batch_id = ANY(CAST(:ids AS bigint[]))
    GROUP BY batch_id, variant_id
    """
)
