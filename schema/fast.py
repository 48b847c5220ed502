"""The fast lane: a hot mutation of a simple shape runs its resolver without the executor.

A flash drop is thousands of the same two documents a second (``castVote``, ``placePreorder``).
Through strawberry and graphql-core, the execution around the resolver (extension hooks, argument
conversion, result completion) cost more CPU than the vote itself. Here a document is planned
once (cached by its text): parsed, validated against the schema, measured against the document
limits, and its selection compiled into a serializer. Every request with that text then:

* coerces its variables and arguments with graphql-core's own functions and converts them with
  strawberry's (so what is accepted, and how, is what the executor would do);
* calls **the same resolver** the executor calls, with the same context;
* serializes the payload through the schema's own leaf serializers, in the document's order;
* shapes an error escaping the resolver with the same ``shape_error`` and counts the operation in
  the same metrics.

What the lane does not serve exactly falls back to the executor *before* the resolver runs: a
document of another shape (fragments, directives, several root fields, a field with its own
resolver in the selection, a query), variables that do not coerce, an id that does not decode,
no signed-in member. The lane never falls back once the resolver ran. ``tests/server/
test_fast_lane.py`` sends the same requests through both lanes and compares the responses.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from types import SimpleNamespace
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    is_leaf_type,
    parse,
    validate,
)
from graphql.execution.get_variable_signature import (
    GraphQLVariableSignature,
    get_variable_signature,
)
from graphql.execution.values import (
    VariableValues,
    VariableValueSource,
    get_argument_values,
    get_variable_values,
)
from graphql.pyutils import Undefined
from graphql.utilities import coerce_input_value
from strawberry import Schema, relay
from strawberry.types.arguments import convert_arguments
from strawberry.types.base import StrawberryList, StrawberryOptional, get_object_definition
from strawberry.types.fields.resolver import StrawberryResolver

from infra.metrics import GRAPHQL_LATENCY, GRAPHQL_OPERATIONS, operation_label
from schema.context import Context
from schema.extensions import mutation_series, shape_error
from schema.limits import Limits, measure, too_big

# The root mutations the lane serves: the hot path of a flash drop.
FAST_FIELDS = frozenset({"castVote", "placePreorder"})
MAX_PLANS = 512
MAX_SELECTED = 64  # fields in a planned selection (a real payload has a dozen)

Serializer = Callable[[Any], Any]


@dataclass(frozen=True)
class Plan:
    operation: OperationDefinitionNode
    field_node: FieldNode
    response_key: str
    field_name: str
    resolver: StrawberryResolver[Any]
    arguments: Any
    serialize: Serializer
    # strawberry's argument conversion compiled for this field's argument types (GlobalIDs,
    # lists, plain scalars, input types of those), or None to call strawberry's own.
    convert: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    # The operation's variables, typed once (none with a default value), or None to let
    # graphql-core's get_variable_values do it per request.
    signatures: tuple[GraphQLVariableSignature, ...] | None = None


class NotPlannable(Exception):
    pass


def _coerce(
    signatures: tuple[GraphQLVariableSignature, ...] | None, inputs: dict[str, Any]
) -> VariableValues | None:
    """``get_variable_values`` for the common case, by graphql-core's own ``coerce_input_value``
    on signatures typed once: every variable given and coercing. None sends the request to
    ``get_variable_values`` (a variable missing or null, a value that does not coerce), which
    says exactly what it would have said. Its depth check is left out: the view refuses JSON
    nested deeper than 32 levels, far below graphql-core's limit of 200."""
    if signatures is None:
        return None
    sources: dict[str, VariableValueSource] = {}
    coerced: dict[str, Any] = {}
    for signature in signatures:
        value = inputs.get(signature.name)
        if value is None:
            return None
        out = coerce_input_value(value, signature.type)
        if out is Undefined:
            return None
        sources[signature.name] = VariableValueSource(signature, value)
        coerced[signature.name] = out
    return VariableValues(sources, coerced)


def _constant(value: str) -> Serializer:
    return lambda _: value


def _node_id(type_name: str, serialize: Serializer) -> Serializer:
    return lambda v: serialize(relay.GlobalID(type_name, str(v.id)))


def _same(value: Any) -> Any:
    return value


def _optional(inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: None if v is None else inner(v)


def _each(inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: [inner(x) for x in v]


def _input(cls: Any, fields: list[tuple[str, str, Callable[[Any], Any]]]) -> Callable[[Any], Any]:
    def build(value: dict[str, Any]) -> Any:
        return cls(**{py: convert(value[gql]) for gql, py, convert in fields})

    return build


def _attribute(python_name: str, inner: Serializer) -> Serializer:
    get = attrgetter(python_name)
    return lambda v: inner(get(v))


class FastLane:
    def __init__(self, schema: Schema, limits: Limits, max_tokens: int) -> None:
        self._schema = schema
        self._gql: GraphQLSchema = schema._schema
        self._limits = limits
        self._max_tokens = max_tokens
        self._plans: OrderedDict[str, Plan | None] = OrderedDict()
        self.served = 0  # requests this lane answered (tests and metrics)
        self._metrics: dict[tuple[str, str], tuple[Any, Any]] = {}

    # -- planning ------------------------------------------------------------------------------

    def plan(self, text: str) -> Plan | None:
        """The plan of a document the lane serves, or None (cached either way, LRU)."""
        if text in self._plans:
            self._plans.move_to_end(text)
            return self._plans[text]
        try:
            plan: Plan | None = self._make_plan(text)
        except NotPlannable:
            plan = None
        except Exception:  # noqa: BLE001 - anything odd is the executor's to answer
            plan = None
        self._plans[text] = plan
        if len(self._plans) > MAX_PLANS:
            self._plans.popitem(last=False)
        return plan

    def _make_plan(self, text: str) -> Plan:
        if "mutation" not in text:
            raise NotPlannable
        document = parse(text, max_tokens=self._max_tokens)
        if len(document.definitions) != 1:
            raise NotPlannable
        operation = document.definitions[0]
        if not isinstance(operation, OperationDefinitionNode):
            raise NotPlannable
        if operation.operation is not OperationType.MUTATION or operation.directives:
            raise NotPlannable
        if too_big(measure(document), self._limits) is not None:
            raise NotPlannable
        if validate(self._gql, document):
            raise NotPlannable
        selections = operation.selection_set.selections
        if len(selections) != 1 or not isinstance(selections[0], FieldNode):
            raise NotPlannable
        field_node = selections[0]
        name = field_node.name.value
        if name not in FAST_FIELDS or field_node.directives:
            raise NotPlannable
        mutation_type = self._gql.mutation_type
        assert mutation_type is not None
        field_def = mutation_type.fields[name]
        definition = field_def.extensions.get("strawberry-definition")
        resolver = getattr(definition, "base_resolver", None)
        if resolver is None or field_node.selection_set is None:
            raise NotPlannable
        counter = [0]
        serialize = self._compile(field_def.type, field_node.selection_set, counter)
        return Plan(
            signatures=self._signatures(operation),
            convert=self._compile_arguments(definition.arguments),
            operation=operation,
            field_node=field_node,
            response_key=field_node.alias.value if field_node.alias else name,
            field_name=name,
            resolver=resolver,
            arguments=(field_def, definition),
            serialize=serialize,
        )

    def _signatures(
        self, operation: OperationDefinitionNode
    ) -> tuple[GraphQLVariableSignature, ...] | None:
        out = []
        for node in operation.variable_definitions or ():
            signature = get_variable_signature(self._gql, node)
            if isinstance(signature, GraphQLError) or node.default_value is not None:
                return None
            out.append(signature)
        return tuple(out)

    def _compile(
        self, type_: Any, selection_set: SelectionSetNode | None, counter: list[int]
    ) -> Serializer:
        """A function from a resolver's value to the response value of ``type_``."""
        if isinstance(type_, GraphQLNonNull):
            return self._compile(type_.of_type, selection_set, counter)
        if isinstance(type_, GraphQLList):
            item = self._compile(type_.of_type, selection_set, counter)
            return lambda v: None if v is None else [item(x) for x in v]
        if is_leaf_type(type_):
            if selection_set is not None:
                raise NotPlannable
            leaf = type_.serialize
            return lambda v: None if v is None else leaf(v)
        if not isinstance(type_, GraphQLObjectType) or selection_set is None:
            raise NotPlannable  # interfaces and unions need the executor
        return self._compile_object(type_, selection_set, counter)

    def _compile_object(
        self, type_: GraphQLObjectType, selection_set: SelectionSetNode, counter: list[int]
    ) -> Serializer:
        parts: list[tuple[str, Callable[[Any], Any]]] = []
        is_node = any(i.name == "Node" for i in type_.interfaces)
        for selection in selection_set.selections:
            if not isinstance(selection, FieldNode) or selection.directives:
                raise NotPlannable
            if selection.arguments:
                raise NotPlannable
            counter[0] += 1
            if counter[0] > MAX_SELECTED:
                raise NotPlannable
            name = selection.name.value
            key = selection.alias.value if selection.alias else name
            if name == "__typename":
                parts.append((key, _constant(type_.name)))
                continue
            field = type_.fields[name]
            definition = field.extensions.get("strawberry-definition")
            if definition is None:
                raise NotPlannable
            if definition.base_resolver is not None:
                if not (is_node and name == "id"):
                    raise NotPlannable  # a field with its own resolver: the executor's
                to_id = self._gql.get_type("ID").serialize  # type: ignore[union-attr]
                parts.append((key, _node_id(type_.name, to_id)))
                continue
            inner = self._compile(field.type, selection.selection_set, counter)
            parts.append((key, _attribute(definition.python_name, inner)))

        def serialize(value: Any) -> Any:
            if value is None:
                return None
            return {key: part(value) for key, part in parts}

        return serialize

    def _compile_arguments(
        self, arguments: list[Any]
    ) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
        names = self._schema.config.name_converter
        parts = []
        for argument in arguments:
            convert = self._converter(argument.type)
            if convert is None:
                return None
            parts.append((names.from_argument(argument), argument.python_name, convert))

        def convert_all(raw: dict[str, Any]) -> dict[str, Any]:
            return {py: conv(raw[gql]) for gql, py, conv in parts if gql in raw}

        return convert_all

    def _converter(self, type_: Any) -> Callable[[Any], Any] | None:
        """What ``strawberry.types.arguments.convert_argument`` does for ``type_``, or None
        for a type not covered here (then strawberry's own function runs)."""
        if type_ is relay.GlobalID:
            return relay.GlobalID.from_id  # an id that does not decode raises: the executor's
        if type_ in (str, int, float, bool):
            return _same
        if isinstance(type_, StrawberryOptional):
            inner = self._converter(type_.of_type)
            return None if inner is None else _optional(inner)
        if isinstance(type_, StrawberryList):
            inner = self._converter(type_.of_type)
            return None if inner is None else _each(inner)
        definition = get_object_definition(type_)
        if definition is None or not definition.is_input:
            return None
        names = self._schema.config.name_converter
        fields = []
        for field in definition.fields:
            convert = self._converter(field.type)
            has_default = field.default is not dataclasses.MISSING or (
                field.default_factory is not dataclasses.MISSING
            )
            if convert is None or has_default:
                return None  # a default to fill in: strawberry's own function
            fields.append((names.get_graphql_name(field), field.python_name, convert))
        return _input(type_, fields)

    # -- running -------------------------------------------------------------------------------

    async def run(self, plan: Plan, variables: Any, context: Context) -> dict[str, Any] | None:
        """The response of ``plan`` for these variables, or None when the executor must answer
        (decided before the resolver runs; never after)."""
        if variables is not None and not isinstance(variables, dict):
            return None
        values = _coerce(plan.signatures, variables or {}) or get_variable_values(
            self._gql, plan.operation.variable_definitions or (), variables or {}
        )
        if isinstance(values, list):  # variables that do not coerce: the executor says how
            return None
        field_def, definition = plan.arguments
        try:
            raw = get_argument_values(field_def, plan.field_node, values)
            if plan.convert is not None:
                kwargs = plan.convert(raw)
            else:
                kwargs = convert_arguments(
                    raw,
                    definition.arguments,
                    scalar_registry=self._schema.schema_converter.scalar_registry,
                    config=self._schema.config,
                )
        except Exception:  # noqa: BLE001 - an id that does not decode, say: the executor's
            return None
        info = SimpleNamespace(context=context)
        self.served += 1
        started = time.perf_counter()
        name = operation_label(plan.operation.name.value if plan.operation.name else None)
        try:
            resolve: Any = plan.resolver.wrapped_func
            payload = await resolve(None, info, **kwargs)
            response: dict[str, Any] = {"data": {plan.response_key: plan.serialize(payload)}}
            payload_errors = getattr(payload, "errors", None)
            outcome = "user_error" if payload_errors else "ok"
            field_outcome = payload_errors[0].code.value if payload_errors else "ok"
            mutation_series(plan.field_node.name.value, field_outcome).inc()
        except Exception as e:  # noqa: BLE001 - shaped exactly as the executor's errors are
            error = GraphQLError(
                str(e), nodes=[plan.field_node], path=[plan.response_key], original_error=e
            )
            response = {"data": None, "errors": [shape_error(error, context.request_id).formatted]}
            outcome = "error"
        count, latency = self._series(name, outcome)
        count.inc()
        latency.observe(time.perf_counter() - started)
        return response

    def _series(self, name: str, outcome: str) -> tuple[Any, Any]:
        """The labelled metric children, looked up once (names are bounded by
        ``operation_label``)."""
        key = (name, outcome)
        found = self._metrics.get(key)
        if found is None:
            found = (
                GRAPHQL_OPERATIONS.labels(name, "mutation", outcome),
                GRAPHQL_LATENCY.labels(name, "mutation"),
            )
            if len(self._metrics) < 1000:
                self._metrics[key] = found
        return found
