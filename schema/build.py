"""Assembles the schema from each context's query, mutation and subscription types."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry import relay
from strawberry.extensions import AddValidationRules, ParserCache, ValidationCache
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.types import ExecutionContext

from infra.config import Settings
from schema.community.mutations import CommunityMutation
from schema.community.queries import CommunityQuery
from schema.drops.mutations import DropMutation
from schema.drops.queries import DropQuery
from schema.drops.subscriptions import DropSubscription
from schema.extensions import ErrorsAndMetrics
from schema.identity.mutations import IdentityMutation
from schema.identity.queries import IdentityQuery
from schema.notifications.mutations import NotificationMutation
from schema.notifications.queries import NotificationQuery
from schema.payments.mutations import PaymentMutation
from schema.polls.mutations import PollMutation
from schema.polls.queries import PollQuery
from schema.polls.subscriptions import PollSubscription
from schema.production.mutations import ProductionMutation
from schema.production.queries import ProductionQuery


def _root_types() -> tuple[type, type, type]:
    # Built per schema: relay's node field is mutated when a schema is created, so a class-level
    # field could not be shared by two schemas (tests build one per app).
    @strawberry.type(name="Query")
    class Query(
        IdentityQuery, CommunityQuery, PollQuery, DropQuery, NotificationQuery, ProductionQuery
    ):
        node: relay.Node | None = relay.node(description="Fetch any object by its global id.")

    @strawberry.type(name="Mutation")
    class Mutation(
        IdentityMutation,
        CommunityMutation,
        PollMutation,
        DropMutation,
        NotificationMutation,
        PaymentMutation,
        ProductionMutation,
    ):
        pass

    @strawberry.type(name="Subscription")
    class Subscription(PollSubscription, DropSubscription):
        pass

    return Query, Mutation, Subscription


class C2MSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Logging happens in ErrorsAndMetrics, which knows what is expected and what is not.
        return None


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    # strawberry's limiters (QueryDepthLimiter, MaxAliasesLimiter, MaxTokensLimiter,
    # DisableIntrospection) folded into one extension: the same graphql-core rules and parse
    # option, but one set of hooks per request instead of four (hooks cost on every request,
    # while cached validation runs the rules once per document).
    rules: list[Any] = [
        max_depth_rule(settings.max_query_depth, None, None),
        max_aliases_rule(settings.max_aliases),
    ]
    if not settings.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    max_tokens = settings.max_tokens

    class Limits(AddValidationRules):
        def __init__(self) -> None:
            super().__init__(rules)

        def on_operation(self) -> Iterator[None]:
            self.execution_context.parse_options["max_tokens"] = max_tokens
            yield from super().on_operation()

    extensions: list[Any] = [
        ErrorsAndMetrics,
        Limits,
        lambda: ParserCache(maxsize=1024),
        lambda: ValidationCache(maxsize=1024),
    ]
    query, mutation, subscription = _root_types()
    return C2MSchema(
        query=query, mutation=mutation, subscription=subscription, extensions=extensions
    )
