"""Scenario builders that go through the public API, as the front ends would."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tests.conftest import GraphQLClient

GRANT = "mutation($u: ID!) { grantKocRole(userId: $u) { errors { code } } }"
CREATE_COMMUNITY = """mutation($n: String!, $k: String) {
  createCommunity(input: {name: $n, description: "d"}, idempotencyKey: $k) {
    community { id name inviteCode } errors { code field message } } }"""
JOIN = """mutation($c: String!) { joinCommunity(inviteCode: $c) {
  community { id } errors { code field } } }"""
CREATE_POLL = """mutation($i: PollInput!, $k: String) { createPoll(input: $i, idempotencyKey: $k) {
  poll { id status options { id title position } } errors { code field message } } }"""
PUBLISH = """mutation($p: ID!) { publishPoll(pollId: $p) { poll { id status } errors { code } } }"""
VOTE = """mutation($p: ID!, $o: [ID!]!) { castVote(pollId: $p, optionIds: $o) {
  optionIds changed errors { code field message } } }"""
RESULTS = """query($p: ID!) { node(id: $p) { ... on Poll { status results {
  final totalVoters options { votes rank advanced option { id title } } } } } }"""


def now() -> datetime:
    return datetime.now(UTC)


async def make_koc(client: GraphQLClient, operator_token: str, code: str = "koc") -> dict[str, Any]:
    session = await client.login(code)
    out = await client.query(GRANT, {"u": session["user"]["id"]}, token=operator_token)
    assert out["grantKocRole"]["errors"] == []
    return session


async def make_community(
    client: GraphQLClient, koc_token: str, name: str = "Petite 155"
) -> dict[str, Any]:
    out = await client.query(CREATE_COMMUNITY, {"n": name}, token=koc_token)
    assert out["createCommunity"]["errors"] == [], out
    return out["createCommunity"]["community"]


async def join(client: GraphQLClient, token: str, invite_code: str) -> None:
    out = await client.query(JOIN, {"c": invite_code}, token=token)
    assert out["joinCommunity"]["errors"] == [], out


def poll_input(
    community_ids: list[str],
    *,
    options: int = 4,
    max_choices: int = 2,
    advance: int = 2,
    opens_in: timedelta = timedelta(seconds=-1),
    closes_in: timedelta = timedelta(hours=1),
) -> dict[str, Any]:
    return {
        "title": "Summer dresses",
        "communityIds": community_ids,
        "options": [
            {
                "title": f"Style {i}",
                "imageUrls": [f"https://img.example/{i}.jpg"],
                "referencePriceFen": 19900,
            }
            for i in range(options)
        ],
        "opensAt": (now() + opens_in).isoformat(),
        "closesAt": (now() + closes_in).isoformat(),
        "maxChoices": max_choices,
        "advanceCount": advance,
    }


async def make_open_poll(
    client: GraphQLClient, koc_token: str, community_ids: list[str], **kw: Any
) -> dict[str, Any]:
    out = await client.query(CREATE_POLL, {"i": poll_input(community_ids, **kw)}, token=koc_token)
    assert out["createPoll"]["errors"] == [], out
    poll = out["createPoll"]["poll"]
    pub = await client.query(PUBLISH, {"p": poll["id"]}, token=koc_token)
    assert pub["publishPoll"]["errors"] == [], pub
    return poll


async def members(client: GraphQLClient, invite_code: str, n: int, prefix: str = "m") -> list[str]:
    tokens = []
    for i in range(n):
        s = await client.login(f"{prefix}-{i}")
        await join(client, s["accessToken"], invite_code)
        tokens.append(s["accessToken"])
    return tokens


CREATE_DROP = """mutation($i: DropInput!) { createDrop(input: $i) {
  drop { id status variants { id size color } } errors { code field message } } }"""
PUBLISH_DROP = (
    """mutation($d: ID!) { publishDrop(dropId: $d) { drop { id status } errors { code } } }"""
)
PREORDER = """mutation($d: ID!, $l: [OrderLineInput!]!, $k: String!, $a: ShippingAddressInput!) {
  placePreorder(dropId: $d, lines: $l, idempotencyKey: $k, shippingAddress: $a) {
    order { id status quantity amountDue { amountFen currency } expiresAt }
    errors { code field message } } }"""
PROGRESS = """query($d: ID!) { node(id: $d) { ... on Drop { status progress {
  totalQuantity buyers remaining moqPercent currentPrice { amountFen } nextTier { minQuantity }
  perVariant { quantity remaining variant { id } } perSize { value quantity } } } } }"""
ADDRESS = {
    "name": "Li Hua",
    "phone": "13800000000",
    "region": "Zhejiang Hangzhou Xihu",
    "detail": "Wensan Rd 1",
}


def drop_input(
    community_ids: list[str],
    *,
    cap: int = 20,
    moq: int = 5,
    limit: int = 3,
    variant_caps: tuple[int | None, ...] = (None, None, None, None),
    opens_in: timedelta = timedelta(seconds=-1),
    closes_in: timedelta = timedelta(hours=1),
    mode: str = "DEPOSIT",
) -> dict[str, Any]:
    sizes = [("S", "black"), ("M", "black"), ("S", "white"), ("M", "white")]
    return {
        "title": "Linen dress",
        "communityIds": community_ids,
        "variants": [
            {"size": s, "color": c, "cap": vc}
            for (s, c), vc in zip(sizes, variant_caps, strict=False)
        ],
        "priceFen": 29900,
        "tiers": [{"minQuantity": 10, "priceFen": 25900}, {"minQuantity": 15, "priceFen": 23900}]
        if cap >= 15
        else [],
        "paymentMode": mode,
        "depositFen": 5000 if mode == "DEPOSIT" else None,
        "moq": moq,
        "cap": cap,
        "perMemberLimit": limit,
        "opensAt": (now() + opens_in).isoformat(),
        "closesAt": (now() + closes_in).isoformat(),
    }


async def make_open_drop(
    client: GraphQLClient, koc_token: str, community_ids: list[str], **kw: Any
) -> dict[str, Any]:
    out = await client.query(CREATE_DROP, {"i": drop_input(community_ids, **kw)}, token=koc_token)
    assert out["createDrop"]["errors"] == [], out
    drop = out["createDrop"]["drop"]
    pub = await client.query(PUBLISH_DROP, {"d": drop["id"]}, token=koc_token)
    assert pub["publishDrop"]["errors"] == [], pub
    drop["status"] = pub["publishDrop"]["drop"]["status"]
    return drop


async def preorder(
    client: GraphQLClient,
    token: str,
    drop_id: str,
    lines: list[tuple[str, int]],
    key: str,
    address: dict[str, str] | None = None,
) -> dict[str, Any]:
    out = await client.query(
        PREORDER,
        {
            "d": drop_id,
            "l": [{"variantId": v, "quantity": q} for v, q in lines],
            "k": key,
            "a": address or ADDRESS,
        },
        token=token,
    )
    return out["placePreorder"]


async def sql(database_url: str | None, query: str, *args: Any) -> Any:
    """Run SQL on the test's database directly (to move a clock, or to look behind the API)."""
    conn = await asyncpg.connect((database_url or "").replace("+asyncpg", ""))
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


def pk(gid: str) -> int:
    """The database id inside a Relay global id."""
    return int(base64.b64decode(gid).decode().split(":")[1])


async def kill_when_printed(script: str, args: list[str], marker: str) -> None:
    """Run ``script`` in a new Python process and kill -9 it once it prints ``marker``: a worker
    or request dying half-way, for real."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, *args, stdout=asyncio.subprocess.PIPE, env={**os.environ}
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            while marker.encode() not in (line := await proc.stdout.readline()):
                assert line, f"the process ended without printing {marker!r}"
        os.kill(proc.pid, signal.SIGKILL)
        async with asyncio.timeout(10):
            await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
