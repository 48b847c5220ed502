from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay
from strawberry.types import Info

from domain.identity.actor import Actor
from domain.production import drop_production, factory_api, samples
from schema.context import Context
from schema.drops.types import Drop, DropPayload
from schema.errors import mutate
from schema.ids import decode_id, decode_ids
from schema.production.samples import Sample, SamplePayload
from schema.production.types import Batch, BatchPayload, ProductionStage, ShipmentPayload


@strawberry.input
class ShipQuantityInput:
    variant_id: relay.GlobalID
    quantity: int


def _batch_id(gid: relay.GlobalID) -> int:
    return decode_id(gid, "Batch", "batchId")


@strawberry.type
class ProductionMutation:
    @strawberry.mutation(
        description="KOCs/operators: the factories that make a drop, in priority order."
    )
    async def assign_factories(
        self, info: Info[Context, Any], drop_id: relay.GlobalID, factory_ids: list[relay.GlobalID]
    ) -> DropPayload:
        async def work(session: AsyncSession, actor: Actor) -> DropPayload:
            d = await drop_production.assign_factories(
                session,
                actor,
                decode_id(drop_id, "Drop", "dropId"),
                decode_ids(factory_ids, "Factory", "factoryIds"),
            )
            return DropPayload(drop=Drop.from_model(d))

        return await mutate(info, DropPayload, work)

    @strawberry.mutation(description="Factories: accept a batch (idempotent).")
    async def accept_batch(
        self, info: Info[Context, Any], batch_id: relay.GlobalID
    ) -> BatchPayload:
        async def work(session: AsyncSession, actor: Actor) -> BatchPayload:
            b = await factory_api.accept(session, actor, _batch_id(batch_id))
            return BatchPayload(batch=Batch.from_model(b))

        return await mutate(info, BatchPayload, work)

    @strawberry.mutation(
        description="Factories: report the stage a batch reached "
        "(CUTTING, SEWING, QC, PACKED); stages never go back."
    )
    async def report_progress(
        self,
        info: Info[Context, Any],
        batch_id: relay.GlobalID,
        stage: ProductionStage,
        note: str = "",
    ) -> BatchPayload:
        async def work(session: AsyncSession, actor: Actor) -> BatchPayload:
            b = await factory_api.report_progress(session, actor, _batch_id(batch_id), stage, note)
            return BatchPayload(batch=Batch.from_model(b))

        return await mutate(info, BatchPayload, work)

    @strawberry.mutation(
        description="Factories: ship some or all of a batch under one tracking "
        "number (repeat it and nothing changes). Never more than ordered."
    )
    async def ship_batch(
        self,
        info: Info[Context, Any],
        batch_id: relay.GlobalID,
        carrier: str,
        tracking_number: str,
        quantities: list[ShipQuantityInput],
    ) -> ShipmentPayload:
        async def work(session: AsyncSession, actor: Actor) -> ShipmentPayload:
            bid = _batch_id(batch_id)
            lines = [
                factory_api.ShipLine(
                    decode_id(q.variant_id, "DropVariant", "quantities"), q.quantity
                )
                for q in quantities
            ]
            shipment, batch = await factory_api.ship(
                session, actor, bid, carrier, tracking_number, lines
            )
            return ShipmentPayload(
                batch=Batch.from_model(batch), tracking_number=shipment.tracking_number
            )

        return await mutate(info, ShipmentPayload, work)


def _sample_id(gid: relay.GlobalID) -> int:
    return decode_id(gid, "Sample", "sampleId")


@strawberry.type
class SampleMutation:
    @strawberry.mutation(
        description="KOCs: ask a factory for a sample of a draft drop (again: the same request)."
    )
    async def request_sample(
        self,
        info: Info[Context, Any],
        drop_id: relay.GlobalID,
        factory_id: relay.GlobalID,
        note: str = "",
    ) -> SamplePayload:
        async def work(session: AsyncSession, actor: Actor) -> SamplePayload:
            s = await samples.request_sample(
                session,
                actor,
                decode_id(drop_id, "Drop", "dropId"),
                decode_id(factory_id, "Factory", "factoryId"),
                note,
            )
            return SamplePayload(sample=Sample.from_model(s))

        return await mutate(info, SamplePayload, work)

    @strawberry.mutation(description="Factories: accept a sample request (SAMPLING).")
    async def accept_sample(
        self, info: Info[Context, Any], sample_id: relay.GlobalID
    ) -> SamplePayload:
        async def work(session: AsyncSession, actor: Actor) -> SamplePayload:
            s = await samples.accept_sample(session, actor, _sample_id(sample_id))
            return SamplePayload(sample=Sample.from_model(s))

        return await mutate(info, SamplePayload, work)

    @strawberry.mutation(description="Factories: ship the sample (SAMPLE_SHIPPED, with tracking).")
    async def ship_sample(
        self,
        info: Info[Context, Any],
        sample_id: relay.GlobalID,
        carrier: str,
        tracking_number: str,
    ) -> SamplePayload:
        async def work(session: AsyncSession, actor: Actor) -> SamplePayload:
            s = await samples.ship_sample(
                session, actor, _sample_id(sample_id), carrier, tracking_number
            )
            return SamplePayload(sample=Sample.from_model(s))

        return await mutate(info, SamplePayload, work)

    @strawberry.mutation(description="KOCs: the sample arrived (RECEIVED).")
    async def confirm_sample_received(
        self, info: Info[Context, Any], sample_id: relay.GlobalID
    ) -> SamplePayload:
        async def work(session: AsyncSession, actor: Actor) -> SamplePayload:
            s = await samples.confirm_received(session, actor, _sample_id(sample_id))
            return SamplePayload(sample=Sample.from_model(s))

        return await mutate(info, SamplePayload, work)
