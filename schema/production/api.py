from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.drops import service as drops
from domain.drops import settlement
from domain.errors import DomainError, ValidationFailed
from domain.identity import service as identity
from domain.production import models, service
from schema.context import Context
from schema.drops.types import Drop, DropPayload, DropVariant
from schema.errors import UserError, in_unit_of_work
from schema.identity.types import Factory, FactoryPayload
from schema.ids import decode_id
from schema.pagination import Connection, Edge, PageInfo, page_size

BatchStatus = strawberry.enum(models.BatchStatus, name="BatchStatus")
ProductionStage = strawberry.enum(models.Stage, name="ProductionStage")


@strawberry.type
class BatchLine:
    variant: DropVariant
    size: str
    color: str
    quantity: int
    shipped: int


@strawberry.type(description="A batch production order: what one factory makes in one run.")
class Batch(relay.Node):
    id: relay.NodeID[int]
    drop_id: relay.GlobalID
    factory_id: relay.GlobalID
    sequence: int
    status: BatchStatus  # type: ignore[valid-type]
    stage: ProductionStage | None  # type: ignore[valid-type]
    below_minimum: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, b: models.Batch) -> Batch:
        return cls(id=b.id, drop_id=relay.GlobalID("Drop", str(b.drop_id)),
                   factory_id=relay.GlobalID("Factory", str(b.factory_id)), sequence=b.sequence,
                   status=b.status, stage=b.stage, below_minimum=b.below_minimum,
                   created_at=b.created_at, updated_at=b.updated_at)

    @strawberry.field
    async def lines(self, info: Info[Context, Any]) -> list[BatchLine]:
        from domain.drops import repository as drop_repo

        async with info.context.read_session() as session:
            rows = (await service.lines(session, [self.id]))[self.id]
            variants = {v.id: v for v in await drop_repo.variants(session, int(self.drop_id.node_id))}
        return [BatchLine(variant=DropVariant.from_model(variants[r.variant_id]),
                          size=variants[r.variant_id].size, color=variants[r.variant_id].color,
                          quantity=r.quantity, shipped=r.shipped) for r in rows]

    @strawberry.field(description="Authenticated URL of the CSV production sheet.")
    def sheet_url(self) -> str:
        return f"/factory/batches/{self.id}/sheet.csv"

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, Any], node_ids: Iterable[str], required: bool = False
    ) -> list[Batch | None]:
        ctx = info.context
        out: list[Batch | None] = []
        async with ctx.read_session() as session:
            for raw in node_ids:
                try:
                    b = await service.get_batch(session, ctx.actor, int(raw))
                except (DomainError, ValueError):
                    b = None
                out.append(cls.from_model(b) if b else None)
        return out


@strawberry.type
class SkuProduction:
    variant: DropVariant
    confirmed: int
    planned: int
    shipped: int
    to_ship: int


@strawberry.type
class DropProduction:
    batches: list[Batch]
    skus: list[SkuProduction]


@strawberry.type
class BatchPayload:
    batch: Batch | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ShipmentPayload:
    batch: Batch | None = None
    tracking_number: str | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ShipQuantityInput:
    variant_id: relay.GlobalID
    quantity: int


@strawberry.input
class FactoryProfileInput:
    contact: str | None = None
    categories: list[str] | None = None
    min_batch: int | None = None
    capacity_per_day: int | None = None
    lead_time_days: int | None = None


def _feed_cursor(b: models.Batch) -> str:
    return base64.urlsafe_b64encode(f"batch:{b.updated_at.isoformat()}|{b.id}".encode()).decode()


def _decode_feed_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        kind, _, rest = raw.partition(":")
        ts, _, pk = rest.rpartition("|")
        if kind != "batch":
            raise ValueError(kind)
        return datetime.fromisoformat(ts), int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValidationFailed("The cursor is not valid.", field="after") from exc


async def drop_production(info: Info[Context, Any], drop_id: int) -> DropProduction:
    ctx = info.context
    async with ctx.read_session() as session:
        batches, skus = await service.production_view(session, ctx.authenticated_actor(), drop_id)
    return DropProduction(
        batches=[Batch.from_model(b) for b in batches],
        skus=[SkuProduction(variant=DropVariant.from_model(s.variant), confirmed=s.ordered,
                            planned=s.planned, shipped=s.shipped,
                            to_ship=max(0, s.ordered - s.shipped)) for s in skus])


@strawberry.type
class ProductionQuery:
    @strawberry.field(description="Factories (API key): your batches, ordered by last change "
                      "then id. Poll with updatedSince and the endCursor; nothing is missed.")
    async def batch_orders(
        self, info: Info[Context, Any],
        status: BatchStatus | None = None,  # type: ignore[valid-type]
        updated_since: datetime | None = None, first: int | None = None,
        after: str | None = None,
    ) -> Connection[Batch]:
        ctx = info.context
        limit = page_size(first)
        async with ctx.read_session() as session:
            rows = await service.feed(session, ctx.authenticated_actor(), status, updated_since,
                                      _decode_feed_cursor(after), limit + 1)
        page = rows[:limit]
        edges = [Edge(cursor=_feed_cursor(b), node=Batch.from_model(b)) for b in page]
        return Connection(edges=edges, page_info=PageInfo(
            has_next_page=len(rows) > limit, end_cursor=edges[-1].cursor if edges else after))

    @strawberry.field(description="A drop's production: batches and, per SKU, what is "
                      "confirmed, planned, shipped and still to ship (its KOC, operators).")
    async def drop_production(self, info: Info[Context, Any],
                              drop_id: relay.GlobalID) -> DropProduction:
        return await drop_production(info, decode_id(drop_id, "Drop", "dropId"))


def _batch(out: Batch | UserError) -> BatchPayload:
    return BatchPayload(errors=[out]) if isinstance(out, UserError) else BatchPayload(batch=out)


@strawberry.type
class ProductionMutation:
    @strawberry.mutation(description="KOCs: close a drop early; settlement follows.")
    async def close_drop(self, info: Info[Context, Any], drop_id: relay.GlobalID) -> DropPayload:
        ctx = info.context

        async def work(session: Any) -> Drop:
            did = decode_id(drop_id, "Drop", "dropId")
            return Drop.from_model(await drops.close_drop(session, ctx.authenticated_actor(), did))

        out = await in_unit_of_work(ctx, work)
        return DropPayload(errors=[out]) if isinstance(out, UserError) else DropPayload(drop=out)

    @strawberry.mutation(description="KOCs/operators: settle a closed drop now (the worker does "
                         "it anyway). Settling twice changes nothing; an open drop is an error.")
    async def settle_drop(self, info: Info[Context, Any], drop_id: relay.GlobalID) -> DropPayload:
        ctx = info.context

        async def work(session: Any) -> Drop:
            did = decode_id(drop_id, "Drop", "dropId")
            done = await settlement.settle_drop_as(session, ctx.authenticated_actor(), did)
            return Drop.from_model(done.drop)

        out = await in_unit_of_work(ctx, work)
        return DropPayload(errors=[out]) if isinstance(out, UserError) else DropPayload(drop=out)

    @strawberry.mutation(description="KOCs/operators: the factories that make a drop, in "
                         "priority order.")
    async def assign_factories(self, info: Info[Context, Any], drop_id: relay.GlobalID,
                               factory_ids: list[relay.GlobalID]) -> DropPayload:
        ctx = info.context

        async def work(session: Any) -> Drop:
            did = decode_id(drop_id, "Drop", "dropId")
            if len(factory_ids) > 10:
                raise ValidationFailed("Assign 1 to 10 factories.", field="factoryIds")
            fids = [decode_id(f, "Factory", "factoryIds") for f in factory_ids]
            await service.assign_factories(session, ctx.authenticated_actor(), did, fids)
            d = await drops.repo.get(session, did)
            assert d is not None
            return Drop.from_model(d)

        out = await in_unit_of_work(ctx, work)
        return DropPayload(errors=[out]) if isinstance(out, UserError) else DropPayload(drop=out)

    @strawberry.mutation(description="Operators: a factory's categories, minimum batch, "
                         "capacity per day, lead time and contact.")
    async def update_factory(self, info: Info[Context, Any], factory_id: relay.GlobalID,
                             input: FactoryProfileInput) -> FactoryPayload:
        ctx = info.context

        async def work(session: Any) -> Factory:
            fid = decode_id(factory_id, "Factory", "factoryId")
            f = await identity.update_factory(
                session, ctx.authenticated_actor(), fid, contact=input.contact,
                categories=input.categories, min_batch=input.min_batch,
                capacity_per_day=input.capacity_per_day, lead_time_days=input.lead_time_days)
            return Factory.from_model(f)

        out = await in_unit_of_work(ctx, work)
        return FactoryPayload(errors=[out]) if isinstance(out, UserError) else FactoryPayload(
            factory=out)

    @strawberry.mutation(description="Factories: accept a batch (idempotent).")
    async def accept_batch(self, info: Info[Context, Any], batch_id: relay.GlobalID) -> BatchPayload:
        ctx = info.context

        async def work(session: Any) -> Batch:
            bid = decode_id(batch_id, "Batch", "batchId")
            return Batch.from_model(await service.accept(session, ctx.authenticated_actor(), bid))

        return _batch(await in_unit_of_work(ctx, work))

    @strawberry.mutation(description="Factories: report the stage a batch reached "
                         "(CUTTING, SEWING, QC, PACKED); stages never go back.")
    async def report_progress(self, info: Info[Context, Any], batch_id: relay.GlobalID,
                              stage: ProductionStage,  # type: ignore[valid-type]
                              note: str = "") -> BatchPayload:
        ctx = info.context

        async def work(session: Any) -> Batch:
            bid = decode_id(batch_id, "Batch", "batchId")
            return Batch.from_model(await service.report_progress(
                session, ctx.authenticated_actor(), bid, stage, note))

        return _batch(await in_unit_of_work(ctx, work))

    @strawberry.mutation(description="Factories: ship some or all of a batch under one tracking "
                         "number (repeat it and nothing changes). Never more than ordered.")
    async def ship_batch(self, info: Info[Context, Any], batch_id: relay.GlobalID, carrier: str,
                         tracking_number: str,
                         quantities: list[ShipQuantityInput]) -> ShipmentPayload:
        ctx = info.context

        async def work(session: Any) -> ShipmentPayload:
            bid = decode_id(batch_id, "Batch", "batchId")
            if len(quantities) > 200:
                raise ValidationFailed("Too many lines.", field="quantities")
            lines = [service.ShipLine(decode_id(q.variant_id, "DropVariant", "quantities"),
                                      q.quantity) for q in quantities]
            shipment = await service.ship(session, ctx.authenticated_actor(), bid, carrier,
                                          tracking_number, lines)
            batch = await service.get_batch(session, ctx.authenticated_actor(), bid)
            return ShipmentPayload(batch=Batch.from_model(batch),
                                   tracking_number=shipment.tracking_number)

        out = await in_unit_of_work(ctx, work)
        return ShipmentPayload(errors=[out]) if isinstance(out, UserError) else out
