"""Limits on what one document may ask, checked before validation and execution, in time linear
in the document's size.

graphql-core's own depth and alias limiters walk every fragment spread again (a document of 21
fragments each spreading the previous one twice is 2^20 walks: 844 bytes froze the API for 17 s),
and its overlapping-fields validation is quadratic in repeated fields. Here each fragment is
measured once and remembered, so the work is proportional to the document's text; only then does
validation run, on a document known to be small.

A document is refused (HTTP 400, ``QUERY_TOO_COMPLEX``) when, after expanding its fragments, it
has more than 100 operations and fragments, is deeper than ``C2M_MAX_QUERY_DEPTH``, has more
than ``C2M_MAX_ALIASES`` aliases, more than
``C2M_MAX_QUERY_FIELDS`` fields, or costs more than ``C2M_MAX_QUERY_COST``: each field costs 1,
and a field's sub-selection counts as many times as the list it may return (the ``first``/``last``
argument, or the default page of a connection)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)
from strawberry.extensions import SchemaExtension

DEFAULT_PAGE = 20
MAX_PAGE = 100
# Operations and fragments in one document (validation's work grows faster than their number).
MAX_DEFINITIONS = 100
CODE = "QUERY_TOO_COMPLEX"


@dataclass(frozen=True)
class Limits:
    depth: int
    aliases: int
    fields: int
    cost: int


@dataclass(frozen=True)
class Size:
    """A selection set measured with its fragments expanded (numbers saturate past the limits,
    so a hostile document cannot make them astronomically large)."""

    fields: int = 0
    cost: int = 0
    depth: int = 0
    aliases: int = 0


_CAP = 10**9


def _add(a: Size, b: Size) -> Size:
    return Size(
        min(a.fields + b.fields, _CAP),
        min(a.cost + b.cost, _CAP),
        max(a.depth, b.depth),
        min(a.aliases + b.aliases, _CAP),
    )


class _Measure:
    def __init__(self, document: DocumentNode, variables: Mapping[str, Any]) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variables = variables
        self.memo: dict[str, Size] = {}
        self.busy: set[str] = set()
        self.used_variables = False

    def fragment(self, name: str) -> Size:
        if name in self.memo:
            return self.memo[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.busy:
            return Size()  # unknown fragments and cycles: validation refuses them later
        self.busy.add(name)
        size = self.selections(definition.selection_set)
        self.busy.discard(name)
        self.memo[name] = size
        return size

    def multiplier(self, field: FieldNode) -> int:
        for arg in field.arguments or ():
            if arg.name.value in ("first", "last"):
                value: Any = None
                if isinstance(arg.value, IntValueNode):
                    value = arg.value.value
                elif isinstance(arg.value, VariableNode):
                    self.used_variables = True
                    value = self.variables.get(arg.value.name.value)
                try:
                    return max(1, min(int(value), MAX_PAGE))
                except (TypeError, ValueError):
                    return MAX_PAGE
        names = {
            s.name.value
            for s in (field.selection_set.selections if field.selection_set else ())
            if isinstance(s, FieldNode)
        }
        return DEFAULT_PAGE if names & {"edges", "nodes"} else 1

    def selections(self, selection_set: SelectionSetNode | None) -> Size:
        total = Size()
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                sub = self.selections(sel.selection_set)
                total = _add(
                    total,
                    Size(
                        fields=1 + sub.fields,
                        cost=1 + self.multiplier(sel) * sub.cost,
                        depth=1 + sub.depth,
                        aliases=(1 if sel.alias else 0) + sub.aliases,
                    ),
                )
            elif isinstance(sel, InlineFragmentNode):
                total = _add(total, self.selections(sel.selection_set))
            elif isinstance(sel, FragmentSpreadNode):
                total = _add(total, self.fragment(sel.name.value))
        return total


def measure(document: DocumentNode, variables: Mapping[str, Any] | None = None) -> Size:
    """The largest of the document's operations, fragments expanded; linear in its size."""
    return _measure(document, variables)[0]


def _measure(document: DocumentNode, variables: Mapping[str, Any] | None) -> tuple[Size, bool]:
    m = _Measure(document, variables or {})
    size = Size()
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            op = m.selections(definition.selection_set)
            size = Size(
                max(size.fields, op.fields),
                max(size.cost, op.cost),
                max(size.depth, op.depth),
                max(size.aliases, op.aliases),
            )
    return size, m.used_variables


def too_big(size: Size, limits: Limits) -> str | None:
    if size.depth > limits.depth:
        return f"The query is {size.depth} levels deep; at most {limits.depth} are allowed."
    if size.aliases > limits.aliases:
        return f"The query uses {size.aliases} aliases; at most {limits.aliases} are allowed."
    if size.fields > limits.fields:
        return (
            f"The query asks for {size.fields} fields once its fragments are expanded; "
            f"at most {limits.fields} are allowed."
        )
    if size.cost > limits.cost:
        return f"The query would cost {size.cost}; at most {limits.cost} is allowed."
    return None


class DocumentLimits(SchemaExtension):
    """Measures the parsed document before validation; refuses what is too big. The verdict on a
    document whose size does not depend on its variables is remembered (LRU by text)."""

    limits: Limits = Limits(depth=12, aliases=30, fields=500, cost=25_000)
    verdicts: OrderedDict[str, str | None] = OrderedDict()
    CACHE = 4096

    def on_parse(self) -> Iterator[None]:
        yield
        ec = self.execution_context
        document, query = ec.graphql_document, ec.query or ""
        if document is None:
            return
        if query in self.verdicts:
            self.verdicts.move_to_end(query)
            verdict = self.verdicts[query]
        else:
            verdict = _too_many_definitions(document)
            depends_on_variables = False
            if verdict is None:
                size, depends_on_variables = _measure(document, ec.variables)
                verdict = too_big(size, self.limits)
            if not depends_on_variables:
                self.verdicts[query] = verdict
                if len(self.verdicts) > self.CACHE:
                    self.verdicts.popitem(last=False)
        if verdict is not None:
            raise GraphQLError(verdict, extensions={"code": CODE})


def _too_many_definitions(document: DocumentNode) -> str | None:
    n = len(document.definitions)
    if n > MAX_DEFINITIONS:
        return f"The document has {n} operations and fragments; at most {MAX_DEFINITIONS}."
    return None
