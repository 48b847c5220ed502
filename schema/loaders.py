"""Per-request DataLoaders (created lazily in the request's context, never global): one query per
batch of parents, each batch in its own short read session, through the domain."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from domain.drops import drafts, media, orders, visibility
from domain.identity import factories
from domain.polls import visibility as poll_visibility
from domain.production import factory_api, samples
from schema.context import Context

Fetch = Callable[[AsyncSession, Sequence[int]], Awaitable[Any]]


def _grouped(fetch: Fetch, parent: str) -> Callable[[Context], DataLoader[int, list[Any]]]:
    """Children grouped by their parent's id (``fetch`` returns a flat list of rows)."""

    def make(ctx: Context) -> DataLoader[int, list[Any]]:
        async def load(keys: list[int]) -> list[list[Any]]:
            async with ctx.read_session() as session:
                rows = await fetch(session, keys)
            out: dict[int, list[Any]] = {k: [] for k in keys}
            for row in rows:
                out[getattr(row, parent)].append(row)
            return [out[k] for k in keys]

        return DataLoader(load_fn=load)

    return make


def _mapped(fetch: Fetch) -> Callable[[Context], DataLoader[int, Any]]:
    """``fetch`` returns {parent id: value}; missing parents get an empty list."""

    def make(ctx: Context) -> DataLoader[int, Any]:
        async def load(keys: list[int]) -> list[Any]:
            async with ctx.read_session() as session:
                found = await fetch(session, keys)
            return [found.get(k, []) for k in keys]

        return DataLoader(load_fn=load)

    return make


def _by_id(fetch: Fetch) -> Callable[[Context], DataLoader[int, Any]]:
    """One row per key (``fetch`` returns rows with an ``id``); a missing row is None."""

    def make(ctx: Context) -> DataLoader[int, Any]:
        async def load(keys: list[int]) -> list[Any]:
            async with ctx.read_session() as session:
                found = {row.id: row for row in await fetch(session, keys)}
            return [found.get(k) for k in keys]

        return DataLoader(load_fn=load)

    return make


def _drafts(ctx: Context) -> DataLoader[int, Any]:
    """Drafts made by polls' closes, by poll: what this request's actor may see of them."""
    return _mapped(lambda session, ids: drafts.drafts_of_polls(session, ctx.actor, ids))(ctx)


LOADERS: dict[str, Callable[[Context], DataLoader[int, Any]]] = {
    "poll_options": _grouped(poll_visibility.options_of, "poll_id"),
    "drop_variants": _grouped(visibility.variants_of, "drop_id"),
    "order_lines": _mapped(orders.lines_of),
    "batch_lines": _mapped(factory_api.lines),
    "drop_samples": _grouped(samples.of_drops, "drop_id"),
    "drop_media": _grouped(media.media_of, "drop_id"),
    "poll_drafts": _drafts,
    # Reached through a parent the caller already sees (an order, its lines, a batch).
    "drop": _by_id(visibility.drops_reached),
    "variant": _by_id(visibility.variants_reached),
    "factory": _by_id(factories.factories_reached),
}


def loader(ctx: Context, name: str) -> DataLoader[int, Any]:
    if name not in ctx.loaders:
        ctx.loaders[name] = LOADERS[name](ctx)
    return ctx.loaders[name]  # type: ignore[no-any-return]
