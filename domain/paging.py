"""Keyset pages over an id column, forward (``first``/``after``) or backward (``last``/``before``)
in a list's own order; no OFFSET, so pages are stable under inserts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select

S = TypeVar("S", bound=Select[Any])


@dataclass(frozen=True)
class KeyPage:
    after: int = 0  # the id the page starts after, in the list's order (0: from the start)
    before: int = 0  # the id the page ends before (0: to the end)
    limit: int = 20  # rows to fetch (the caller asks one more to learn whether others exist)
    backward: bool = False  # the rows nearest ``before`` (``last``), fetched in reverse

    def apply(self, stmt: S, column: Any, *, descending: bool = False) -> S:
        """``stmt`` narrowed to the page; rows come in the list's order, or reversed when
        ``backward`` (the caller puts them back in order)."""
        if self.after:
            stmt = stmt.where(column < self.after if descending else column > self.after)
        if self.before:
            stmt = stmt.where(column > self.before if descending else column < self.before)
        reverse = descending != self.backward
        return stmt.order_by(column.desc() if reverse else column.asc()).limit(self.limit)
