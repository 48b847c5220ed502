"""A closed poll turns every option that advanced into a draft drop, exactly once (an early close,
the worker, a retry, both racing), prefilled from the option; a draft made this way is published
only after its KOC edited it."""

from __future__ import annotations

import asyncio
from typing import Any

from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.helpers import (
    PUBLISH_DROP,
    VOTE,
    drop_input,
    make_community,
    make_koc,
    make_open_poll,
    members,
    pk,
)
from tests.production.scenario import sql
from workers import polls as poll_jobs

CLOSE = "mutation($p: ID!) { closePoll(pollId: $p) { errors { code } } }"
DRAFTS = """query($p: ID!) { node(id: $p) { ... on Poll { status drafts { id title status
  imageUrls price { amountFen } pollOptionId variants { size color } } } } }"""
UPDATE = """mutation($d: ID!, $i: DropInput!) { updateDrop(dropId: $d, input: $i) {
  drop { id } errors { code field } } }"""


async def _count(settings: Settings, poll_id: str) -> int:
    rows = await sql(
        settings,
        "SELECT count(*) AS n FROM drops d JOIN poll_options o ON o.id = d.poll_option_id"
        " WHERE o.poll_id = $1 AND d.drafted_from_poll",
        pk(poll_id),
    )
    return int(rows[0]["n"])


async def test_closing_a_poll_drafts_each_advanced_option_once(
    client: GraphQLClient, operator_token: str, settings: Settings
) -> None:
    koc = await make_koc(client, operator_token)
    kt = koc["accessToken"]
    community = await make_community(client, kt)
    voters = await members(client, community["inviteCode"], 3, prefix="dr")
    poll = await make_open_poll(client, kt, [community["id"]], options=3, advance=2)
    a, b, _ = (o["id"] for o in poll["options"])
    for token, picks in zip(voters, ([a, b], [a], [b]), strict=True):
        assert (await client.query(VOTE, {"p": poll["id"], "o": picks}, token=token))["castVote"][
            "errors"
        ] == []
    for _ in range(2):  # a retried close makes nothing more
        assert (await client.query(CLOSE, {"p": poll["id"]}, token=kt))["closePoll"]["errors"] == []
    seen = (await client.query(DRAFTS, {"p": poll["id"]}, token=kt))["node"]
    assert seen["status"] == "CLOSED"
    assert sorted(d["pollOptionId"] for d in seen["drafts"]) == sorted([a, b])
    first = next(d for d in seen["drafts"] if d["pollOptionId"] == a)
    assert first["title"] == "Style 0" and first["status"] == "DRAFT"
    assert first["imageUrls"] == ["https://img.example/0.jpg"]
    assert first["price"] == {"amountFen": 19900}  # the option's reference price
    assert first["variants"] == [{"size": "ONE SIZE", "color": "DEFAULT"}]
    assert await _count(settings, poll["id"]) == 2
    assert (await client.query(DRAFTS, {"p": poll["id"]}, token=voters[0]))["node"]["drafts"] == []

    early = await client.query(PUBLISH_DROP, {"d": first["id"]}, token=kt)
    assert early["publishDrop"]["errors"] == [{"code": "DRAFT_NEEDS_REVIEW"}]
    data = drop_input([community["id"]])
    data["pollOptionId"] = a
    edited = await client.query(UPDATE, {"d": first["id"], "i": data}, token=kt)
    assert edited["updateDrop"]["errors"] == []
    published = await client.query(PUBLISH_DROP, {"d": first["id"]}, token=kt)
    assert published["publishDrop"]["errors"] == []
    rows = await sql(
        settings,
        "SELECT community_id FROM drop_communities WHERE drop_id = $1",
        pk(next(d for d in seen["drafts"] if d["pollOptionId"] == b)["id"]),
    )
    assert [r["community_id"] for r in rows] == [pk(community["id"])]  # the poll's communities


async def test_the_worker_and_an_early_close_racing_draft_once(
    client: GraphQLClient, operator_token: str, services: Any, settings: Settings
) -> None:
    koc = await make_koc(client, operator_token)
    kt = koc["accessToken"]
    community = await make_community(client, kt)
    (voter,) = await members(client, community["inviteCode"], 1, prefix="race")
    poll = await make_open_poll(client, kt, [community["id"]], options=4, advance=3)
    await client.query(VOTE, {"p": poll["id"], "o": [poll["options"][0]["id"]]}, token=voter)
    await sql(
        settings, "UPDATE polls SET closes_at = now() - interval '1 second' WHERE id = $1",
        pk(poll["id"]),
    )  # fmt: skip
    await asyncio.gather(
        client.query(CLOSE, {"p": poll["id"]}, token=kt),
        poll_jobs.close_due(services),
        poll_jobs.close_due(services),
    )
    assert await poll_jobs.close_due(services) == 0
    assert await _count(settings, poll["id"]) == 3
