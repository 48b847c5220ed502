"""Group-buy teams (拼团) through the API: opening, joining, the (N+1)-th joiner refused, seats
freed by expiry, a team filled by payments and settled at the team price, a team failed at its
deadline exactly once, and every bad input refused with nothing changed."""

from __future__ import annotations

import asyncio
import textwrap
from typing import Any

import httpx
from httpx_ws import aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from domain.payments.models import PaymentStep
from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.helpers import (
    ADDRESS,
    CREATE_DROP,
    PROGRESS,
    PUBLISH_DROP,
    drop_input,
    kill_when_printed,
    make_community,
    make_koc,
    members,
    pk,
    preorder,
)
from tests.production.scenario import close, pay, sql
from workers import drops as drop_jobs
from workers import production as production_jobs

TEAM_FIELDS = """team { id shareToken status size seatsTaken seatsPaid seatsLeft
  price { amountFen } policy deadline leader { displayName } }
  order { id status teamId amountDue { amountFen } } errors { code field message }"""
OPEN = f"""mutation($d: ID!, $l: [OrderLineInput!]!, $k: String!, $a: ShippingAddressInput!) {{
  openTeam(dropId: $d, lines: $l, idempotencyKey: $k, shippingAddress: $a) {{ {TEAM_FIELDS} }} }}"""
JOIN = f"""mutation($t: String!, $l: [OrderLineInput!]!, $k: String!, $a: ShippingAddressInput!,
  $d: ID) {{ joinTeam(shareToken: $t, lines: $l, idempotencyKey: $k, shippingAddress: $a,
  dropId: $d) {{ {TEAM_FIELDS} }} }}"""
BY_TOKEN = """query($t: String!) { team(shareToken: $t) { id status seatsTaken seatsPaid seatsLeft
  leader { displayName avatarUrl } } }"""
OPEN_TEAMS = """query($d: ID!, $after: String) { node(id: $d) { ... on Drop {
  teams { size price { amountFen } hours policy }
  openTeams(first: 2, after: $after) { nodes { id seatsTaken } pageInfo { hasNextPage
  endCursor } } } } }"""
MY_TEAMS = "query { myTeams(first: 10) { nodes { id status } } }"
MY_ORDERS = "query { myOrders(first: 10) { nodes { id status } } }"
ORDER = """query($o: ID!) { node(id: $o) { ... on Order { status teamId ledger { kind amount {
  amountFen } } } } }"""


async def _drop(
    client: GraphQLClient,
    koc_token: str,
    community_id: str,
    *,
    size: int = 3,
    policy: str = "REFUND",
    **kw: Any,
) -> dict[str, Any]:
    data = drop_input([community_id], **kw)
    data["teams"] = {"size": size, "priceFen": 19900, "hours": 24, "policy": policy}
    out = await client.query(CREATE_DROP, {"i": data}, token=koc_token)
    assert out["createDrop"]["errors"] == [], out
    drop = out["createDrop"]["drop"]
    pub = await client.query(PUBLISH_DROP, {"d": drop["id"]}, token=koc_token)
    assert pub["publishDrop"]["errors"] == [], pub
    return drop


def _lines(drop: dict[str, Any], qty: int = 1, i: int = 0) -> list[dict[str, Any]]:
    return [{"variantId": drop["variants"][i]["id"], "quantity": qty}]


async def _open(client: GraphQLClient, token: str, drop: dict[str, Any], key: str) -> Any:
    out = await client.query(
        OPEN, {"d": drop["id"], "l": _lines(drop), "k": key, "a": ADDRESS}, token=token
    )
    return out["openTeam"]


async def _join(
    client: GraphQLClient,
    token: str,
    share: str,
    drop: dict[str, Any],
    key: str,
    drop_id: str | None = None,
) -> Any:
    out = await client.query(
        JOIN,
        {"t": share, "l": _lines(drop), "k": key, "a": ADDRESS, "d": drop_id},
        token=token,
    )
    return out["joinTeam"]


async def _scene(client: GraphQLClient, operator_token: str, n: int, **kw: Any) -> Any:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    tokens = await members(client, community["inviteCode"], n, prefix="teamer")
    drop = await _drop(client, koc["accessToken"], community["id"], **kw)
    return koc, community, tokens, drop


async def _seats_in_redis(services: Any, drop: dict[str, Any], team_gid: str) -> int:
    return int(await services.reservations.team_seats(pk(drop["id"]), pk(team_gid)))


async def test_a_team_fills_when_paid_and_settles_at_the_team_price(
    client: GraphQLClient, operator_token: str, services: Any, settings: Settings
) -> None:
    koc, _, tokens, drop = await _scene(client, operator_token, 5, mode="FULL", moq=3)
    leader, first, second, late, solo = tokens
    opened = await _open(client, leader, drop, "lead")
    assert opened["errors"] == [], opened
    team = opened["team"]
    assert (team["status"], team["size"], team["seatsTaken"], team["seatsLeft"]) == (
        "OPEN",
        3,
        1,
        2,
    )
    assert team["price"] == {"amountFen": 19900} and team["policy"] == "REFUND"
    assert opened["order"]["teamId"] == team["id"]
    assert opened["order"]["amountDue"] == {"amountFen": 29900}  # pays as placePreorder does
    again = await _open(client, leader, drop, "lead")  # a retry: the same team and order
    assert (again["team"]["id"], again["order"]["id"]) == (team["id"], opened["order"]["id"])

    share = team["shareToken"]
    joined = await _join(client, first, share, drop, "j1")
    assert joined["errors"] == [] and joined["team"]["seatsTaken"] == 2
    twice = await _join(client, first, share, drop, "j1-again")
    assert twice["errors"][0]["code"] == "ALREADY_IN_TEAM" and twice["order"] is None
    own = await _join(client, leader, share, drop, "own")
    assert own["errors"][0]["code"] == "ALREADY_IN_TEAM"
    assert (await _join(client, second, share, drop, "j2"))["team"]["seatsLeft"] == 0

    full = await _join(client, late, share, drop, "j3")
    assert (
        full["errors"]
        == [
            {
                "code": "TEAM_FULL",
                "field": "shareToken",
                "message": "This team is full: open a team of your own.",
            }
        ]
        and full["order"] is None
    )
    assert (await client.query(MY_ORDERS, token=late))["myOrders"]["nodes"] == []
    progress = (await client.query(PROGRESS, {"d": drop["id"]}, token=late))["node"]["progress"]
    assert progress["totalQuantity"] == 3  # the refused joiner reserved nothing
    assert await _seats_in_redis(services, drop, team["id"]) == 3
    listed = (await client.query(OPEN_TEAMS, {"d": drop["id"]}, token=late))["node"]
    assert listed["teams"] == {
        "size": 3,
        "price": {"amountFen": 19900},
        "hours": 24,
        "policy": "REFUND",
    }
    assert listed["openTeams"]["nodes"] == []  # no free seat: not offered to strangers

    # Every seat paid: FULL (pending seats alone do not fill it).
    seat_orders = [opened["order"], joined["order"]]
    seat_orders.append((await _join(client, second, share, drop, "j2"))["order"])
    for i, order in enumerate(seat_orders):
        seen = (await client.query(BY_TOKEN, {"t": share}, token=late))["team"]
        assert seen["status"] == "OPEN" and seen["seatsPaid"] == i
        assert await pay(client, services, pk(order["id"]), 29900, PaymentStep.FULL, f"T{i}") == 204
    seen = (await client.query(BY_TOKEN, {"t": share}, token=late))["team"]
    assert seen == {
        "id": team["id"],
        "status": "FULL",
        "seatsTaken": 3,
        "seatsPaid": 3,
        "seatsLeft": 0,
        "leader": {"displayName": seen["leader"]["displayName"], "avatarUrl": None},
    }
    filled = await sql(
        settings,
        "SELECT count(*) AS n FROM notification_events WHERE kind = 'TEAM_FILLED'"
        " AND subject_id = $1",
        pk(team["id"]),
    )
    assert filled[0]["n"] == 1
    mine = (await client.query(MY_TEAMS, token=first))["myTeams"]["nodes"]
    assert mine == [{"id": team["id"], "status": "FULL"}]

    alone = await preorder(client, solo, drop["id"], [(drop["variants"][1]["id"], 1)], "solo")
    assert await pay(client, services, pk(alone["order"]["id"]), 29900, PaymentStep.FULL, "TS")
    await close(client, {"drop": drop, "koc": koc})
    out = await client.query(
        "mutation($d: ID!) { settleDrop(dropId: $d) { drop { status finalPrice { amountFen } } "
        "errors { code } } }",
        {"d": drop["id"]},
        token=koc["accessToken"],
    )
    assert out["settleDrop"]["drop"] == {"status": "SUCCEEDED", "finalPrice": {"amountFen": 29900}}
    # The team's three members get the difference back; the solo buyer pays the drop price.
    assert await production_jobs.refund_excess(pk(drop["id"]), services) == 3 * 10000
    assert await production_jobs.refund_excess(pk(drop["id"]), services) == 0
    node = (await client.query(ORDER, {"o": joined["order"]["id"]}, token=first))["node"]
    assert node["status"] == "CONFIRMED"
    assert node["ledger"] == [
        {"kind": "PAYMENT", "amount": {"amountFen": 29900}},
        {"kind": "REFUND", "amount": {"amountFen": 10000}},
    ]
    node = (await client.query(ORDER, {"o": alone["order"]["id"]}, token=solo))["node"]
    assert node["ledger"] == [{"kind": "PAYMENT", "amount": {"amountFen": 29900}}]


async def test_racing_joiners_never_overfill_a_team(
    client: GraphQLClient, operator_token: str, services: Any, settings: Settings
) -> None:
    _, _, tokens, drop = await _scene(client, operator_token, 9, size=4)
    opened = await _open(client, tokens[0], drop, "lead")
    share = opened["team"]["shareToken"]
    outs = await asyncio.gather(
        *(_join(client, t, share, drop, f"race-{i}") for i, t in enumerate(tokens[1:]))
    )
    accepted = [o for o in outs if o["errors"] == []]
    assert len(accepted) == 3
    assert {o["errors"][0]["code"] for o in outs if o["errors"]} == {"TEAM_FULL"}
    rows = await sql(
        settings,
        "SELECT count(*) AS n FROM orders WHERE team_id = $1",
        pk(opened["team"]["id"]),
    )
    assert rows[0]["n"] == 4  # no order was left behind by a refused joiner
    assert await _seats_in_redis(services, drop, opened["team"]["id"]) == 4


async def test_an_unpaid_seat_expires_and_frees_the_seat_once(
    client: GraphQLClient, operator_token: str, services: Any, settings: Settings
) -> None:
    _, _, tokens, drop = await _scene(client, operator_token, 4, size=2)
    opened = await _open(client, tokens[0], drop, "lead")
    share, team_id = opened["team"]["shareToken"], opened["team"]["id"]
    seat = await _join(client, tokens[1], share, drop, "j1")
    assert (await _join(client, tokens[2], share, drop, "j2"))["errors"][0]["code"] == "TEAM_FULL"
    await sql(
        settings,
        "UPDATE orders SET expires_at = now() - interval '1 second' WHERE id = $1",
        pk(seat["order"]["id"]),
    )
    assert await drop_jobs.expire_due(services) == 1
    assert await drop_jobs.expire_due(services) == 0
    assert await _seats_in_redis(services, drop, team_id) == 1
    seen = (await client.query(BY_TOKEN, {"t": share}, token=tokens[2]))["team"]
    assert (seen["status"], seen["seatsTaken"]) == ("OPEN", 1)
    listed = (await client.query(OPEN_TEAMS, {"d": drop["id"]}, token=tokens[2]))["node"]
    assert listed["openTeams"]["nodes"] == [{"id": team_id, "seatsTaken": 1}]
    assert (await _join(client, tokens[2], share, drop, "j2-again"))["errors"] == []
    assert await _seats_in_redis(services, drop, team_id) == 2

    # Redis loses everything: the seats come back from PostgreSQL with the counters.
    await services.redis.flushall()
    await client.query(PROGRESS, {"d": drop["id"]}, token=tokens[3])  # a read rebuilds them
    assert await _seats_in_redis(services, drop, team_id) == 2
    assert (await _join(client, tokens[3], share, drop, "j3"))["errors"][0]["code"] == "TEAM_FULL"


async def test_a_team_past_its_deadline_fails_once_and_applies_its_policy(
    client: GraphQLClient, operator_token: str, services: Any, settings: Settings
) -> None:
    koc = await make_koc(client, operator_token)
    community = await make_community(client, koc["accessToken"])
    tokens = await members(client, community["inviteCode"], 4, prefix="late")
    refund = await _drop(client, koc["accessToken"], community["id"])
    keep = await _drop(client, koc["accessToken"], community["id"], policy="KEEP_AT_DROP_PRICE")
    teams = {}
    for name, drop in (("refund", refund), ("keep", keep)):
        opened = await _open(client, tokens[0], drop, f"lead-{name}")
        joined = await _join(client, tokens[1], opened["team"]["shareToken"], drop, f"j-{name}")
        paid = opened["order"]
        assert await pay(client, services, pk(paid["id"]), 5000, PaymentStep.DEPOSIT, name) == 204
        teams[name] = (opened["team"], paid, joined["order"])
    await sql(
        settings,
        "UPDATE teams SET deadline = now() - interval '1 second' WHERE id = ANY($1::bigint[])",
        [pk(t[0]["id"]) for t in teams.values()],
    )
    assert await drop_jobs.close_due_teams(services) == 2
    assert await drop_jobs.close_due_teams(services) == 0  # exactly once

    team, paid, pending = teams["refund"]
    seen = (await client.query(BY_TOKEN, {"t": team["shareToken"]}, token=tokens[2]))["team"]
    assert (seen["status"], seen["seatsTaken"]) == ("FAILED", 0)
    assert (await client.query(ORDER, {"o": pending["id"]}, token=tokens[1]))["node"][
        "status"
    ] == "CANCELLED"
    from workers import payments as payment_jobs

    for _ in range(2):
        await payment_jobs.refund(pk(paid["id"]), services)
    node = (await client.query(ORDER, {"o": paid["id"]}, token=tokens[0]))["node"]
    assert node["status"] == "REFUNDED"
    assert node["ledger"] == [
        {"kind": "PAYMENT", "amount": {"amountFen": 5000}},
        {"kind": "REFUND", "amount": {"amountFen": 5000}},
    ]
    progress = (await client.query(PROGRESS, {"d": refund["id"]}, token=tokens[2]))["node"]
    assert progress["progress"]["totalQuantity"] == 0  # the capacity went back
    late = await _join(client, tokens[2], team["shareToken"], refund, "too-late")
    assert late["errors"][0]["code"] == "TEAM_CLOSED" and late["order"] is None

    team, paid, pending = teams["keep"]
    for order, token in ((paid, tokens[0]), (pending, tokens[1])):
        node = (await client.query(ORDER, {"o": order["id"]}, token=token))["node"]
        assert node["status"] in ("DEPOSIT_PAID", "PENDING_PAYMENT")  # kept at the drop price
    failed = await sql(
        settings,
        "SELECT count(*) AS n FROM notification_events WHERE kind = 'TEAM_FAILED'"
        " AND subject_id = ANY($1::bigint[])",
        [pk(t[0]["id"]) for t in teams.values()],
    )
    assert failed[0]["n"] == 2


async def test_bad_team_requests_are_refused_and_change_nothing(
    client: GraphQLClient, operator_token: str, settings: Settings
) -> None:
    koc, community, tokens, drop = await _scene(client, operator_token, 2)
    plain = drop_input([community["id"]])
    created = await client.query(CREATE_DROP, {"i": plain}, token=koc["accessToken"])
    plain_drop = created["createDrop"]["drop"]
    await client.query(PUBLISH_DROP, {"d": plain_drop["id"]}, token=koc["accessToken"])
    no_teams = await _open(client, tokens[0], plain_drop, "nt")
    assert no_teams["errors"][0]["code"] == "TEAMS_NOT_ENABLED" and no_teams["order"] is None

    for teams, field in (
        ({"size": 1, "priceFen": 100}, "teams.size"),
        ({"size": 51, "priceFen": 100}, "teams.size"),
        ({"size": 3, "priceFen": 29900}, "teams.priceFen"),
        ({"size": 3, "priceFen": 0}, "teams.priceFen"),
        ({"size": 3, "priceFen": 4000}, "teams.priceFen"),  # not above the deposit
        ({"size": 3, "priceFen": 19900, "hours": 0}, "teams.hours"),
    ):
        bad = dict(plain, teams=teams)
        out = await client.query(CREATE_DROP, {"i": bad}, token=koc["accessToken"])
        assert out["createDrop"]["errors"][0]["field"] == field, (teams, out)

    opened = await _open(client, tokens[0], drop, "lead")
    share = opened["team"]["shareToken"]
    unknown = await _join(client, tokens[1], "no-such-token", drop, "u")
    assert unknown["errors"][0]["code"] == "NOT_FOUND"
    assert (await _join(client, tokens[1], "x" * 500, drop, "long"))["errors"][0]["code"] == (
        "NOT_FOUND"
    )
    other = await _join(client, tokens[1], share, drop, "o", drop_id=plain_drop["id"])
    assert other["errors"][0]["field"] == "shareToken"
    anonymous = await client.query(
        JOIN, {"t": share, "l": _lines(drop), "k": "anon", "a": ADDRESS, "d": None}
    )
    assert anonymous["joinTeam"]["errors"][0]["code"] == "UNAUTHENTICATED"
    (outsider,) = await members(
        client, (await make_community(client, koc["accessToken"], "other"))["inviteCode"], 1,
        prefix="outsider",
    )  # fmt: skip
    stranger = await _join(client, outsider, share, drop, "s")
    assert stranger["errors"][0]["code"] == "NOT_A_MEMBER"
    assert (await client.query(BY_TOKEN, {"t": "nope"}, token=tokens[1]))["team"] is None
    key_reused = await _join(client, tokens[0], share, drop, "lead")  # the leader's own key
    assert key_reused["errors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    rows = await sql(
        settings, "SELECT count(*) AS n FROM orders WHERE team_id = $1", pk(opened["team"]["id"])
    )
    assert rows[0]["n"] == 1


TEAM_SUB = """subscription($t: String!) { teamProgress(shareToken: $t) { seatsTaken seatsPaid
  seatsLeft status } }"""


async def test_team_progress_is_pushed_as_seats_fill(
    app: Any, client: GraphQLClient, operator_token: str, services: Any
) -> None:
    _, _, tokens, drop = await _scene(client, operator_token, 3, size=2)
    opened = await _open(client, tokens[0], drop, "lead")
    share = opened["team"]["shareToken"]
    async with httpx.AsyncClient(
        transport=ASGIWebSocketTransport(app), base_url="http://c2m.test"
    ) as ws_http:
        async with aconnect_ws("/graphql", ws_http, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send_json(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {tokens[2]}"}}
            )
            await ws.receive_json(timeout=5)
            await ws.send_json(
                {"id": "1", "type": "subscribe", "payload": {"query": TEAM_SUB, "variables": {
                    "t": share}}}
            )  # fmt: skip
            first = await ws.receive_json(timeout=5)
            assert first["payload"]["data"]["teamProgress"] == {
                "seatsTaken": 1,
                "seatsPaid": 0,
                "seatsLeft": 1,
                "status": "OPEN",
            }
            assert (await _join(client, tokens[1], share, drop, "j1"))["errors"] == []
            msg = await ws.receive_json(timeout=10)
            assert msg["payload"]["data"]["teamProgress"]["seatsTaken"] == 2
            unknown = await ws.send_json(
                {"id": "2", "type": "subscribe", "payload": {"query": TEAM_SUB, "variables": {
                    "t": "nope"}}}
            )  # fmt: skip
            assert unknown is None
            err = await ws.receive_json(timeout=5)
            assert err["id"] == "2" and err["type"] in ("error", "next")
            assert "nope" not in str(err)


async def test_a_full_team_stays_full_and_its_deposits_owe_the_team_price(
    client: GraphQLClient, operator_token: str, services: Any, settings: Settings
) -> None:
    koc, _, tokens, drop = await _scene(client, operator_token, 3, size=2, moq=1)
    opened = await _open(client, tokens[0], drop, "lead")
    share = opened["team"]["shareToken"]
    joined = await _join(client, tokens[1], share, drop, "j1")
    for i, order in enumerate((opened["order"], joined["order"])):
        assert await pay(client, services, pk(order["id"]), 5000, PaymentStep.DEPOSIT, f"D{i}")
    assert (await client.query(BY_TOKEN, {"t": share}, token=tokens[2]))["team"]["status"] == (
        "FULL"
    )
    cancelled = await client.query(
        "mutation($o: ID!) { cancelOrder(orderId: $o) { order { status } errors { code } } }",
        {"o": joined["order"]["id"]},
        token=tokens[1],
    )
    assert cancelled["cancelOrder"]["order"]["status"] == "CANCELLED"
    seen = (await client.query(BY_TOKEN, {"t": share}, token=tokens[2]))["team"]
    assert (seen["status"], seen["seatsTaken"]) == ("FULL", 1)  # never open again
    late = await _join(client, tokens[2], share, drop, "late")
    assert late["errors"][0]["code"] == "TEAM_FULL" and late["order"] is None
    await close(client, {"drop": drop, "koc": koc})
    out = await client.query(
        "mutation($d: ID!) { settleDrop(dropId: $d) { drop { status } errors { code } } }",
        {"d": drop["id"]},
        token=koc["accessToken"],
    )
    assert out["settleDrop"]["drop"]["status"] == "SUCCEEDED"
    balance = await client.query(
        "query($o: ID!) { node(id: $o) { ... on Order { status amountDue { amountFen } } } }",
        {"o": opened["order"]["id"]},
        token=tokens[0],
    )
    assert balance["node"] == {"status": "DEPOSIT_PAID", "amountDue": {"amountFen": 19900 - 5000}}


KILLED_CLOSE = textwrap.dedent(
    """
    import asyncio, sys
    from domain.drops import teams
    from domain.notifications import outbox as notify
    from infra.config import Settings
    from infra.resources import make_engine, make_redis, make_sessionmaker
    from infra.uow import unit_of_work
    from domain.drops.reservations import ReservationStore

    async def stall(*a, **k):
        print("half-way", flush=True)
        await asyncio.sleep(60)

    notify.record_event = stall   # killed after the orders were cancelled, before the commit

    async def main():
        sm = make_sessionmaker(make_engine(Settings(), sys.argv[1], pool_size=1))
        store = ReservationStore(make_redis(Settings(), sys.argv[2]))
        async with unit_of_work(sm, None) as session:
            await teams.close_team(session, store, int(sys.argv[3]))

    asyncio.run(main())
    """
)


async def test_closing_a_team_survives_kill_9_and_racing_workers(
    client: GraphQLClient, operator_token: str, services: Any, settings: Settings
) -> None:
    _, _, tokens, drop = await _scene(client, operator_token, 4, size=3)
    opened = await _open(client, tokens[0], drop, "lead")
    joined = await _join(client, tokens[1], opened["team"]["shareToken"], drop, "j")
    assert await pay(client, services, pk(opened["order"]["id"]), 5000, PaymentStep.DEPOSIT, "k")
    team_id = pk(opened["team"]["id"])
    await sql(
        settings, "UPDATE teams SET deadline = now() - interval '1 second' WHERE id = $1", team_id
    )
    late = await _join(client, tokens[2], opened["team"]["shareToken"], drop, "late")
    assert late["errors"][0]["code"] == "TEAM_CLOSED"  # past its deadline, not yet closed

    await kill_when_printed(
        KILLED_CLOSE,
        [settings.database_url or "", settings.redis_url or "", str(team_id)],
        "half-way",
    )
    rows = await sql(settings, "SELECT status FROM teams WHERE id = $1", team_id)
    assert rows[0]["status"] == "OPEN"  # the killed close rolled back whole
    statuses = await sql(settings, "SELECT status FROM orders WHERE team_id = $1", team_id)
    assert {r["status"] for r in statuses} == {"DEPOSIT_PAID", "PENDING_PAYMENT"}

    # Two workers at once: the team fails once, each order is cancelled once.
    outs = await asyncio.gather(
        drop_jobs.close_due_teams(services), drop_jobs.close_due_teams(services)
    )
    assert sum(outs) == 1
    rows = await sql(
        settings,
        "SELECT status, cancel_reason FROM orders WHERE team_id = $1 ORDER BY id",
        team_id,
    )
    assert [(r["status"], r["cancel_reason"]) for r in rows] == [
        ("CANCELLED", "TEAM_FAILED"),
        ("CANCELLED", "TEAM_FAILED"),
    ]
    events = await sql(
        settings,
        "SELECT count(*) AS n FROM notification_events WHERE kind = 'TEAM_FAILED'"
        " AND subject_id = $1",
        team_id,
    )
    assert events[0]["n"] == 1
    assert await _seats_in_redis(services, drop, opened["team"]["id"]) == 0
    assert joined["order"]["id"]
