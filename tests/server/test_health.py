from __future__ import annotations

from tests.conftest import GraphQLClient


async def test_healthz_and_readyz(client: GraphQLClient) -> None:
    assert (await client.http.get("/healthz")).json() == {"status": "ok"}
    ready = await client.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "ok", "redis": "ok"}


async def test_request_id_is_echoed_or_made(client: GraphQLClient) -> None:
    resp = await client.http.get("/healthz", headers={"x-request-id": "abc-123"})
    assert resp.headers["x-request-id"] == "abc-123"
    made = await client.http.get("/healthz", headers={"x-request-id": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32


async def test_metrics_count_operations_by_name(client: GraphQLClient) -> None:
    await client.query("query ViewerForMetrics { viewer { id } }")
    text = (await client.http.get("/metrics")).text
    assert (
        'c2m_graphql_operations_total{operation="ViewerForMetrics",outcome="ok",type="query"}'
        in text
    )
    assert "c2m_graphql_operation_duration_seconds_bucket" in text
    assert 'c2m_http_requests_total{method="POST",path="/graphql",status="200"}' in text
