from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.drops.models import DropStatus, OrderStatus
from domain.errors import ValidationFailed
from domain.production import drop_production, factory_api, models
from domain.production.drop_production import SkuProgress
from schema.context import Context
from schema.drops.types import Drop, DropVariant
from schema.errors import UserError
from schema.identity.types import Factory
from schema.ids import node_pks
from schema.loaders import loader

BatchStatus = models.BatchStatus
strawberry.enum(models.BatchStatus, name="BatchStatus")  # registers the domain enum with GraphQL
ProductionStage = models.Stage
strawberry.enum(models.Stage, name="ProductionStage")  # registers the domain enum with GraphQL


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
    status: BatchStatus
    stage: ProductionStage | None
    below_minimum: bool
    created_at: datetime
    updated_at: datetime
    drop_pk: strawberry.Private[int]
    factory_pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, b: models.Batch) -> Batch:
        return cls(
            id=b.id,
            drop_id=relay.GlobalID("Drop", str(b.drop_id)),
            factory_id=relay.GlobalID("Factory", str(b.factory_id)),
            sequence=b.sequence,
            status=b.status,
            stage=b.stage,
            below_minimum=b.below_minimum,
            created_at=b.created_at,
            updated_at=b.updated_at,
            drop_pk=b.drop_id,
            factory_pk=b.factory_id,
        )

    @strawberry.field(description="The drop this batch makes.")
    async def drop(self, info: Info[Context, Any]) -> Drop:
        return Drop.from_model(await loader(info.context, "drop").load(self.drop_pk))

    @strawberry.field(description="The factory making this batch.")
    async def factory(self, info: Info[Context, Any]) -> Factory:
        return Factory.from_model(await loader(info.context, "factory").load(self.factory_pk))

    @strawberry.field
    async def lines(self, info: Info[Context, Any]) -> list[BatchLine]:
        rows = await loader(info.context, "batch_lines").load(self.id)
        variants = {v.id: v for v in await loader(info.context, "drop_variants").load(self.drop_pk)}
        return [
            BatchLine(
                variant=DropVariant.from_model(variants[r.variant_id]),
                size=variants[r.variant_id].size,
                color=variants[r.variant_id].color,
                quantity=r.quantity,
                shipped=r.shipped,
            )
            for r in rows
        ]

    @strawberry.field(
        description="The production sheet (a size x colour report, CSV): a signed link that "
        "works when clicked for 15 minutes (ask again for a fresh one)."
    )
    def sheet_url(self, info: Info[Context, Any]) -> str:
        return _link(info, self.id, "sheet")

    @strawberry.field(
        description="The batch as one flat table (CSV, one row per SKU with ids, quantities, "
        "shipped, to ship, ship-by date): a signed link valid for 15 minutes."
    )
    def lines_url(self, info: Info[Context, Any]) -> str:
        return _link(info, self.id, "lines")

    @strawberry.field(
        description="The packing list (CSV, one row per order and SKU): a signed link valid "
        "for 15 minutes."
    )
    def packing_list_url(self, info: Info[Context, Any]) -> str:
        return _link(info, self.id, "packing")

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, Any], node_ids: Iterable[str], required: bool = False
    ) -> list[Batch | None]:
        ctx = info.context
        pks = node_pks(node_ids)
        async with ctx.read_session() as session:
            found = await factory_api.visible_batches(session, ctx.actor, [p for p in pks if p])
        return [cls.from_model(found[p]) if p in found else None for p in pks]


def _link(info: Info[Context, Any], batch_id: int, sheet: str) -> str:
    ctx = info.context
    return ctx.services.sheet_links.url(batch_id, sheet, ctx.actor)


@strawberry.type
class SkuProduction:
    variant: DropVariant
    confirmed: int
    planned: int
    shipped: int
    to_ship: int

    @classmethod
    def from_domain(cls, s: SkuProgress) -> SkuProduction:
        return cls(
            variant=DropVariant.from_model(s.variant),
            confirmed=s.ordered,
            planned=s.planned,
            shipped=s.shipped,
            to_ship=max(0, s.ordered - s.shipped),
        )


@strawberry.type
class OrderStatusCount:
    status: OrderStatus
    orders: int
    units: int


@strawberry.type(
    description="Where a drop is between its close and its factories, for a console to show "
    "while the worker settles, refunds and plans."
)
class SettlementProgress:
    drop_status: DropStatus = strawberry.field(
        description="CLOSED: waiting for settlement; then SUCCEEDED or FAILED."
    )
    closed_at: datetime | None
    settled_at: datetime | None
    orders_by_status: list[OrderStatusCount]
    refunds_pending: int = strawberry.field(
        description="Cancelled orders whose payments are not yet refunded in full."
    )
    units_confirmed: int = strawberry.field(description="Units of orders going to production.")
    units_planned: int = strawberry.field(description="Units in batches so far.")
    batches_planned: int

    @classmethod
    def from_domain(cls, p: drop_production.SettlementProgress) -> SettlementProgress:
        drop = p.view.drop
        return cls(
            drop_status=drop.status,
            closed_at=drop.closed_at,
            settled_at=drop.settled_at,
            orders_by_status=[
                OrderStatusCount(status=c.status, orders=c.orders, units=c.units)
                for c in p.by_status
            ],
            refunds_pending=p.refunds_pending,
            units_confirmed=p.view.units_confirmed,
            units_planned=p.view.units_planned,
            batches_planned=len(p.view.batches),
        )


@strawberry.type
class DropProduction:
    batches: list[Batch]
    skus: list[SkuProduction]
    view: strawberry.Private[drop_production.ProductionView]

    @classmethod
    def from_domain(cls, view: drop_production.ProductionView) -> DropProduction:
        return cls(
            batches=[Batch.from_model(b) for b in view.batches],
            skus=[SkuProduction.from_domain(s) for s in view.skus],
            view=view,
        )

    @strawberry.field(description="The drop's way from its close to its batches (read when asked).")
    async def settlement(self, info: Info[Context, Any]) -> SettlementProgress:
        async with info.context.read_session() as session:
            progress = await drop_production.settlement_of(session, self.view)
        return SettlementProgress.from_domain(progress)


@strawberry.type
class BatchPayload:
    batch: Batch | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ShipmentPayload:
    batch: Batch | None = None
    tracking_number: str | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def feed_cursor(b: models.Batch) -> str:
    return base64.urlsafe_b64encode(f"batch:{b.updated_at.isoformat()}|{b.id}".encode()).decode()


def decode_feed_cursor(cursor: str | None, want: str = "batch") -> tuple[datetime, int] | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        kind, _, rest = raw.partition(":")
        ts, _, pk = rest.rpartition("|")
        if kind != want or not pk.isascii() or not pk.isdigit() or len(pk) > 19:
            raise ValueError(kind)
        when = datetime.fromisoformat(ts)
        if when.tzinfo is None:
            raise ValueError(ts)
        return when, int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValidationFailed("The cursor is not valid.", field="after") from exc
