"""Global ids decoded in one place: a Relay id of the wrong type or shape is simply not found
(nothing to learn from it), or the error the caller names."""

from __future__ import annotations

from collections.abc import Iterable

from strawberry import relay

from domain.errors import DomainError, NotFound

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
