"""Relay cursor connections over keyset pages (no OFFSET: stable under inserts)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import strawberry

from domain.errors import ValidationFailed
from domain.paging import KeyPage
from schema.ids import parse_pk

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_PAGE = 20
MAX_PAGE = 100
MAX_CURSOR = 200


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool = False
    start_cursor: str | None = None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    # How to count the whole list, where counting is cheap (an indexed count); run only when
    # ``totalCount`` is asked for.
    counter: strawberry.Private[Callable[[], Awaitable[int]] | None] = None

    @strawberry.field
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]

    @strawberry.field(
        description="How many items the whole list has (null where counting is not offered)."
    )
    async def total_count(self) -> int | None:
        return await self.counter() if self.counter is not None else None


def encode_cursor(kind: str, value: str | int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode()


def decode_cursor(kind: str, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    if len(cursor) > MAX_CURSOR:
        raise ValidationFailed("The cursor is not valid.", field="after")
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValidationFailed("The cursor is not valid.", field="after") from exc
    prefix, _, value = raw.partition(":")
    if prefix != kind or not value:
        raise ValidationFailed("The cursor is not valid.", field="after")
    return value


def decode_int_cursor(kind: str, cursor: str | None) -> int:
    value = decode_cursor(kind, cursor)
    if value is None:
        return 0
    pk = parse_pk(value)
    if pk is None:
        raise ValidationFailed("The cursor is not valid.", field="after")
    return pk


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 1 <= first <= MAX_PAGE:
        raise ValidationFailed(f"first must be between 1 and {MAX_PAGE}.", field="first")
    return first


def build_connection(
    rows: Sequence[R],
    limit: int,
    kind: str,
    key: Callable[[R], int],
    to_node: Callable[[R], T],
) -> Connection[T]:
    """``rows`` was fetched with ``limit + 1`` to learn whether another page exists."""
    return page_connection(rows, KeyPage(limit=limit + 1), kind, key, to_node)


def key_page(
    kind: str, first: int | None, after: str | None, last: int | None, before: str | None
) -> KeyPage:
    """The page ``first``/``after`` (forward) or ``last``/``before`` (backward) name, Relay
    style; one more row than the page is fetched, to learn whether another exists."""
    if last is None:
        return KeyPage(
            after=decode_int_cursor(kind, after),
            before=_before(kind, before),
            limit=page_size(first) + 1,
        )
    if first is not None:
        raise ValidationFailed("Give first or last, not both.", field="last")
    if not 1 <= last <= MAX_PAGE:
        raise ValidationFailed(f"last must be between 1 and {MAX_PAGE}.", field="last")
    return KeyPage(
        after=decode_int_cursor(kind, after),
        before=_before(kind, before),
        limit=last + 1,
        backward=True,
    )


def _before(kind: str, before: str | None) -> int:
    try:
        return decode_int_cursor(kind, before)
    except ValidationFailed as exc:
        raise ValidationFailed("The cursor is not valid.", field="before") from exc


def page_connection(
    rows: Sequence[R],
    page: KeyPage,
    kind: str,
    key: Callable[[R], int],
    to_node: Callable[[R], T],
    counter: Callable[[], Awaitable[int]] | None = None,
) -> Connection[T]:
    """A connection over the rows ``page`` fetched (reversed when it ran backward)."""
    limit = page.limit - 1
    more = len(rows) > limit
    kept = list(rows[:limit])
    if page.backward:
        kept.reverse()
    edges = [Edge(cursor=encode_cursor(kind, key(r)), node=to_node(r)) for r in kept]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=more if not page.backward else bool(page.before),
            end_cursor=edges[-1].cursor if edges else None,
            has_previous_page=more if page.backward else bool(page.after),
            start_cursor=edges[0].cursor if edges else None,
        ),
        counter=counter,
    )
