"""Assembles the schema from each context's query, mutation and subscription types."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry import relay
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.types import ExecutionContext

from schema.extensions import ErrorsAndMetrics
from schema.community.mutations import CommunityMutation
from schema.community.queries import CommunityQuery
from schema.identity.mutations import IdentityMutation
from schema.identity.queries import IdentityQuery
from schema.polls.mutations import PollMutation
from schema.polls.queries import PollQuery
from schema.polls.subscriptions import PollSubscription
from server.config import Settings


def _root_types() -> tuple[type, type, type]:
    # Built per schema: relay's node field is mutated when a schema is created, so a class-level
    # field could not be shared by two schemas (tests build one per app).
    @strawberry.type(name="Query")
    class Query(IdentityQuery, CommunityQuery, PollQuery):
        node: relay.Node | None = relay.node(description="Fetch any object by its global id.")

    @strawberry.type(name="Mutation")
    class Mutation(IdentityMutation, CommunityMutation, PollMutation):
        pass

    @strawberry.type(name="Subscription")
    class Subscription(PollSubscription):
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
    extensions: list[Any] = [
        ErrorsAndMetrics,
        MaxTokensLimiter(max_token_count=settings.max_tokens),
        ParserCache(maxsize=1024),
        QueryDepthLimiter(max_depth=settings.max_query_depth),
        MaxAliasesLimiter(max_alias_count=settings.max_aliases),
        ValidationCache(maxsize=1024),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection())
    query, mutation, subscription = _root_types()
    return C2MSchema(query=query, mutation=mutation, subscription=subscription,
                     extensions=extensions)
