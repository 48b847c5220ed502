from __future__ import annotations

from typing import Any, NewType

import strawberry
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)
from strawberry.types import Info

MAX_SAFE_INTEGER = 2**53 - 1  # exact in JavaScript, where the mini-programs read it


def _serialize_fen(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_SAFE_INTEGER:
        raise ValueError("An amount in fen must be an integer within +-(2^53 - 1).")
    return value


def _parse_fen(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_SAFE_INTEGER:
        raise ValueError("An amount in fen must be an integer within +-(2^53 - 1).")
    return value


Fen = strawberry.scalar(
    NewType("Fen", int),
    name="Fen",
    description=(
        "An amount in fen (1/100 yuan) as a JSON integer up to 2^53 - 1: wider than GraphQL's "
        "32-bit Int (an order of 1,000 units at the highest price is 10^11 fen), exact in "
        "JavaScript."
    ),
    serialize=_serialize_fen,
    parse_value=_parse_fen,
)


@strawberry.type(description="An amount of money in fen (1/100 yuan) and its currency.")
class Money:
    amount_fen: Fen  # type: ignore[valid-type]
    currency: str = "CNY"


def selects(info: Info[Any, Any], name: str) -> bool:
    """Whether the field being resolved selects ``name`` directly (through fragments too):
    lets a resolver read ahead what its object's fields will need. Walks the document's own
    nodes (``info.selected_fields`` would first convert the whole selection, arguments and
    directives included, on every call)."""
    raw = info._raw_info
    fragments = raw.fragments
    seen: set[str] = set()

    def walk(selection_set: SelectionSetNode | None) -> bool:
        for s in selection_set.selections if selection_set is not None else ():
            if isinstance(s, FieldNode):
                if s.name.value == name:
                    return True
            elif isinstance(s, InlineFragmentNode):
                if walk(s.selection_set):
                    return True
            elif isinstance(s, FragmentSpreadNode) and s.name.value not in seen:
                seen.add(s.name.value)
                fragment = fragments.get(s.name.value)
                if fragment is not None and walk(fragment.selection_set):
                    return True
        return False

    return any(walk(node.selection_set) for node in raw.field_nodes)
