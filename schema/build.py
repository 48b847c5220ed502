"""Assembles the schema from each context's query, mutation and subscription types."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry import relay
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.types import ExecutionContext

from infra import tracing
from infra.config import Settings
from schema.analytics.queries import AnalyticsQuery
from schema.community.mutations import CommunityMutation
from schema.community.queries import CommunityQuery
from schema.drops.mutations import DropMutation
from schema.drops.queries import DropQuery
from schema.drops.subscriptions import DropSubscription
from schema.extensions import ErrorsAndMetrics
from schema.identity.mutations import IdentityMutation
from schema.identity.queries import IdentityQuery
from schema.ids import resolve_many, resolve_node
from schema.limits import DocumentLimits
from schema.limits import Limits as DocumentSize
from schema.notifications.mutations import NotificationMutation
from schema.notifications.queries import NotificationQuery
from schema.payments.mutations import PaymentMutation
from schema.polls.mutations import PollMutation
from schema.polls.queries import PollQuery
from schema.polls.subscriptions import PollSubscription
from schema.production.mutations import ProductionMutation, SampleMutation
from schema.production.queries import ProductionQuery
from schema.referrals.mutations import ReferralMutation
from schema.referrals.queries import ReferralQuery


def _root_types() -> tuple[type, type, type]:
    # Built per schema: relay's node field is mutated when a schema is created, so a class-level
    # field could not be shared by two schemas (tests build one per app).
    @strawberry.type(name="Query")
    class Query(
        IdentityQuery,
        CommunityQuery,
        PollQuery,
        DropQuery,
        NotificationQuery,
        ProductionQuery,
        AnalyticsQuery,
        ReferralQuery,
    ):
        @strawberry.field(
            description=(
                "Fetch any object by its global id: null when it does not exist or the caller "
                "may not see it."
            )
        )
        async def node(
            self,
            info: strawberry.Info,
            id: Annotated[relay.GlobalID, strawberry.argument(description="The ID of the object.")],
        ) -> relay.Node | None:
            return await resolve_node(info, id)

        @strawberry.field(
            description="Fetch up to 100 objects by global id, in order: null where `node` "
            "would be null. Ids of one type are loaded together."
        )
        async def nodes(
            self,
            info: strawberry.Info,
            ids: Annotated[list[relay.GlobalID], strawberry.argument(description="The IDs.")],
        ) -> list[relay.Node | None]:
            return await resolve_many(info, ids)

    @strawberry.type(name="Mutation")
    class Mutation(
        IdentityMutation,
        CommunityMutation,
        PollMutation,
        DropMutation,
        NotificationMutation,
        PaymentMutation,
        ProductionMutation,
        ReferralMutation,
        SampleMutation,
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


def document_limits(settings: Settings) -> DocumentSize:
    return DocumentSize(
        depth=settings.max_query_depth,
        aliases=settings.max_aliases,
        fields=settings.max_query_fields,
        cost=settings.max_query_cost,
    )


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    # One extension for every limit: the lexer's token limit, the document's size measured in
    # linear time before validation (schema/limits.py, instead of strawberry's depth and alias
    # limiters, which walk every fragment spread again), and introspection when it is off.
    rules: list[Any] = [] if settings.introspection_enabled else [NoSchemaIntrospectionCustomRule]
    max_tokens = settings.max_tokens
    measured_limits = document_limits(settings)

    class Limits(DocumentLimits):
        limits = measured_limits
        verdicts: OrderedDict[str, str | None] = OrderedDict()

        def on_operation(self) -> Iterator[None]:
            self.execution_context.parse_options["max_tokens"] = max_tokens
            self.execution_context.validation_rules = (
                *self.execution_context.validation_rules,
                *rules,
            )
            yield

    extensions: list[Any] = [
        ErrorsAndMetrics,
        Limits,
        lambda: ParserCache(maxsize=1024),
        lambda: ValidationCache(maxsize=1024),
        *tracing.schema_extensions(settings),
    ]
    query, mutation, subscription = _root_types()
    return C2MSchema(
        query=query, mutation=mutation, subscription=subscription, extensions=extensions
    )
