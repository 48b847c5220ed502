"""The factory side: a factory sees only its own batches (anything else is not found), accepts
them, reports progress through the stages, and ships (partially, by tracking number).

Every call is idempotent: accepting twice, reporting a stage twice or repeating a shipment with
the same tracking number changes nothing. Quantities never exceed what was ordered and status and
stage never go back (a typed error says so)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from domain import validation as v
from domain.base import utcnow
from domain.drops import repository as drop_repo
from domain.drops.models import OrderStatus
from domain.errors import (
    Conflict,
    ErrorCode,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    ValidationFailed,
)
from domain.identity import roles
from domain.identity.actor import Actor
from domain.notifications import outbox
from domain.notifications.models import NotificationKind
from domain.production import repository as repo
from domain.production.models import (
    BATCH_ORDER,
    STAGE_ORDER,
    Batch,
    BatchEvent,
    BatchLine,
    BatchStatus,
    Shipment,
    ShipmentItem,
    Stage,
)

MAX_SHIP_LINES = 200


def _factory(actor: Actor) -> int:
    if actor.factory_id is None:
        raise PermissionDenied("Use a factory API key.")
    return actor.factory_id


async def _own_batch(
    session: AsyncSession, actor: Actor, batch_id: int, *, lock: bool = False
) -> Batch:
    factory_id = _factory(actor)
    batch = await repo.get_batch(session, batch_id, lock=lock)
    if batch is None or batch.factory_id != factory_id:
        raise NotFound("No such batch.", field="batchId")
    return batch


async def feed(
    session: AsyncSession,
    actor: Actor,
    status: BatchStatus | None,
    updated_since: datetime | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[Batch]:
    """A stable feed ordered by (updated_at, id): a factory polls it with updatedSince and the
    last cursor and never misses a change."""
    return await repo.feed(session, _factory(actor), status, updated_since, after, limit)


async def get_batch(session: AsyncSession, actor: Actor, batch_id: int) -> Batch:
    if actor.factory_id is not None:
        return await _own_batch(session, actor, batch_id)
    user = await roles.require_user(session, actor)
    batch = await repo.get_batch(session, batch_id)
    drop = await drop_repo.get(session, batch.drop_id) if batch else None
    if batch is None or drop is None or not roles.manages(user, drop.owner_id):
        raise NotFound("No such batch.", field="batchId")
    return batch


async def visible_batches(
    session: AsyncSession, actor: Actor, batch_ids: Sequence[int]
) -> dict[int, Batch]:
    out: dict[int, Batch] = {}
    for batch_id in batch_ids:
        try:
            out[batch_id] = await get_batch(session, actor, batch_id)
        except (NotFound, PermissionDenied, Unauthenticated):
            continue
    return out


async def lines(session: AsyncSession, batch_ids: Sequence[int]) -> dict[int, list[BatchLine]]:
    """Lines of batches the caller already sees (the DataLoader behind ``Batch.lines``)."""
    return await repo.lines(session, batch_ids)


def _touch(batch: Batch) -> None:
    batch.updated_at = utcnow()


async def accept(session: AsyncSession, actor: Actor, batch_id: int) -> Batch:
    batch = await _own_batch(session, actor, batch_id, lock=True)
    if batch.status is not BatchStatus.CREATED:
        return batch  # accepted already (or further): nothing to do
    batch.status = BatchStatus.ACCEPTED
    _touch(batch)
    await repo.start_orders_of(session, batch_id)
    await session.flush()
    return batch


async def report_progress(
    session: AsyncSession, actor: Actor, batch_id: int, stage: Stage, note: str
) -> Batch:
    batch = await _own_batch(session, actor, batch_id, lock=True)
    if batch.status is BatchStatus.CREATED:
        raise InvalidTransition("Accept the batch first.", code=ErrorCode.BATCH_NOT_ACCEPTED)
    note = v.text(note, "note", max_len=1000)
    if batch.stage is not None and STAGE_ORDER.index(stage) < STAGE_ORDER.index(batch.stage):
        raise InvalidTransition(
            f"The batch is already at {batch.stage.value}.",
            code=ErrorCode.STATUS_REGRESSION,
            field="stage",
        )
    if batch.stage is stage:
        return batch
    session.add(BatchEvent(batch_id=batch_id, stage=stage, note=note))
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


async def ship(
    session: AsyncSession,
    actor: Actor,
    batch_id: int,
    carrier: str,
    tracking_number: str,
    quantities: Sequence[ShipLine],
) -> tuple[Shipment, Batch]:
    batch = await _own_batch(session, actor, batch_id, lock=True)
    carrier = v.text(carrier, "carrier", min_len=1, max_len=64)
    tracking_number = v.text(tracking_number, "trackingNumber", min_len=1, max_len=64)
    if len(quantities) > MAX_SHIP_LINES:
        raise ValidationFailed(f"At most {MAX_SHIP_LINES} lines.", field="quantities")
    wanted: dict[int, int] = {}
    for q in quantities:
        if q.quantity <= 0 or q.variant_id in wanted:
            raise ValidationFailed(
                "Each variant once, with a positive quantity.", field="quantities"
            )
        wanted[q.variant_id] = q.quantity
    if not wanted:
        raise ValidationFailed("Ship at least one unit.", field="quantities")
    digest = hashlib.sha256(json.dumps([carrier, sorted(wanted.items())]).encode()).hexdigest()
    existing = await repo.shipment_by_tracking(session, batch_id, tracking_number)
    if existing is not None:
        if existing.request_hash != digest:
            raise Conflict(
                "That tracking number was used for a different shipment.", field="trackingNumber"
            )
        return existing, batch
    if batch.status is BatchStatus.CREATED:
        raise InvalidTransition(
            "Accept the batch before shipping it.", code=ErrorCode.BATCH_NOT_ACCEPTED
        )
    by_variant = {
        line.variant_id: line for line in (await repo.lines(session, [batch_id]))[batch_id]
    }
    for variant_id, qty in wanted.items():
        line = by_variant.get(variant_id)
        if line is None:
            raise ValidationFailed("That variant is not in this batch.", field="quantities")
        if line.shipped + qty > line.quantity:
            raise ValidationFailed(
                f"Only {line.quantity - line.shipped} left to ship of that variant.",
                field="quantities",
                code=ErrorCode.QUANTITY_EXCEEDS_ORDER,
            )
    shipment = Shipment(
        batch_id=batch_id, carrier=carrier, tracking_number=tracking_number, request_hash=digest
    )
    session.add(shipment)
    await session.flush()
    items = await repo.items(session, batch_id)
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
            session.add(
                ShipmentItem(
                    shipment_id=shipment.id,
                    order_id=item.order_id,
                    variant_id=variant_id,
                    quantity=take,
                )
            )
    if all(line.shipped == line.quantity for line in by_variant.values()):
        batch.status = BatchStatus.SHIPPED
    elif BATCH_ORDER.index(batch.status) < BATCH_ORDER.index(BatchStatus.IN_PRODUCTION):
        batch.status = BatchStatus.IN_PRODUCTION
    _touch(batch)
    await session.flush()
    for order_id in sorted(touched):
        await _maybe_shipped(session, order_id)
    return shipment, batch


async def _maybe_shipped(session: AsyncSession, order_id: int) -> None:
    """An order is SHIPPED when every unit it ordered has shipped (across batches)."""
    ordered, shipped = await repo.ordered_and_shipped(session, order_id)
    if shipped >= ordered and await drop_repo.set_order_status(
        session, order_id, [OrderStatus.CONFIRMED, OrderStatus.IN_PRODUCTION], OrderStatus.SHIPPED
    ):
        await outbox.record_event(session, NotificationKind.ORDER_SHIPPED, order_id)
