"""GraphQL over HTTP as the specification and its clients (Apollo Client 4, urql, graphql-http)
expect it: media types negotiated from ``Accept``, 400 for a document that fails to parse or
validate under ``application/graphql-response+json`` and 200 under legacy ``application/json``,
no ``data`` entry when nothing ran, queries over GET (hash-only persisted queries included,
which is what lets a CDN cache a page), mutations over GET refused with 405."""

from __future__ import annotations

import json

import pytest

from tests.conftest import GraphQLClient
from tests.server.test_persisted import pq

GRJ = "application/graphql-response+json"
APOLLO_ACCEPT = "application/graphql-response+json,application/json;q=0.9"


JSON = "application/json"


@pytest.mark.parametrize(
    ("accept", "media", "rejected"),
    [
        (None, JSON, 400),  # the media type anyone reads, the status of the post-2025 spec
        ("*/*", JSON, 400),
        (APOLLO_ACCEPT, GRJ, 400),
        (GRJ, GRJ, 400),
        ("application/json", JSON, 200),  # legacy: a well-formed request is 200
        ("application/json, application/graphql-response+json;q=0.5", JSON, 200),
    ],
)
async def test_the_media_type_follows_accept(
    client: GraphQLClient, accept: str | None, media: str, rejected: int
) -> None:
    headers = {"accept": accept} if accept else {}
    ok = await client.post({"query": "{ __typename }"}, headers=headers)
    assert ok.status_code == 200 and ok.headers["content-type"].startswith(media)
    assert ok.json() == {"data": {"__typename": "Query"}}

    invalid = await client.post({"query": "{ nope }"}, headers=headers)
    assert invalid.headers["content-type"].startswith(media)
    assert invalid.status_code == rejected
    body = invalid.json()
    assert "data" not in body  # a request error: nothing ran
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"

    unparsable = await client.post({"query": "{ viewer { id "}, headers=headers)
    assert unparsable.status_code == rejected
    assert unparsable.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"

    # A body that is not JSON is not a GraphQL request at all: 400 whatever the media type.
    broken = await client.http.post(
        "/graphql", content=b"{{{", headers={"content-type": "application/json", **headers}
    )
    assert broken.status_code == 400


async def test_a_field_error_is_still_200_with_data(client: GraphQLClient) -> None:
    """Execution ran: the response has ``data`` (null where a field failed) and is 200."""
    resp = await client.post(
        {"query": "{ myOrders(first: 1) { nodes { id } } }"}, headers={"accept": GRJ}
    )
    assert resp.status_code == 200
    body = resp.json()
    assert "data" in body and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_queries_over_get_and_mutations_refused(client: GraphQLClient) -> None:
    got = await client.http.get("/graphql", params={"query": "{ __typename }"})
    assert got.status_code == 200 and got.json() == {"data": {"__typename": "Query"}}
    mutation = await client.http.get(
        "/graphql", params={"query": 'mutation { loginWithWechat(code: "x") { errors { code } } }'}
    )
    assert mutation.status_code == 405
    assert "POST" in mutation.headers["allow"]


async def test_hash_only_persisted_queries_over_get(client: GraphQLClient) -> None:
    document = "query Typename { __typename }"
    params = {"extensions": json.dumps(pq(document)), "operationName": "Typename"}
    miss = await client.http.get("/graphql", params=params, headers={"accept": APOLLO_ACCEPT})
    assert miss.status_code == 200
    assert miss.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    # Apollo's link then registers it over POST; every later GET names only the hash.
    register = await client.post({"query": document, "extensions": pq(document)})
    assert register.json() == {"data": {"__typename": "Query"}}
    hit = await client.http.get("/graphql", params=params, headers={"accept": APOLLO_ACCEPT})
    assert hit.status_code == 200 and hit.json() == {"data": {"__typename": "Query"}}
    assert hit.headers["content-type"].startswith(GRJ)
