from __future__ import annotations

from strawberry import relay

from domain.errors import NotFound


def decode_id(gid: relay.GlobalID, type_name: str, field: str) -> int:
    """A global id of the wrong type or shape is simply not found (nothing to learn from it)."""
    if gid.type_name != type_name:
        raise NotFound(f"No such {type_name}.", field=field)
    try:
        value = int(gid.node_id)
    except ValueError as exc:
        raise NotFound(f"No such {type_name}.", field=field) from exc
    if value <= 0 or value > 2**63 - 1:
        raise NotFound(f"No such {type_name}.", field=field)
    return value
