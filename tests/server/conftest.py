"""A world of objects, built through the API, that the access matrix and the fuzzer act on: one
KOC's community with polls, drops, orders and a production batch; the same again for a KOC who
is revoked afterwards; another KOC's community; factories; an operator."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest

from domain.drops import settlement
from domain.payments.models import PaymentStep
from domain.production import planner
from tests.conftest import GraphQLClient
from tests.helpers import (
    CREATE_DROP,
    CREATE_POLL,
    GRANT,
    PUBLISH_DROP,
    VOTE,
    drop_input,
    join,
    make_community,
    make_koc,
    make_open_drop,
    make_open_poll,
    pk,
    poll_input,
    preorder,
)
from tests.production.scenario import pay

ROLES = (
    "anonymous",
    "member",
    "outsider",  # a member of another community
    "other_koc",  # the KOC of another community
    "koc",  # the KOC who owns the targets
    "revoked",  # a revoked KOC, acting on what they created before the revocation
    "factory",
    "other_factory",
    "operator",
)

World = dict[str, Any]


FACTORY_DOC = """mutation($n: String!) { createFactory(input: {name: $n}) { factory { id } } }"""
KEY_DOC = """mutation($f: ID!) { createFactoryApiKey(factoryId: $f) { apiKey { id } secret } }"""
ASSIGN = """mutation($d: ID!, $f: [ID!]!) { assignFactories(dropId: $d, factoryIds: $f) {
  errors { code } } }"""
CLOSE_DROP = "mutation($d: ID!) { closeDrop(dropId: $d) { errors { code } } }"
PRODUCTION = """query($d: ID!) { dropProduction(dropId: $d) {
  batches { id lines { variant { id } } } } }"""


async def _factory(client: GraphQLClient, op: str, name: str) -> tuple[str, str, str]:
    out = await client.query(FACTORY_DOC, {"n": name}, token=op)
    fid = out["createFactory"]["factory"]["id"]
    key = (await client.query(KEY_DOC, {"f": fid}, token=op))["createFactoryApiKey"]
    return fid, key["apiKey"]["id"], key["secret"]


async def _draft_poll(client: GraphQLClient, token: str, community: str) -> str:
    out = await client.query(CREATE_POLL, {"i": poll_input([community])}, token=token)
    assert out["createPoll"]["errors"] == [], out
    return str(out["createPoll"]["poll"]["id"])


async def _draft_drop(client: GraphQLClient, token: str, community: str) -> str:
    out = await client.query(CREATE_DROP, {"i": drop_input([community])}, token=token)
    assert out["createDrop"]["errors"] == [], out
    return str(out["createDrop"]["drop"]["id"])


OPEN_TEAM = """mutation($d: ID!, $v: ID!, $k: String!) { openTeam(dropId: $d,
  lines: [{variantId: $v, quantity: 1}], idempotencyKey: $k,
  shippingAddress: {name: "Li", phone: "13800000000", region: "Hangzhou", detail: "1"}) {
  team { id shareToken } errors { code } } }"""


async def build_world(
    client: GraphQLClient, services: Any, op: str, owner: dict[str, Any], tag: str, factory: str
) -> World:
    koc = owner["accessToken"]
    community = await make_community(client, koc, f"{tag} circle")
    spare = await make_community(client, koc, f"{tag} spare")
    member = await client.login(f"{tag}-member")
    victim = await client.login(f"{tag}-victim")
    for s in (member, victim):
        await join(client, s["accessToken"], community["inviteCode"])
    mt = member["accessToken"]

    open_poll = await make_open_poll(client, koc, [community["id"]])
    voted = open_poll["options"][0]["id"]
    await client.query(VOTE, {"p": open_poll["id"], "o": [voted]}, token=mt)
    poll_to_close = await make_open_poll(client, koc, [community["id"]])

    open_drop = await make_open_drop(client, koc, [community["id"]], cap=40, limit=10)
    variant = open_drop["variants"][0]["id"]
    drop_to_close = await make_open_drop(client, koc, [community["id"]])
    drop_to_cancel = await make_open_drop(client, koc, [community["id"]])
    orders = []
    for key in ("a", "b"):
        out = await preorder(client, mt, open_drop["id"], [(variant, 1)], f"{tag}-{key}")
        assert out["errors"] == [], out
        orders.append(out["order"]["id"])

    # A drop with group-buy teams, and a team the member opened.
    team_input = drop_input([community["id"]], cap=40, limit=10)
    team_input["teams"] = {"size": 5, "priceFen": 19900}
    created = await client.query(CREATE_DROP, {"i": team_input}, token=koc)
    team_drop = created["createDrop"]["drop"]
    await client.query(PUBLISH_DROP, {"d": team_drop["id"]}, token=koc)
    opened = await client.query(
        OPEN_TEAM,
        {"d": team_drop["id"], "v": team_drop["variants"][0]["id"], "k": f"{tag}-team"},
        token=mt,
    )
    assert opened["openTeam"]["errors"] == [], opened
    team = opened["openTeam"]["team"]

    # A draft with a sample asked of ``factory``.
    sampled = await _draft_drop(client, koc, community["id"])
    asked = await client.query(
        "mutation($d: ID!, $f: ID!) { requestSample(dropId: $d, factoryId: $f) { "
        "sample { id } errors { code } } }",
        {"d": sampled, "f": factory},
        token=koc,
    )
    assert asked["requestSample"]["errors"] == [], asked
    sample = asked["requestSample"]["sample"]["id"]
    made = await client.query(
        "mutation($d: ID!) { createMediaUpload(input: {dropId: $d, kind: IMAGE, sizeBytes: 10}) "
        "{ upload { id } errors { code } } }",
        {"d": sampled},
        token=koc,
    )
    assert made["createMediaUpload"]["errors"] == [], made
    upload = made["createMediaUpload"]["upload"]["id"]

    # A drop that sold, was paid for, closed and planned: its batch goes to ``factory``.
    batch_drop = await make_open_drop(client, koc, [community["id"]], moq=1, mode="FULL")
    out = await preorder(
        client, mt, batch_drop["id"], [(batch_drop["variants"][0]["id"], 1)], f"{tag}-paid"
    )
    assert out["errors"] == [], out
    order = out["order"]
    status = await pay(
        client,
        services,
        pk(order["id"]),
        order["amountDue"]["amountFen"],
        PaymentStep.FULL,
        f"{tag}-T",
    )
    assert status == 204
    assigned = await client.query(ASSIGN, {"d": batch_drop["id"], "f": [factory]}, token=koc)
    assert assigned["assignFactories"]["errors"] == []
    closed = await client.query(CLOSE_DROP, {"d": batch_drop["id"]}, token=koc)
    assert closed["closeDrop"]["errors"] == []
    async with services.unit_of_work() as session:
        await settlement.settle_drop(session, pk(batch_drop["id"]))
    async with services.unit_of_work() as session:
        assert len(await planner.plan(session, pk(batch_drop["id"]))) == 1
    production = await client.query(PRODUCTION, {"d": batch_drop["id"]}, token=koc)
    batch = production["dropProduction"]["batches"][0]

    return {
        "community": community["id"],
        "spare_community": spare["id"],
        "spare_invite": spare["inviteCode"],
        "member_token": mt,
        "member_id": member["user"]["id"],
        "victim_id": victim["user"]["id"],
        "open_poll": open_poll["id"],
        "voted_option": voted,
        "poll_to_close": poll_to_close["id"],
        "draft_poll": await _draft_poll(client, koc, community["id"]),
        "draft_poll_to_publish": await _draft_poll(client, koc, community["id"]),
        "draft_poll_to_cancel": await _draft_poll(client, koc, community["id"]),
        "open_drop": open_drop["id"],
        "variant": variant,
        "team_drop": team_drop["id"],
        "team_variant": team_drop["variants"][0]["id"],
        "team": team["id"],
        "share_token": team["shareToken"],
        "victim_code": services.referral_codes.code_for(pk(victim["user"]["id"])),
        "sampled_drop": sampled,
        "sample": sample,
        "upload": upload,
        "drop_to_close": drop_to_close["id"],
        "drop_to_cancel": drop_to_cancel["id"],
        "draft_drop": await _draft_drop(client, koc, community["id"]),
        "draft_drop_to_publish": await _draft_drop(client, koc, community["id"]),
        "order": orders[0],
        "order_to_cancel": orders[1],
        "batch_drop": batch_drop["id"],
        "batch": batch["id"],
        "batch_variant": batch["lines"][0]["variant"]["id"],
    }


@dataclass
class Scene:
    tokens: dict[str, str | None]
    worlds: dict[str, World]  # per role: the world its targets come from
    shared: World = field(default_factory=dict)


@pytest.fixture
async def scene(client: GraphQLClient, services: Any, operator_token: str) -> Scene:
    op = operator_token
    factory_id, factory_key_id, factory_secret = await _factory(client, op, "Factory A")
    _, _, other_secret = await _factory(client, op, "Factory B")
    _, spare_key_id, _ = await _factory(client, op, "Factory C")
    koc = await make_koc(client, op, "koc-a")
    revoked = await make_koc(client, op, "koc-r")
    other_koc = await make_koc(client, op, "koc-b")
    bystander = await client.login("bystander")

    world = await build_world(client, services, op, koc, "a", factory_id)
    own_world = await build_world(client, services, op, revoked, "r", factory_id)
    out = await client.query(
        "mutation($u: ID!) { revokeKocRole(userId: $u) { errors { code } } }",
        {"u": revoked["user"]["id"]},
        token=op,
    )
    assert out["revokeKocRole"]["errors"] == []

    other = await make_community(client, other_koc["accessToken"], "b circle")
    outsider = await client.login("b-member")
    await join(client, outsider["accessToken"], other["inviteCode"])
    assert (await client.query(GRANT, {"u": bystander["user"]["id"]}, token=op))["grantKocRole"][
        "errors"
    ] == []

    spares: dict[str, list[str]] = {"refresh": [], "logout": [], "console": [], "waiting": []}
    for i in range(2 * len(ROLES)):
        s = await client.login(f"spare-{i}")
        spares["refresh" if i % 2 else "logout"].append(s["refreshToken"])
        started = await client.query("mutation { startConsoleLogin { challenge } }")
        spares["console" if i % 2 else "waiting"].append(started["startConsoleLogin"]["challenge"])
    shown = await client.query("mutation { startConsoleLogin { challenge } }")
    spares["shown"] = [shown["startConsoleLogin"]["challenge"]]
    shared = {
        "factory_id": factory_id,
        "factory_key_id": factory_key_id,
        "spare_key_id": spare_key_id,
        "bystander_id": bystander["user"]["id"],
        "spares": spares,
        "counter": itertools.count(),
    }
    tokens: dict[str, str | None] = {
        "anonymous": None,
        "member": world["member_token"],
        "outsider": outsider["accessToken"],
        "other_koc": other_koc["accessToken"],
        "koc": koc["accessToken"],
        "revoked": revoked["accessToken"],
        "factory": factory_secret,
        "other_factory": other_secret,
        "operator": op,
    }
    worlds = {role: {**shared, **world} for role in ROLES}
    worlds["revoked"] = {**shared, **own_world}
    return Scene(tokens, worlds, shared)
