"""Group commit: requests that arrive together share one transaction, and each still gets its
own, exact outcome (the hard parts are tested elsewhere against the same path)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from domain.batching import GroupCommit
from tests.conftest import GraphQLClient
from tests.drops.test_reservations import _assert_consistent, _drop
from tests.helpers import VOTE, make_community, make_koc, make_open_poll, members, preorder, sql


async def test_requests_that_arrive_together_share_a_flush() -> None:
    seen: list[list[int]] = []

    async def flush(batch: Sequence[int]) -> list[int | BaseException]:
        seen.append(list(batch))
        await asyncio.sleep(0.01)
        return [x * 10 if x % 7 else ValueError(x) for x in batch]

    gc: GroupCommit[int, int] = GroupCommit(flush, key=lambda x: x % 5, max_batch=3)
    outs = await asyncio.gather(*(gc.submit(x) for x in range(1, 12)), return_exceptions=True)
    assert [o if not isinstance(o, ValueError) else "error" for o in outs] == [
        10, 20, 30, 40, 50, 60, "error", 80, 90, 100, 110,
    ]  # fmt: skip
    assert len(seen) < 11  # they shared flushes
    assert all(len(b) <= 3 and len({x % 5 for x in b}) == len(b) for b in seen)
    assert sorted(x for b in seen for x in b) == list(range(1, 12))
    seen.clear()
    assert await gc.submit(12) == 120
    assert seen == [[12]]  # a quiet system answers a lone request at once


async def test_a_caller_that_gives_up_does_not_cancel_the_batch() -> None:
    done: list[int] = []

    async def flush(batch: Sequence[int]) -> list[int | BaseException]:
        await asyncio.sleep(0.05)
        done.extend(batch)
        return list(batch)

    gc: GroupCommit[int, int] = GroupCommit(flush, key=lambda x: x)
    first = asyncio.ensure_future(gc.submit(1))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(gc.submit(2))
    third = asyncio.ensure_future(gc.submit(3))
    await asyncio.sleep(0.01)
    first.cancel()
    assert await second == 2 and await third == 3
    await gc.aclose()
    assert done == [1, 2, 3]  # the first caller's work ran: it had been taken into a flush


async def test_a_failing_flush_fails_each_of_its_requests() -> None:
    async def flush(batch: Sequence[int]) -> list[int | BaseException]:
        raise ConnectionError("database away")

    gc: GroupCommit[int, int] = GroupCommit(flush, key=lambda x: x)
    outs = await asyncio.gather(*(gc.submit(x) for x in range(4)), return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outs)


async def test_a_storm_of_votes_lands_whole(
    client: GraphQLClient, operator_token: str, services: Any
) -> None:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    tokens = await members(client, community["inviteCode"], 30)
    outsider = (await client.login("outsider"))["accessToken"]
    poll = await make_open_poll(client, koc["accessToken"], [community["id"]])
    o = [x["id"] for x in poll["options"]]
    before = services.votes.batches

    async def vote(token: str, picks: list[str]) -> dict[str, Any]:
        out = await client.query(VOTE, {"p": poll["id"], "o": picks}, token=token)
        return dict(out["castVote"])

    outs = await asyncio.gather(
        *(vote(t, [o[i % 4]]) for i, t in enumerate(tokens)),
        vote(tokens[0], [o[1], o[1]]),  # refused on its own: DUPLICATE_OPTION
        vote(tokens[1], [o[0], o[1], o[2]]),  # TOO_MANY_CHOICES (max 2)
        vote(outsider, [o[0]]),  # NOT_A_MEMBER
    )
    assert [x["errors"] for x in outs[:30]] == [[]] * 30
    assert [x["errors"][0]["code"] for x in outs[30:]] == [
        "DUPLICATE_OPTION",
        "TOO_MANY_CHOICES",
        "NOT_A_MEMBER",
    ]
    assert services.votes.batches - before < 33  # they shared transactions
    # The same ballot again, from two devices at once: unchanged, both answered.
    again = await asyncio.gather(vote(tokens[2], [o[2]]), vote(tokens[2], [o[2]]))
    assert [x["changed"] for x in again] == [False, False]
    results = await client.query(
        "query($p: ID!) { node(id: $p) { ... on Poll { results { totalVoters "
        "options { votes option { id } } } } } }",
        {"p": poll["id"]},
        token=koc["accessToken"],
    )
    r = results["node"]["results"]
    assert r["totalVoters"] == 30
    assert {x["option"]["id"]: x["votes"] for x in r["options"]} == {
        x: 8 if i < 2 else 7 for i, x in enumerate(o)
    }


@pytest.mark.parametrize("cap", [7])
async def test_a_storm_of_preorders_sells_the_cap_exactly(
    client: GraphQLClient, operator_token: str, services: Any, cap: int
) -> None:
    s = await _drop(client, operator_token, 24, cap=cap, moq=1, limit=2)
    v = s["v"]
    before = services.preorders.batches
    outs = await asyncio.gather(
        *(
            preorder(client, t, s["drop"]["id"], [(v[i % 4], 1)], "k")
            for i, t in enumerate(s["tokens"][:20])
        ),
        # The same key again at once: the same order, never two.
        *(
            preorder(client, t, s["drop"]["id"], [(v[i % 4], 1)], "k")
            for i, t in enumerate(s["tokens"][:4])
        ),
        # The same key with other lines: refused.
        preorder(client, s["tokens"][5], s["drop"]["id"], [(v[3], 2)], "k"),
    )
    placed = {o["order"]["id"] for o in outs if o["order"]}
    assert len(placed) == cap  # every unit sold once, never more
    codes = [e["code"] for o in outs for e in o["errors"]]
    assert set(codes) <= {"SOLD_OUT", "IDEMPOTENCY_KEY_REUSED"}
    for first, again in zip(outs[:4], outs[20:24], strict=True):  # retries answer alike
        assert (first["order"] or {}).get("id") == (again["order"] or {}).get("id")
        assert [e["code"] for e in first["errors"]] == [e["code"] for e in again["errors"]]
    assert services.preorders.batches - before < 25
    assert await _assert_consistent(services, s["id"], cap) == cap


async def test_a_member_limit_holds_across_batches(
    client: GraphQLClient, operator_token: str, services: Any
) -> None:
    s = await _drop(client, operator_token, 1, cap=20, moq=1, limit=2)
    token, v = s["tokens"][0], s["v"]
    outs = await asyncio.gather(
        *(preorder(client, token, s["drop"]["id"], [(v[0], 1)], f"k{i}") for i in range(5))
    )
    assert sum(1 for o in outs if o["order"]) == 2
    assert {e["code"] for o in outs for e in o["errors"]} == {"MEMBER_LIMIT_EXCEEDED"}
    assert await _assert_consistent(services, s["id"], 20) == 2


async def _order_ids_used(settings: Any) -> int:
    rows = await sql(settings.database_url, "SELECT last_value FROM orders_id_seq")
    return int(rows[0]["last_value"])


async def test_a_sold_out_drop_refuses_without_writing_and_says_what_it_always_said(
    client: GraphQLClient, operator_token: str, services: Any, settings: Any
) -> None:
    s = await _drop(client, operator_token, 10, cap=3, moq=1, limit=2)
    d, v, tokens = s["drop"]["id"], s["v"], s["tokens"]
    sold = [await preorder(client, t, d, [(v[0], 1)], "a") for t in tokens[:3]]
    assert all(o["order"] for o in sold)
    # The first refusal takes the normal road (insert, script refuses, delete) ...
    first = await preorder(client, tokens[3], d, [(v[1], 1)], "a")
    assert first["order"] is None
    assert first["errors"] == [
        {"code": "SOLD_OUT", "field": "lines", "message": "Not enough left: 0 remaining."}
    ]
    # ... and from then on this process refuses a sold-out drop's requests reading only.
    used = await _order_ids_used(settings)
    storm = await asyncio.gather(
        *(preorder(client, t, d, [(v[i % 4], 1)], "b") for i, t in enumerate(tokens[3:])),
        preorder(client, tokens[0], d, [(v[0], 1)], "a"),  # a retry: still its own order
    )
    assert all(o["errors"] == first["errors"] for o in storm[:-1])
    assert storm[-1]["order"]["id"] == sold[0]["order"]["id"] and storm[-1]["errors"] == []
    assert await _order_ids_used(settings) == used  # no order written and deleted again
    # What takes precedence over SOLD_OUT still does: not a member, over the member's limit.
    outsider = (await client.login("sold-out-outsider"))["accessToken"]
    others = await asyncio.gather(
        preorder(client, outsider, d, [(v[0], 1)], "c"),
        preorder(client, tokens[1], d, [(v[0], 2)], "c"),  # holds 1, limit 2
    )
    assert [[e["code"] for e in o["errors"]] for o in others] == [
        ["NOT_A_MEMBER"],
        ["MEMBER_LIMIT_EXCEEDED"],
    ]
    # A unit set free sells again at once, hint or no hint.
    cancel = "mutation($o: ID!) { cancelOrder(orderId: $o) { order { status } errors { code } } }"
    out = await client.query(cancel, {"o": sold[2]["order"]["id"]}, token=tokens[2])
    assert out["cancelOrder"]["errors"] == []
    again = await preorder(client, tokens[9], d, [(v[2], 1)], "d")
    assert again["errors"] == [] and again["order"]["quantity"] == 1
    assert await _assert_consistent(services, s["id"], 3) == 3


async def test_a_sold_out_drop_still_refuses_exactly_after_redis_comes_back_empty(
    client: GraphQLClient, operator_token: str, services: Any
) -> None:
    s = await _drop(client, operator_token, 8, cap=2, moq=1, limit=2)
    d, v, tokens = s["drop"]["id"], s["v"], s["tokens"]
    assert all([(await preorder(client, t, d, [(v[0], 1)], "a"))["order"] for t in tokens[:2]])
    first = await preorder(client, tokens[2], d, [(v[0], 1)], "a")
    assert [e["code"] for e in first["errors"]] == ["SOLD_OUT"]  # the process now hints "full"
    await services.redis.flushdb()  # counters and marker gone: nothing vouched for
    storm = await asyncio.gather(
        *(preorder(client, t, d, [(v[1], 1)], "b") for t in tokens[2:]),
        preorder(client, tokens[0], d, [(v[0], 1)], "a"),  # a retry: still its own order
    )
    assert all([e["code"] for e in o["errors"]] == ["SOLD_OUT"] for o in storm[:-1])
    assert storm[-1]["errors"] == [] and storm[-1]["order"]["quantity"] == 1
    assert await _assert_consistent(services, s["id"], 2) == 2  # rebuilt from PostgreSQL


async def test_batches_go_on_when_redis_forgets_its_scripts(
    client: GraphQLClient, operator_token: str, services: Any
) -> None:
    """A Redis whose script cache was flushed (a restart, SCRIPT FLUSH) gets the scripts again
    before a batch's pipeline runs: every reservation, release and ballot lands exactly once."""
    s = await _drop(client, operator_token, 6, cap=10, moq=1, limit=2)
    d, v = s["drop"]["id"], s["v"]
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    voters = await members(client, community["inviteCode"], 4, prefix="sf")
    poll = await make_open_poll(client, koc["accessToken"], [community["id"]])
    options = [x["id"] for x in poll["options"]]
    await services.redis.script_flush()
    orders = await asyncio.gather(*(preorder(client, t, d, [(v[0], 1)], "a") for t in s["tokens"]))
    votes = await asyncio.gather(
        *(client.query(VOTE, {"p": poll["id"], "o": [options[0]]}, token=t) for t in voters)
    )
    assert all(o["errors"] == [] for o in orders)
    assert all(x["castVote"]["errors"] == [] for x in votes)
    assert await _assert_consistent(services, s["id"], 10) == 6  # each reserved once
    await services.redis.script_flush()
    cancel = "mutation($o: ID!) { cancelOrder(orderId: $o) { order { status } errors { code } } }"
    out = await client.query(cancel, {"o": orders[0]["order"]["id"]}, token=s["tokens"][0])
    assert out["cancelOrder"]["errors"] == []
    assert await _assert_consistent(services, s["id"], 10) == 5
    tally = await client.query(
        "query($p: ID!) { node(id: $p) { ... on Poll { results { totalVoters } } } }",
        {"p": poll["id"]},
        token=koc["accessToken"],
    )
    assert tally["node"]["results"]["totalVoters"] == 4
