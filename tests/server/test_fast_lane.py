"""The fast lane answers exactly what the executor answers.

Two identical worlds are built through the API; the same requests go to one through an app with
the fast lane and to the other through an app without it; the responses must be equal once the
ids are named (each world's ids differ) and times masked."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.helpers import (
    join,
    make_community,
    make_koc,
    make_open_drop,
    make_open_poll,
)

VOTE = """mutation CastVote($pollId: ID!, $optionIds: [ID!]!) {
  castVote(pollId: $pollId, optionIds: $optionIds) {
    pollId optionIds changed errors { code message field } } }"""
VOTE_ALIASED = """mutation { v: castVote(pollId: "%s", optionIds: ["%s"]) {
  __typename ok: changed ids: optionIds e: errors { c: code } } }"""
PLACE = """mutation PlacePreorder($dropId: ID!, $lines: [OrderLineInput!]!,
  $idempotencyKey: String!, $shippingAddress: ShippingAddressInput!) {
  placePreorder(dropId: $dropId, lines: $lines, idempotencyKey: $idempotencyKey,
    shippingAddress: $shippingAddress) {
    order { id status quantity amountDue { amountFen currency } unitPrice { amountFen }
            expiresAt dropId __typename }
    errors { code message field remaining variantId } } }"""
PLACE_WITH_LINES = """mutation($d: ID!, $l: [OrderLineInput!]!, $k: String!,
  $a: ShippingAddressInput!) {
  placePreorder(dropId: $d, lines: $l, idempotencyKey: $k, shippingAddress: $a) {
    order { id lines { variantId quantity } } errors { code } } }"""
ADDRESS = {"name": "Li", "phone": "13800000000", "region": "Hangzhou", "detail": "Road 1"}
TIME = re.compile(r"\d{4}-\d\d-\d\dT[0-9:.]+\+00:00")


@pytest.fixture
async def slow_client(settings: Settings) -> AsyncIterator[GraphQLClient]:
    from server.app import create_app

    app = create_app(settings.model_copy(update={"fast_lane": False}))
    async with (
        LifespanManager(app) as m,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=m.app), base_url="http://s") as h,
    ):
        yield GraphQLClient(h)


async def _world(client: GraphQLClient, operator_token: str, tag: str) -> dict[str, Any]:
    koc = await make_koc(client, operator_token, f"{tag}-koc")
    community = await make_community(client, koc["accessToken"])
    tokens = {}
    for who in ("ann", "bob", "cat"):
        s = await client.login(f"{tag}-{who}")
        await join(client, s["accessToken"], community["inviteCode"])
        tokens[who] = s["accessToken"]
    tokens["out"] = (await client.login(f"{tag}-outsider"))["accessToken"]
    poll = await make_open_poll(client, koc["accessToken"], [community["id"]])
    other = await make_open_poll(client, koc["accessToken"], [community["id"]])
    drop = await make_open_drop(
        client, koc["accessToken"], [community["id"]], cap=4, moq=1, limit=2
    )
    closed = await make_open_drop(client, koc["accessToken"], [community["id"]])
    out = await client.query(
        "mutation($d: ID!) { closeDrop(dropId: $d) { errors { code } } }",
        {"d": closed["id"]},
        token=koc["accessToken"],
    )
    assert out["closeDrop"]["errors"] == []
    names = {
        "poll": poll["id"],
        "other_option": other["options"][0]["id"],
        "drop": drop["id"],
        "closed": closed["id"],
        **{f"o{i}": o["id"] for i, o in enumerate(poll["options"])},
        **{f"v{i}": v["id"] for i, v in enumerate(drop["variants"])},
        **{f"cv{i}": v["id"] for i, v in enumerate(closed["variants"])},
    }
    return {"tokens": tokens, "names": names}


def _normalise(body: Any, names: dict[str, str]) -> Any:
    """Ids named after what they are in their world; new ids numbered by first appearance."""
    by_id = {v: k for k, v in names.items()}
    fresh: dict[str, str] = {}

    def walk(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        if isinstance(x, str):
            if x in by_id:
                return f"<{by_id[x]}>"
            kind = _gid_type(x)
            if kind is not None:
                return fresh.setdefault(x, f"<new {kind}#{len(fresh)}>")
            return TIME.sub("<time>", x)
        return x

    return walk(body)


def _gid_type(text: str) -> str | None:
    import base64
    import binascii

    try:
        decoded = base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    kind, _, pk = decoded.partition(":")
    return kind if kind.isalpha() and pk.isdigit() else None


def _place(key: str, variant: str = "<v0>", quantity: Any = 1, **extra: Any) -> dict[str, Any]:
    return {
        "dropId": "<drop>",
        "lines": [{"variantId": variant, "quantity": quantity}],
        "idempotencyKey": key,
        "shippingAddress": ADDRESS,
        **extra,
    }


def _requests() -> list[tuple[str | None, str, Any]]:
    """(who, document, variables with <name> placeholders) in order."""
    v = {"pollId": "<poll>", "optionIds": ["<o0>"]}
    one_line = {"variantId": "<v2>", "quantity": 2.0}
    return [
        ("ann", VOTE, v),
        ("ann", VOTE, v),  # the same ballot: changed false
        ("ann", VOTE, {"pollId": "<poll>", "optionIds": ["<o1>", "<o2>"]}),
        ("ann", VOTE, {"pollId": "<poll>", "optionIds": ["<o1>", "<o1>"]}),
        ("ann", VOTE, {"pollId": "<poll>", "optionIds": ["<o0>", "<o1>", "<o2>"]}),
        ("ann", VOTE, {"pollId": "<poll>", "optionIds": ["<other_option>"]}),
        ("ann", VOTE, {"pollId": "<drop>", "optionIds": ["<o0>"]}),  # an id of another type
        ("ann", VOTE, {"pollId": "%%%", "optionIds": ["<o0>"]}),  # not an id at all
        ("ann", VOTE, {"pollId": "<poll>", "optionIds": "<o3>"}),  # a list given as one value
        ("ann", VOTE, {"pollId": "<poll>"}),  # a variable missing
        ("ann", VOTE, {"pollId": "<poll>", "optionIds": [], "unused": 1}),
        ("out", VOTE, v),  # not a member
        (None, VOTE, v),  # anonymous
        ("bad", VOTE, v),  # a broken token
        ("bob", VOTE_ALIASED, None),
        ("bob", PLACE, _place("k1")),
        ("bob", PLACE, _place("k1")),  # the same key again: the same order
        ("bob", PLACE, _place("k1", "<v1>")),  # the key reused for other lines
        ("bob", PLACE, _place("k2", quantity=2)),  # over the member's limit
        ("cat", PLACE, {**_place("k3"), "lines": one_line}),  # one line, not a list; 2.0
        ("ann", PLACE, _place("k4", "<v3>")),
        ("ann", PLACE, _place("k5", "<v3>")),  # sold out (cap 4)
        ("ann", PLACE, _place("k6", "<cv0>")),  # a variant of another drop
        ("ann", PLACE, _place("k7", quantity=0)),
        ("ann", PLACE, _place("k8", "<cv0>", dropId="<closed>")),
        ("ann", PLACE, _place("", shippingAddress={**ADDRESS, "phone": ""})),
        ("ann", PLACE, _place("k9", shippingAddress={**ADDRESS, "extra": 1})),
        ("ann", PLACE, _place("k10", quantity=3000000000)),  # not a 32-bit Int
        ("out", PLACE, _place("k11")),
        ("cat", PLACE_WITH_LINES, {"d": "<drop>", "l": [], "k": "k12", "a": ADDRESS}),
    ]


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
        return names[value[1:-1]]
    return value


async def test_the_fast_lane_answers_what_the_executor_answers(
    started_app: Any, client: GraphQLClient, slow_client: GraphQLClient, operator_token: str
) -> None:
    worlds = {
        "fast": (client, await _world(client, operator_token, "f")),
        "slow": (slow_client, await _world(slow_client, operator_token, "s")),
    }
    lane = started_app[1].state.graphql_view.fast
    served_before = lane.served
    for n, (who, doc, variables) in enumerate(_requests()):
        answers = {}
        for lane_name, (c, world) in worlds.items():
            names = world["names"]
            if doc is VOTE_ALIASED:
                text, body_vars = doc % (names["poll"], names["o3"]), None
            else:
                text, body_vars = doc, _fill(variables, names)
            token = "not-a-token" if who == "bad" else (world["tokens"][who] if who else None)
            resp = await c.post({"query": text, "variables": body_vars}, token=token or "")
            answers[lane_name] = (resp.status_code, _normalise(resp.json(), names))
        assert answers["fast"] == answers["slow"], f"request {n}: {answers}"
    assert lane.served - served_before >= 20  # the lane did serve (the rest fell back)
