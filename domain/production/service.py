"""The factory side: a factory sees only its own batches (anything else is not found), accepts
them, reports progress through the stages, and ships (partially, by tracking number).

Every call is idempotent: accepting twice, reporting a stage twice or repeating a shipment with
the same tracking number changes nothing. Quantities never exceed what was ordered and status and
stage never go back (a typed error says so)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.base import utcnow
from domain.drops import repository as drop_repo
from domain.drops.models import DropVariant, Order, OrderStatus
from domain.errors import (
    Conflict,
    ErrorCode,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from domain.identity import service as identity
from domain.identity.actor import Actor
from domain.notifications import service as notifications
from domain.notifications.models import NotificationKind
from domain.production.models import (
    BATCH_ORDER,
    STAGE_ORDER,
    Batch,
    BatchEvent,
    BatchItem,
    BatchLine,
    BatchStatus,
    DropFactory,
    Shipment,
    ShipmentItem,
    Stage,
)


def _factory(actor: Actor) -> int:
    if actor.factory_id is None:
        raise PermissionDenied("Use a factory API key.")
    return actor.factory_id


async def _own_batch(session: AsyncSession, actor: Actor, batch_id: int, *,
                     lock: bool = False) -> Batch:
    factory_id = _factory(actor)
    stmt = select(Batch).where(Batch.id == batch_id)
    if lock:
        stmt = stmt.with_for_update(key_share=True).execution_options(populate_existing=True)
    batch = (await session.execute(stmt)).scalar_one_or_none()
    if batch is None or batch.factory_id != factory_id:
        raise NotFound("No such batch.", field="batchId")
    return batch


async def feed(session: AsyncSession, actor: Actor, status: BatchStatus | None,
               updated_since: datetime | None, after: tuple[datetime, int] | None,
               limit: int) -> list[Batch]:
    """A stable feed ordered by (updated_at, id): a factory polls it with updatedSince and the
    last cursor and never misses a change."""
    stmt = select(Batch).where(Batch.factory_id == _factory(actor))
    if status is not None:
        stmt = stmt.where(Batch.status == status)
    if updated_since is not None:
        stmt = stmt.where(Batch.updated_at >= updated_since)
    if after is not None:
        stmt = stmt.where((Batch.updated_at > after[0])
                          | ((Batch.updated_at == after[0]) & (Batch.id > after[1])))
    stmt = stmt.order_by(Batch.updated_at, Batch.id).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def get_batch(session: AsyncSession, actor: Actor, batch_id: int) -> Batch:
    if actor.factory_id is not None:
        return await _own_batch(session, actor, batch_id)
    user = await identity.require_user(session, actor)
    batch = await session.get(Batch, batch_id)
    drop = await drop_repo.get(session, batch.drop_id) if batch else None
    if batch is None or drop is None or (drop.owner_id != user.id and not user.is_operator):
        raise NotFound("No such batch.", field="batchId")
    return batch


async def lines(session: AsyncSession, batch_ids: Sequence[int]) -> dict[int, list[BatchLine]]:
    out: dict[int, list[BatchLine]] = {b: [] for b in batch_ids}
    stmt = select(BatchLine).where(BatchLine.batch_id.in_(batch_ids)).order_by(BatchLine.variant_id)
    for line in (await session.execute(stmt)).scalars():
        out[line.batch_id].append(line)
    return out


def _touch(batch: Batch) -> None:
    batch.updated_at = utcnow()


async def accept(session: AsyncSession, actor: Actor, batch_id: int) -> Batch:
    batch = await _own_batch(session, actor, batch_id, lock=True)
    if batch.status is not BatchStatus.CREATED:
        return batch  # accepted already (or further): nothing to do
    batch.status = BatchStatus.ACCEPTED
    _touch(batch)
    order_ids = select(BatchItem.order_id).where(BatchItem.batch_id == batch_id)
    await session.execute(update(Order).where(Order.id.in_(order_ids),
                                              Order.status == OrderStatus.CONFIRMED)
                          .values(status=OrderStatus.IN_PRODUCTION))
    await session.flush()
    return batch


async def report_progress(session: AsyncSession, actor: Actor, batch_id: int, stage: Stage,
                          note: str) -> Batch:
    batch = await _own_batch(session, actor, batch_id, lock=True)
    if batch.status is BatchStatus.CREATED:
        raise InvalidTransition("Accept the batch first.", code=ErrorCode.BATCH_NOT_ACCEPTED)
    if len(note) > 1000:
        raise ValidationFailed("The note is too long (1000 characters at most).", field="note")
    if batch.stage is not None and STAGE_ORDER.index(stage) < STAGE_ORDER.index(batch.stage):
        raise InvalidTransition(f"The batch is already at {batch.stage.value}.",
                                code=ErrorCode.STATUS_REGRESSION, field="stage")
    if batch.stage is stage:
        return batch
    session.add(BatchEvent(batch_id=batch_id, stage=stage, note=note.strip()))
    batch.stage = stage
    if BATCH_ORDER.index(batch.status) < BATCH_ORDER.index(BatchStatus.IN_PRODUCTION):
        batch.status = BatchStatus.IN_PRODUCTION
    _touch(batch)
    await session.flush()
    return batch


@dataclass(frozen=True)
class ShipLine:
    variant_id: int
    quantity: int


async def ship(session: AsyncSession, actor: Actor, batch_id: int, carrier: str,
               tracking_number: str, quantities: Sequence[ShipLine]) -> Shipment:
    batch = await _own_batch(session, actor, batch_id, lock=True)
    carrier, tracking_number = carrier.strip(), tracking_number.strip()
    if not 1 <= len(carrier) <= 64 or not 1 <= len(tracking_number) <= 64:
        raise ValidationFailed("carrier and trackingNumber are 1 to 64 characters.",
                               field="trackingNumber")
    wanted: dict[int, int] = {}
    for q in quantities:
        if q.quantity <= 0 or q.variant_id in wanted:
            raise ValidationFailed("Each variant once, with a positive quantity.",
                                   field="quantities")
        wanted[q.variant_id] = q.quantity
    if not wanted:
        raise ValidationFailed("Ship at least one unit.", field="quantities")
    digest = hashlib.sha256(json.dumps([carrier, sorted(wanted.items())]).encode()).hexdigest()
    existing = (await session.execute(select(Shipment).where(
        Shipment.batch_id == batch_id, Shipment.tracking_number == tracking_number))
    ).scalar_one_or_none()
    if existing is not None:
        if existing.request_hash != digest:
            raise Conflict("That tracking number was used for a different shipment.",
                           field="trackingNumber")
        return existing
    if batch.status is BatchStatus.CREATED:
        raise InvalidTransition("Accept the batch before shipping it.",
                                code=ErrorCode.BATCH_NOT_ACCEPTED)
    by_variant = {line.variant_id: line for line in (await lines(session, [batch_id]))[batch_id]}
    for variant_id, qty in wanted.items():
        line = by_variant.get(variant_id)
        if line is None:
            raise ValidationFailed("That variant is not in this batch.", field="quantities")
        if line.shipped + qty > line.quantity:
            raise ValidationFailed(
                f"Only {line.quantity - line.shipped} left to ship of that variant.",
                field="quantities", code=ErrorCode.QUANTITY_EXCEEDS_ORDER)
    shipment = Shipment(batch_id=batch_id, carrier=carrier, tracking_number=tracking_number,
                        request_hash=digest)
    session.add(shipment)
    await session.flush()
    items = list((await session.execute(select(BatchItem).where(BatchItem.batch_id == batch_id)
                                        .order_by(BatchItem.order_id))).scalars())
    touched: set[int] = set()
    for variant_id, qty in wanted.items():
        by_variant[variant_id].shipped += qty
        for item in items:
            if qty == 0:
                break
            if item.variant_id != variant_id or item.shipped >= item.quantity:
                continue
            take = min(qty, item.quantity - item.shipped)
            item.shipped += take
            qty -= take
            touched.add(item.order_id)
            session.add(ShipmentItem(shipment_id=shipment.id, order_id=item.order_id,
                                     variant_id=variant_id, quantity=take))
    if all(line.shipped == line.quantity for line in by_variant.values()):
        batch.status = BatchStatus.SHIPPED
    elif BATCH_ORDER.index(batch.status) < BATCH_ORDER.index(BatchStatus.IN_PRODUCTION):
        batch.status = BatchStatus.IN_PRODUCTION
    _touch(batch)
    await session.flush()
    for order_id in sorted(touched):
        await _maybe_shipped(session, order_id)
    return shipment


async def _maybe_shipped(session: AsyncSession, order_id: int) -> None:
    """An order is SHIPPED when every unit it ordered has shipped (across batches)."""
    ordered = (await session.execute(select(func.sum(Order.quantity)).where(
        Order.id == order_id))).scalar_one()
    shipped = (await session.execute(select(func.coalesce(func.sum(ShipmentItem.quantity), 0))
                                     .where(ShipmentItem.order_id == order_id))).scalar_one()
    if shipped >= ordered and await drop_repo.set_order_status(
            session, order_id, [OrderStatus.CONFIRMED, OrderStatus.IN_PRODUCTION],
            OrderStatus.SHIPPED):
        await notifications.record_event(session, NotificationKind.ORDER_SHIPPED, order_id)


async def tracking_of(session: AsyncSession, order_id: int) -> list[tuple[str, str]]:
    stmt = (select(Shipment.carrier, Shipment.tracking_number).distinct()
            .join(ShipmentItem, ShipmentItem.shipment_id == Shipment.id)
            .where(ShipmentItem.order_id == order_id))
    return [(c, t) for c, t in (await session.execute(stmt)).all()]


async def production_sheet(session: AsyncSession, actor: Actor, batch_id: int) -> str:
    """CSV: a size x colour matrix of the batch with totals, and its notes."""
    batch = await get_batch(session, actor, batch_id)
    drop = await drop_repo.get(session, batch.drop_id)
    assert drop is not None
    variants = {v.id: v for v in await drop_repo.variants(session, batch.drop_id)}
    qty = {(variants[line.variant_id].size, variants[line.variant_id].color): line.quantity
           for line in (await lines(session, [batch_id]))[batch_id]}
    sizes = list(dict.fromkeys(v.size for v in variants.values()))
    colors = list(dict.fromkeys(v.color for v in variants.values()))
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["batch", batch.id, "drop", drop.title, "sequence", batch.sequence])
    w.writerow(["size \\ colour", *colors, "total"])
    for size in sizes:
        row = [qty.get((size, c), 0) for c in colors]
        w.writerow([size, *row, sum(row)])
    col_totals = [sum(qty.get((s, c), 0) for s in sizes) for c in colors]
    w.writerow(["total", *col_totals, sum(col_totals)])
    w.writerow([])
    w.writerow(["size chart", drop.size_chart])
    w.writerow(["note", batch.note + (" (below the factory's minimum batch)"
                                      if batch.below_minimum else "")])
    return out.getvalue()


async def assign_factories(session: AsyncSession, actor: Actor, drop_id: int,
                           factory_ids: Sequence[int]) -> list[int]:
    user = await identity.require_user(session, actor)
    drop = await drop_repo.get(session, drop_id)
    if drop is None or (drop.owner_id != user.id and not user.is_operator):
        raise NotFound("No such drop.", field="dropId")
    ids = list(dict.fromkeys(factory_ids))
    if not 1 <= len(ids) <= 10:
        raise ValidationFailed("Assign 1 to 10 factories.", field="factoryIds")
    for fid in ids:
        if await identity.repo.get_factory(session, fid) is None:
            raise NotFound("No such factory.", field="factoryIds")
    await session.execute(DropFactory.__table__.delete().where(DropFactory.drop_id == drop_id))
    session.add_all([DropFactory(drop_id=drop_id, factory_id=f, priority=i)
                     for i, f in enumerate(ids)])
    await session.flush()
    return ids


@dataclass(frozen=True)
class SkuProgress:
    variant: DropVariant
    ordered: int
    planned: int
    shipped: int


async def production_view(session: AsyncSession, actor: Actor, drop_id: int) -> tuple[list[Batch], list[SkuProgress]]:
    """A drop's batches and, per SKU, what is confirmed, planned and shipped (KOC and operator)."""
    user = await identity.require_user(session, actor)
    drop = await drop_repo.get(session, drop_id)
    if drop is None or (drop.owner_id != user.id and not user.is_operator):
        raise NotFound("No such drop.", field="dropId")
    batches = list((await session.execute(select(Batch).where(Batch.drop_id == drop_id)
                                          .order_by(Batch.sequence))).scalars())
    variants = await drop_repo.variants(session, drop_id)
    from domain.drops.models import OrderLine

    producing = [OrderStatus.CONFIRMED, OrderStatus.IN_PRODUCTION, OrderStatus.SHIPPED,
                 OrderStatus.DELIVERED]
    ordered = dict((await session.execute(
        select(OrderLine.variant_id, func.sum(OrderLine.quantity))
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.drop_id == drop_id, Order.status.in_(producing))
        .group_by(OrderLine.variant_id))).all())
    planned = dict((await session.execute(
        select(BatchLine.variant_id, func.sum(BatchLine.quantity))
        .join(Batch, Batch.id == BatchLine.batch_id).where(Batch.drop_id == drop_id)
        .group_by(BatchLine.variant_id))).all())
    shipped = dict((await session.execute(
        select(BatchLine.variant_id, func.sum(BatchLine.shipped))
        .join(Batch, Batch.id == BatchLine.batch_id).where(Batch.drop_id == drop_id)
        .group_by(BatchLine.variant_id))).all())
    return batches, [SkuProgress(v, int(ordered.get(v.id, 0)), int(planned.get(v.id, 0)),
                                 int(shipped.get(v.id, 0))) for v in variants]
