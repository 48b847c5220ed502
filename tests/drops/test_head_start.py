"""The voters' head start (早鸟): a style's voters may pre-order before everyone else, enforced by
the order's own insert and the reservation script (not a check in Python); the rest are refused
NOT_OPEN_YET with the time they may buy; voters are told when their head start begins and the
rest when the drop opens for everyone, each once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.notifications import outbox
from domain.notifications.models import NotificationKind
from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.helpers import (
    ADDRESS,
    CREATE_DROP,
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
from workers import drops as drop_jobs

PLACE = """mutation($d: ID!, $l: [OrderLineInput!]!, $k: String!, $a: ShippingAddressInput!) {
  placePreorder(dropId: $d, lines: $l, idempotencyKey: $k, shippingAddress: $a) {
  order { id } errors { code opensAt } } }"""
INBOX = "{ myNotifications { nodes { title } } }"


async def _scene(client: GraphQLClient, operator_token: str) -> dict[str, Any]:
    koc = await make_koc(client, operator_token)
    kt = koc["accessToken"]
    community = await make_community(client, kt)
    v1, v2, n1 = await members(client, community["inviteCode"], 3, prefix="early")
    poll = await make_open_poll(client, kt, [community["id"]], advance=2)
    a, b = poll["options"][0]["id"], poll["options"][1]["id"]
    for token, pick in ((v1, a), (v2, a), (n1, b)):
        await client.query(VOTE, {"p": poll["id"], "o": [pick]}, token=token)
    await client.query(
        "mutation($p: ID!) { closePoll(pollId: $p) { errors { code } } }",
        {"p": poll["id"]},
        token=kt,
    )
    return {"kt": kt, "community": community["id"], "v1": v1, "v2": v2, "n1": n1, "option": a}


async def _drop(client: GraphQLClient, s: dict[str, Any], opens_in: timedelta, minutes: int) -> Any:
    data = drop_input([s["community"]], opens_in=opens_in, closes_in=timedelta(hours=3))
    data["pollOptionId"] = s["option"]
    data["voterHeadStartMinutes"] = minutes
    out = await client.query(CREATE_DROP, {"i": data}, token=s["kt"])
    assert out["createDrop"]["errors"] == [], out
    drop = out["createDrop"]["drop"]
    pub = await client.query(PUBLISH_DROP, {"d": drop["id"]}, token=s["kt"])
    assert pub["publishDrop"]["drop"]["status"] == "SCHEDULED", pub
    return drop


async def _buy(client: GraphQLClient, token: str, drop: dict[str, Any], key: str) -> Any:
    out = await client.query(
        PLACE,
        {
            "d": drop["id"],
            "l": [{"variantId": drop["variants"][0]["id"], "quantity": 1}],
            "k": key,
            "a": ADDRESS,
        },
        token=token,
    )
    return out["placePreorder"]


async def test_voters_buy_first_and_the_rest_wait_with_a_typed_answer(
    client: GraphQLClient, operator_token: str, services: Any, settings: Settings
) -> None:
    s = await _scene(client, operator_token)
    drop = await _drop(client, s, timedelta(minutes=30), 60)  # head start began 30 min ago
    opens = (await sql(settings, "SELECT opens_at FROM drops WHERE id = $1", pk(drop["id"])))[0][
        "opens_at"
    ]
    assert (await _buy(client, s["v1"], drop, "v1"))["errors"] == []  # a voter, while SCHEDULED
    early = await _buy(client, s["n1"], drop, "n1")
    assert early["order"] is None
    assert [e["code"] for e in early["errors"]] == ["NOT_OPEN_YET"]
    assert early["errors"][0]["opensAt"].startswith(opens.isoformat()[:19])

    # The voters are told when their head start begins; nobody else is.
    await outbox.expand(services.sessionmaker, NotificationKind.DROP_EARLY_ACCESS, pk(drop["id"]))
    await outbox.expand(services.sessionmaker, NotificationKind.DROP_EARLY_ACCESS, pk(drop["id"]))
    titles = lambda t: client.query(INBOX, token=t)  # noqa: E731
    assert [n["title"] for n in (await titles(s["v2"]))["myNotifications"]["nodes"]] == [
        "Your head start on the style you voted for"
    ]
    assert (await titles(s["n1"]))["myNotifications"]["nodes"] == []

    # Opening for everyone: the rest hear of it; the voters do not get a second message.
    await sql(
        settings,
        "UPDATE drops SET opens_at = now() - interval '1 second' WHERE id = $1",
        pk(drop["id"]),
    )
    assert await drop_jobs.open_due(services) == 1
    await drop_jobs.rebuild_counters(pk(drop["id"]), services)
    await outbox.expand(services.sessionmaker, NotificationKind.DROP_OPENED, pk(drop["id"]))
    assert len((await titles(s["n1"]))["myNotifications"]["nodes"]) == 1
    assert len((await titles(s["v2"]))["myNotifications"]["nodes"]) == 1
    assert (await _buy(client, s["n1"], drop, "n1-later"))["errors"] == []


async def test_before_the_head_start_everyone_waits_and_the_worker_tells_voters_once(
    client: GraphQLClient, operator_token: str, services: Any, settings: Settings
) -> None:
    s = await _scene(client, operator_token)
    drop = await _drop(client, s, timedelta(hours=2), 60)
    voter = await _buy(client, s["v1"], drop, "v1")
    other = await _buy(client, s["n1"], drop, "n1")
    assert voter["errors"][0]["code"] == other["errors"][0]["code"] == "DROP_NOT_OPEN"
    assert voter["errors"][0]["opensAt"] < other["errors"][0]["opensAt"]  # the voter's is earlier
    assert await drop_jobs.early_access_due(services) == 0
    await sql(
        settings,
        "UPDATE drops SET opens_at = now() + interval '10 minutes' WHERE id = $1",
        pk(drop["id"]),
    )
    await drop_jobs.rebuild_counters(pk(drop["id"]), services)
    assert await drop_jobs.early_access_due(services) == 1
    assert await drop_jobs.early_access_due(services) == 0
    assert (await _buy(client, s["v1"], drop, "v1-now"))["errors"] == []
    assert (await _buy(client, s["n1"], drop, "n1-now"))["errors"][0]["code"] == "NOT_OPEN_YET"

    # Redis loses everything: the rebuilt counters know the voters again.
    await services.redis.flushall()
    assert (await _buy(client, s["v2"], drop, "v2"))["errors"] == []
    assert (await _buy(client, s["n1"], drop, "n1-again"))["errors"][0]["code"] == "NOT_OPEN_YET"


async def test_a_head_start_needs_a_poll_option_and_a_bound(
    client: GraphQLClient, operator_token: str
) -> None:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    for minutes, option in ((30, None), (1441, None), (-1, None)):
        data = drop_input([community["id"]])
        data["voterHeadStartMinutes"] = minutes
        data["pollOptionId"] = option
        out = await client.query(CREATE_DROP, {"i": data}, token=koc["accessToken"])
        assert out["createDrop"]["errors"][0]["field"] == "voterHeadStartMinutes", out
