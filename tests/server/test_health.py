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


async def test_metrics_count_what_the_platform_does(
    client: GraphQLClient, operator_token: str
) -> None:
    from tests.helpers import make_community, make_koc, make_open_drop, members, preorder

    kt = (await make_koc(client, operator_token))["accessToken"]
    community = await make_community(client, kt)
    (member,) = await members(client, community["inviteCode"], 1, prefix="metrics")
    drop = await make_open_drop(client, kt, [community["id"]], limit=2)
    variant = drop["variants"][0]["id"]
    assert (await preorder(client, member, drop["id"], [(variant, 1)], "m-ok"))["errors"] == []
    over = await preorder(client, member, drop["id"], [(variant, 5)], "m-over")
    code = over["errors"][0]["code"]
    refused = await client.post(
        {
            "query": 'mutation Refused { publishDrop(dropId: "RHJvcDo5OTk5OTk=") '
            "{ errors { code } } }"
        },
        token=kt,
    )
    assert refused.json()["data"]["publishDrop"]["errors"][0]["code"] == "NOT_FOUND"
    text = (await client.http.get("/metrics")).text
    assert 'c2m_mutations_total{field="placePreorder",outcome="ok"}' in text
    assert f'c2m_mutations_total{{field="placePreorder",outcome="{code}"}}' in text
    assert 'c2m_mutations_total{field="publishDrop",outcome="NOT_FOUND"}' in text
    # A payload's typed errors make the operation an error, not "ok".
    assert (
        'c2m_graphql_operations_total{operation="Refused",outcome="user_error",type="mutation"}'
        in text
    )
    assert 'c2m_db_pool_connections{state="idle"}' in text
    assert "c2m_websocket_connections" in text


def test_json_log_lines_carry_the_request_id() -> None:
    import json
    import logging

    from infra.logging import configure_logging, request_id_var

    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    try:
        configure_logging("INFO", "json")
        handler = root.handlers[0]
        token = request_id_var.set("req-123")
        try:
            record = logging.getLogger("c2m.access").makeRecord(
                "c2m.access", logging.INFO, __file__, 1, "GET %s", ("/healthz",), None,
                extra={"status": 200},
            )  # fmt: skip
            for f in handler.filters:
                f.filter(record)  # type: ignore[union-attr]
            line = json.loads(handler.format(record))
        finally:
            request_id_var.reset(token)
    finally:
        root.handlers[:] = saved
        root.setLevel(level)
    assert line["message"] == "GET /healthz" and line["request_id"] == "req-123"
    assert line["level"] == "INFO" and line["logger"] == "c2m.access" and line["status"] == 200
    assert "time" in line
