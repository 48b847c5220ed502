"""The GraphQL face of samples (打样): the Sample type, its payload, and the feed cursor."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.production import models
from schema.context import Context
from schema.errors import UserError
from schema.loaders import loader

if TYPE_CHECKING:
    from schema.drops.types import Drop

SampleStatus = models.SampleStatus
strawberry.enum(
    models.SampleStatus,
    name="SampleStatus",
    description="REQUESTED -> SAMPLING (the factory accepted) -> SAMPLE_SHIPPED -> RECEIVED.",
)


@strawberry.type(description="A sample of a drop, made by a factory before it is published.")
class Sample:
    id: relay.GlobalID
    drop_id: relay.GlobalID
    factory_id: relay.GlobalID
    status: SampleStatus
    note: str
    carrier: str | None
    tracking_number: str | None
    requested_at: datetime
    received_at: datetime | None
    drop_pk: strawberry.Private[int]

    @strawberry.field(description="The draft drop this sample is for.")
    async def drop(
        self, info: Info[Context, Any]
    ) -> Annotated[Drop, strawberry.lazy("schema.drops.types")]:
        from schema.drops.types import Drop

        return Drop.from_model(await loader(info.context, "drop").load(self.drop_pk))

    @classmethod
    def from_model(cls, s: models.Sample) -> Sample:
        return cls(
            id=relay.GlobalID("Sample", str(s.id)),
            drop_id=relay.GlobalID("Drop", str(s.drop_id)),
            factory_id=relay.GlobalID("Factory", str(s.factory_id)),
            status=s.status,
            note=s.note,
            carrier=s.carrier,
            tracking_number=s.tracking_number,
            requested_at=s.created_at,
            received_at=s.received_at,
            drop_pk=s.drop_id,
        )


@strawberry.type
class SamplePayload:
    sample: Sample | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def sample_cursor(s: models.Sample) -> str:
    return base64.urlsafe_b64encode(f"sample:{s.updated_at.isoformat()}|{s.id}".encode()).decode()
