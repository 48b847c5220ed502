from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from strawberry import relay
from strawberry.types import Info

from domain.production import drop_production, factory_api, samples
from schema.context import Context
from schema.ids import decode_id
from schema.pagination import Connection, Edge, PageInfo, page_size
from schema.production.samples import Sample, sample_cursor
from schema.production.types import (
    Batch,
    BatchStatus,
    DropProduction,
    decode_feed_cursor,
    feed_cursor,
)

R = TypeVar("R")
T = TypeVar("T")


@strawberry.type
class ProductionQuery:
    @strawberry.field(
        description="Factories (API key): your batches, ordered by last change "
        "then id. Poll with updatedSince and the endCursor; nothing is missed."
    )
    async def batch_orders(
        self,
        info: Info[Context, Any],
        status: BatchStatus | None = None,
        updated_since: datetime | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Batch]:
        ctx = info.context
        limit = page_size(first)
        async with ctx.read_session() as session:
            rows = await factory_api.feed(
                session,
                ctx.authenticated_actor(),
                status,
                updated_since,
                decode_feed_cursor(after),
                limit + 1,
            )
        return _feed_page(rows, limit, after, feed_cursor, Batch.from_model)

    @strawberry.field(
        description="A drop's production: batches and, per SKU, what is "
        "confirmed, planned, shipped and still to ship (its KOC, operators)."
    )
    async def drop_production(
        self, info: Info[Context, Any], drop_id: relay.GlobalID
    ) -> DropProduction:
        ctx = info.context
        did = decode_id(drop_id, "Drop", "dropId")
        async with ctx.read_session() as session:
            view = await drop_production.production_view(session, ctx.authenticated_actor(), did)
        return DropProduction.from_domain(view)

    @strawberry.field(
        description="Factories: your sample requests, by last change (poll with updatedSince "
        "and the last cursor, as batchOrders)."
    )
    async def sample_requests(
        self,
        info: Info[Context, Any],
        updated_since: datetime | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Sample]:
        ctx = info.context
        limit = page_size(first)
        async with ctx.read_session() as session:
            rows = await samples.feed(
                session,
                ctx.authenticated_actor(),
                updated_since,
                decode_feed_cursor(after, "sample"),
                limit + 1,
            )
        return _feed_page(rows, limit, after, sample_cursor, Sample.from_model)


def _feed_page(
    rows: Sequence[R],
    limit: int,
    after: str | None,
    cursor: Callable[[R], str],
    to_node: Callable[[R], T],
) -> Connection[T]:
    """A page of a factory feed (``rows`` fetched with ``limit + 1``): with no new rows the end
    cursor stays where the factory was, so its next poll starts there."""
    edges = [Edge(cursor=cursor(r), node=to_node(r)) for r in rows[:limit]]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > limit, end_cursor=edges[-1].cursor if edges else after
        ),
    )
