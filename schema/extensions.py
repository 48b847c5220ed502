"""Schema extensions: typed errors, masking of the unexpected, HTTP status, metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from graphql import FieldNode, GraphQLError, GraphQLSyntaxError, get_operation_ast
from strawberry.extensions import SchemaExtension

from domain.errors import DomainError, ErrorCode
from infra.metrics import GRAPHQL_LATENCY, GRAPHQL_OPERATIONS, MUTATIONS, operation_label
from infra.outages import OutageLog, is_outage

log = logging.getLogger("c2m.graphql")
OUTAGES = OutageLog(log)

INTERNAL_MESSAGE = "Internal server error. The request id in the X-Request-ID header identifies it."


def _typed(error: GraphQLError, code: str, extra: dict[str, Any] | None = None) -> GraphQLError:
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), "code": code, **(extra or {})},
    )


def shape_error(error: GraphQLError, request_id: str) -> GraphQLError:
    original = error.original_error
    if isinstance(original, DomainError):
        return GraphQLError(
            original.message,
            nodes=error.nodes,
            positions=error.positions,
            path=error.path,
            extensions={"code": original.code.value, "field": original.field},
        )
    if isinstance(original, RecursionError):
        # A document (or its literals) nesting deeper than the parser can follow.
        return _typed(GraphQLError("The document nests too deeply."), "GRAPHQL_PARSE_FAILED")
    if original is None or isinstance(original, GraphQLError):
        # A problem with the document or the variables: the client's to fix; say what it is.
        if isinstance(error, GraphQLSyntaxError) or isinstance(original, GraphQLSyntaxError):
            return _typed(error, "GRAPHQL_PARSE_FAILED")
        if error.extensions and "code" in error.extensions:
            return error
        if error.path is None:
            return _typed(error, "GRAPHQL_VALIDATION_FAILED")
        return _typed(error, "BAD_USER_INPUT")
    if is_outage(original):
        OUTAGES.report(".".join(map(str, error.path or [])) or "the request", original)
        return GraphQLError(
            "A database or cache is briefly unavailable; retry the request.",
            nodes=error.nodes,
            positions=error.positions,
            path=error.path,
            extensions={"code": "UNAVAILABLE", "requestId": request_id},
        )
    log.error("unexpected error in %s", ".".join(map(str, error.path or [])), exc_info=original)
    return GraphQLError(
        INTERNAL_MESSAGE,
        nodes=error.nodes,
        positions=error.positions,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


_MUTATION_SERIES: dict[tuple[str, str], Any] = {}
_ERROR_CODES = {c.value for c in ErrorCode}


def mutation_series(field: str, outcome: str) -> Any:
    """The counter child of a mutation field and outcome (bounded: fields of the schema, the
    error codes of the API)."""
    key = (field, outcome if outcome in _ERROR_CODES or outcome == "ok" else "other")
    found = _MUTATION_SERIES.get(key)
    if found is None:
        found = MUTATIONS.labels(*key)
        if len(_MUTATION_SERIES) < 5000:
            _MUTATION_SERIES[key] = found
    return found


def _field_name(ec: Any, response_key: str) -> str:
    """The schema field behind a response key (an alias names nothing of the schema)."""
    document = ec.graphql_document
    operation = get_operation_ast(document, ec.operation_name) if document else None
    for selection in operation.selection_set.selections if operation else ():
        if isinstance(selection, FieldNode):
            key = selection.alias.value if selection.alias else selection.name.value
            if key == response_key:
                return str(selection.name.value)
    return "other"


class ErrorsAndMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ec = self.execution_context
        ctx = ec.context
        request_id = getattr(ctx, "request_id", "-")
        result = ec.result
        errors = list(result.errors or []) if result is not None else []
        if errors and result is not None:
            result.errors = [shape_error(e, request_id) for e in errors]
        try:
            op_type = ec.operation_type.value
        except RuntimeError:
            op_type = "unknown"
        name = operation_label(ec.operation_name)
        outcome = "error" if errors else "ok"
        if op_type == "mutation" and result is not None and isinstance(result.data, dict):
            # A payload's typed errors are errors too (the operation ran, the change did not).
            for field, payload in result.data.items():
                codes = (payload or {}).get("errors") if isinstance(payload, dict) else None
                if codes and outcome == "ok":
                    outcome = "user_error"
                code = codes[0].get("code") if codes and isinstance(codes[0], dict) else None
                mutation_series(_field_name(ec, field), str(code) if codes else "ok").inc()
        GRAPHQL_OPERATIONS.labels(name, op_type, outcome).inc()
        GRAPHQL_LATENCY.labels(name, op_type).observe(time.perf_counter() - started)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Subscriptions: shape each pushed result's errors the same way."""
        errors = getattr(result, "errors", None)
        if errors:
            request_id = getattr(self.execution_context.context, "request_id", "-")
            result.errors = [shape_error(e, request_id) for e in errors]
        yield None
