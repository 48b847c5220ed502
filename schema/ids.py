"""Global ids decoded in one place: a Relay id of the wrong type or shape is simply not found
(nothing to learn from it), or the error the caller names."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

from strawberry import relay
from strawberry.relay.types import GlobalIDValueError
from strawberry.types import Info
from strawberry.types.cast import cast as strawberry_cast

from domain.errors import DomainError, NotFound, ValidationFailed

MAX_PK = 2**63 - 1


def parse_pk(raw: str) -> int | None:
    """A database id from the text inside a global id, or None ("１", "²" and "1e3" are not)."""
    if not raw or len(raw) > 19 or not raw.isascii() or not raw.isdigit():
        return None
    value = int(raw)
    return value if 0 < value <= MAX_PK else None


def decode_id(
    gid: relay.GlobalID, type_name: str, field: str, *, unknown: DomainError | None = None
) -> int:
    value = parse_pk(gid.node_id) if gid.type_name == type_name else None
    if value is None:
        raise unknown or NotFound(f"No such {type_name}.", field=field)
    return value


def decode_ids(
    gids: list[relay.GlobalID], type_name: str, field: str, *, unknown: DomainError | None = None
) -> list[int]:
    return [decode_id(g, type_name, field, unknown=unknown) for g in gids]


def node_pks(node_ids: Iterable[str]) -> list[int | None]:
    """The database ids behind ``node``/``nodes`` lookups, None where the text is not one."""
    return [parse_pk(raw) for raw in node_ids]


async def resolve_node(info: Info[Any, Any], gid: relay.GlobalID) -> relay.Node | None:
    """``node(id:)``: the object, or null when the id names no Node type (``Query:1``,
    ``Nope:1``), no object, or one the caller may not see."""
    return (await resolve_many(info, [gid]))[0]


MAX_NODES = 100


async def resolve_many(info: Info[Any, Any], gids: list[relay.GlobalID]) -> list[relay.Node | None]:
    """``nodes(ids:)``: each type's ids loaded together (one lookup per type, not per id), in
    the order asked; null where ``node`` would be null."""
    if len(gids) > MAX_NODES:
        raise ValidationFailed(f"At most {MAX_NODES} ids at once.", field="ids")
    by_type: dict[type[relay.Node], list[int]] = {}
    types: list[type[relay.Node] | None] = []
    for i, gid in enumerate(gids):
        try:
            node_type = gid.resolve_type(info)
        except GlobalIDValueError:
            node_type = None
        if node_type is relay.Node:
            node_type = None
        types.append(node_type)
        if node_type is not None:
            by_type.setdefault(node_type, []).append(i)
    out: list[relay.Node | None] = [None] * len(gids)
    for node_type, positions in by_type.items():
        found = node_type.resolve_nodes(
            info=info, node_ids=[gids[i].node_id for i in positions], required=False
        )
        if inspect.isawaitable(found):
            found = await found
        for i, row in zip(positions, list(found), strict=True):
            out[i] = None if row is None else strawberry_cast(node_type, row)
    return out
