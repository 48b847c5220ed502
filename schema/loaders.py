"""Per-request DataLoaders (created lazily in the request's context, never global): one query per
batch of parents, each batch in its own short read session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from domain.drops import repository as drop_repo
from domain.polls import repository as poll_repo
from schema.context import Context

T = TypeVar("T")


def _grouped(ctx: Context, fetch: Callable[[Any, Sequence[int]], Awaitable[list[Any]]],
             parent: str) -> DataLoader[int, list[Any]]:
    async def load(keys: list[int]) -> list[list[Any]]:
        async with ctx.read_session() as session:
            rows = await fetch(session, keys)
        out: dict[int, list[Any]] = {k: [] for k in keys}
        for row in rows:
            out[getattr(row, parent)].append(row)
        return [out[k] for k in keys]

    return DataLoader(load_fn=load)


def loader(ctx: Context, name: str) -> DataLoader[int, list[Any]]:
    if name not in ctx.loaders:
        if name == "poll_options":
            ctx.loaders[name] = _grouped(ctx, poll_repo.options_of_polls, "poll_id")
        elif name == "drop_variants":
            ctx.loaders[name] = _grouped(ctx, drop_repo.variants_of_drops, "drop_id")
        else:
            raise KeyError(name)
    return ctx.loaders[name]  # type: ignore[no-any-return]
