"""Values no client should send, from signed-in callers: each is a typed error (or, for an id
that names nothing, a null), changes nothing, and leaves no traceback in the log."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest

from tests.conftest import GraphQLClient
from tests.helpers import make_community, make_koc

NUL = "a\x00b"
SURROGATES = ("a\ud800b", "\udfff", "\ud83d")
COUNT = "{ myCommunities { nodes { id name } } }"

# (document, variables with "$s" for the hostile value, whose token: koc/operator/anonymous)
STORED_STRINGS: list[tuple[str, dict[str, Any], str]] = [
    (
        "mutation($s: String!) { createCommunity(input: {name: $s}) { errors { code field } } }",
        {},
        "koc",
    ),
    (
        'mutation($s: String!) { createCommunity(input: {name: "ok", description: $s}) { '
        "errors { code field } } }",
        {},
        "koc",
    ),
    (
        'mutation($s: String!) { createCommunity(input: {name: "ok"}, idempotencyKey: $s) { '
        "errors { code field } } }",
        {},
        "koc",
    ),
    (
        "mutation($s: String!, $c: ID!) { updateCommunity(communityId: $c, "
        "input: {name: $s}) { errors { code field } } }",
        {"c": None},
        "koc",
    ),
    (
        "mutation($s: String!) { joinCommunity(inviteCode: $s) { errors { code field } } }",
        {},
        "koc",
    ),
    (
        "mutation($s: String!) { createFactory(input: {name: $s}) { errors { code field } } }",
        {},
        "operator",
    ),
    (
        'mutation($s: String!) { createFactory(input: {name: "F", contact: $s}) { '
        "errors { code field } } }",
        {},
        "operator",
    ),
    (
        "mutation($s: String!) { updateProfile(displayName: $s) { errors { code field } } }",
        {},
        "koc",
    ),
    (
        "mutation($s: String!) { updateMemberProfile(input: {bodyNotes: $s}) { "
        "errors { code field } } }",
        {},
        "koc",
    ),
    (
        "mutation($s: String!) { updateMemberProfile(input: {styleTags: [$s]}) { "
        "errors { code field } } }",
        {},
        "koc",
    ),
    (
        "mutation($s: String!) { loginWithWechat(code: $s) { errors { code field } } }",
        {},
        "anonymous",
    ),
    (
        "mutation($s: String!) { refreshSession(refreshToken: $s) { errors { code field } } }",
        {},
        "anonymous",
    ),
]


def _post_raw(client: GraphQLClient, body: dict[str, Any], token: str | None) -> Any:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    # ensure_ascii: a lone surrogate travels as the escape a hostile client would send.
    return client.http.post("/graphql", content=json.dumps(body), headers=headers)


@pytest.fixture
async def callers(client: GraphQLClient, operator_token: str) -> dict[str, Any]:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"], "Original")
    return {
        "koc": koc["accessToken"],
        "operator": operator_token,
        "anonymous": None,
        "community": community["id"],
    }


def _no_traces(caplog: pytest.LogCaptureFixture) -> None:
    traces = [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert traces == []


async def test_nul_in_a_stored_string_is_invalid_input_and_changes_nothing(
    client: GraphQLClient, callers: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    before = await client.query(COUNT, token=callers["koc"])
    for doc, extra, who in STORED_STRINGS:
        variables = {"s": NUL, **{k: callers["community"] for k in extra}}
        resp = await _post_raw(client, {"query": doc, "variables": variables}, callers[who])
        assert resp.status_code == 200, (doc, resp.text)
        body = resp.json()
        assert "errors" not in body, (doc, body)
        [payload] = body["data"].values()
        codes = {e["code"] for e in payload["errors"]}
        assert codes and codes <= {
            "INVALID_INPUT",
            "INVALID_INVITE",
            "INVALID_LOGIN_CODE",
            "INVALID_TOKEN",
        }, (doc, payload)
    assert await client.query(COUNT, token=callers["koc"]) == before
    _no_traces(caplog)


@pytest.mark.parametrize("value", SURROGATES)
async def test_a_lone_surrogate_anywhere_is_a_400(
    client: GraphQLClient, callers: dict[str, Any], caplog: pytest.LogCaptureFixture, value: str
) -> None:
    before = await client.query(COUNT, token=callers["koc"])
    for doc, extra, who in STORED_STRINGS:
        variables = {"s": value, **{k: callers["community"] for k in extra}}
        resp = await _post_raw(client, {"query": doc, "variables": variables}, callers[who])
        assert resp.status_code == 400, (doc, resp.text)
        assert resp.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    # In the document itself (a comment), and in a key.
    for body in (
        {"query": f"# {value}\n{{ viewer {{ id }} }}"},
        {"query": "{ viewer { id } }", "variables": {value: 1}},
    ):
        resp = await _post_raw(client, body, callers["koc"])
        assert resp.status_code == 400, resp.text
    # A surrogate pair is one character (an emoji), and fine.
    emoji = await _post_raw(
        client,
        {
            "query": "mutation($s: String!) { createCommunity(input: {name: $s}) { "
            "community { name } errors { code } } }",
            "variables": {"s": "\U0001f457 dresses"},
        },
        callers["koc"],
    )
    assert emoji.json()["data"]["createCommunity"]["community"]["name"] == "\U0001f457 dresses"
    after = await client.query(COUNT, token=callers["koc"])
    assert len(after["myCommunities"]["nodes"]) == len(before["myCommunities"]["nodes"]) + 1
    _no_traces(caplog)


def _gid(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "gid",
    [
        _gid("Nope:1"),
        _gid("Query:1"),
        _gid("Mutation:1"),
        _gid("Node:1"),
        _gid("UserError:1"),
        _gid("Money:1"),
        _gid(":1"),
        _gid("Order:99999999999999999999999"),
        _gid("Order:9223372036854775808"),
        _gid("Order:\u00b2"),
        _gid("Order:\u0663"),
        _gid("Order:-1"),
        _gid("Order:0"),
        _gid("Order:1e3"),
        _gid("Order: 1"),
        _gid("Community:" + "9" * 5000),
    ],
)
async def test_node_with_an_id_that_names_nothing_is_null(
    client: GraphQLClient, callers: dict[str, Any], caplog: pytest.LogCaptureFixture, gid: str
) -> None:
    for token in (callers["koc"], None):
        resp = await client.post(
            {"query": "query($i: ID!) { node(id: $i) { id } }", "variables": {"i": gid}},
            token=token,
        )
        assert resp.status_code == 200
        assert resp.json() == {"data": {"node": None}}
    _no_traces(caplog)


@pytest.mark.parametrize("field", ["myOrders", "myCommunities", "drops", "polls", "factories"])
async def test_cursors_holding_huge_or_odd_numbers_are_invalid_input(
    client: GraphQLClient, callers: dict[str, Any], field: str, caplog: pytest.LogCaptureFixture
) -> None:
    for raw in (b"x:99999999999999999999999", b"x:\xc2\xb2", b"x:-5", b"", b"\xff\xfe"):
        cursor = base64.urlsafe_b64encode(raw).decode()
        resp = await client.post(
            {
                "query": f"query($a: String) {{ {field}(after: $a) {{ nodes {{ id }} }} }}",
                "variables": {"a": cursor},
            },
            token=callers["operator"],
        )
        assert resp.status_code == 200
        [error] = resp.json()["errors"]
        assert error["extensions"] == {"code": "INVALID_INPUT", "field": "after"}, error
    _no_traces(caplog)


async def test_a_rejected_document_does_not_taint_the_next_request(
    client: GraphQLClient, callers: dict[str, Any]
) -> None:
    bad = await client.post({"query": "{ viewer { nope } }"}, token=callers["koc"])
    assert bad.status_code == 400
    good = await client.post({"query": "{ viewer { id } }"}, token=callers["koc"])
    assert good.status_code == 200 and good.json()["data"]["viewer"]["id"]
