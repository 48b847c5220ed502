"""Who may do what: every query field, mutation and subscription of ``schema.graphql`` against
every kind of caller, over HTTP (and graphql-transport-ws for subscriptions).

The targets belong to one KOC's world (a community, polls, drops, orders, a batch). Each role is
asked to act on them; an expectation is ``allow`` (the call is not refused for who the caller is:
it may still fail for a business reason) or ``deny`` (refused as UNAUTHENTICATED, FORBIDDEN,
NOT_FOUND or NOT_A_MEMBER, or, for a read, the target is not in what comes back). The revoked KOC
acts on a world of their own, built while they were a KOC and revoked afterwards: a revoked KOC
is an ordinary signed-in user, even towards what they created.

A field added to the schema without rows here fails ``test_every_field_has_rows``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_ws import aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from tests.conftest import GraphQLClient
from tests.helpers import VOTE, drop_input, poll_input
from tests.server.conftest import ROLES, Scene, World

REFUSALS = {"UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "NOT_A_MEMBER"}
SIGNED_IN = {"member", "outsider", "other_koc", "koc", "revoked", "operator"}
EVERYONE = set(ROLES)
NOBODY: set[str] = set()


@dataclass
class Case:
    field: str
    doc: str
    variables: Callable[[World], dict[str, Any]]
    allow: set[str]
    # For reads: whether what came back shows the target (absent means: not refused is enough).
    seen: Callable[[Any, World], bool] | None = None
    label: str = ""
    roles: tuple[str, ...] = ROLES

    @property
    def name(self) -> str:
        return f"{self.field}{':' + self.label if self.label else ''}"


def ids(conn: dict[str, Any]) -> set[str]:
    return {n["id"] for n in conn["nodes"]}


def _spare(key: str) -> Callable[[World], dict[str, Any]]:
    return lambda w: {"t": w["spares"][key].pop()}


def nodes_case(label: str, target: str, allow: set[str]) -> Case:
    return Case(
        "nodes",
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        lambda w: {"ids": [w[target], w[target]]},
        allow,
        seen=lambda d, w: d["nodes"] == [{"id": w[target]}] * 2,
        label=label,
    )


def node_case(label: str, target: str, allow: set[str]) -> Case:
    return Case(
        "node",
        "query($id: ID!) { node(id: $id) { id } }",
        lambda w: {"id": w[target]},
        allow,
        seen=lambda d, w: d["node"] is not None and d["node"]["id"] == w[target],
        label=label,
    )


KOC_AND_OPERATOR = {"koc", "operator"}
FACTORY = {"factory"}

QUERIES = [
    Case("viewer", "{ viewer { id } }", lambda w: {}, EVERYONE),
    Case(
        "viewerFactory",
        "{ viewerFactory { id } }",
        lambda w: {},
        {"factory", "other_factory"},
        seen=lambda d, w: d["viewerFactory"] is not None,
    ),
    Case(
        "factories",
        "{ factories(first: 100) { nodes { id } } }",
        lambda w: {},
        {"operator"},
        seen=lambda d, w: w["factory_id"] in ids(d["factories"]),
    ),
    Case(
        "consoleLoginRequest",  # pending and never approved: showing it changes nothing
        "query($t: String!) { consoleLoginRequest(challenge: $t) { requestedAt } }",
        lambda w: {"t": w["spares"]["shown"][0]},
        {"koc", "other_koc", "operator"},
        seen=lambda d, w: d["consoleLoginRequest"] is not None,
    ),
    Case(
        "myCommunities",
        "{ myCommunities(first: 100) { nodes { id } } }",
        lambda w: {},
        {"member", "koc"},
        seen=lambda d, w: w["community"] in ids(d["myCommunities"]),
    ),
    Case(
        "communityMembers",
        "query($c: ID!) { communityMembers(communityId: $c) { nodes { displayName } } }",
        lambda w: {"c": w["community"]},
        KOC_AND_OPERATOR,
    ),
    Case("myProfile", "{ myProfile { heightCm } }", lambda w: {}, SIGNED_IN),
    Case(
        "polls",
        "query($c: ID) { polls(communityId: $c, first: 100) { nodes { id } } }",
        lambda w: {"c": w["community"]},
        {"member", "koc", "operator"},
        seen=lambda d, w: w["open_poll"] in ids(d["polls"]),
    ),
    Case(
        "polls",
        "{ polls(status: [DRAFT], first: 100) { nodes { id } } }",
        lambda w: {},
        {"koc"},
        seen=lambda d, w: w["draft_poll"] in ids(d["polls"]),
        label="drafts",
    ),
    Case(
        "pollOptionVoters",
        "query($o: ID!) { pollOptionVoters(optionId: $o, first: 100) { nodes { id } } }",
        lambda w: {"o": w["voted_option"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "drops",
        "{ drops(first: 100) { nodes { id } } }",
        lambda w: {},
        {"member", "koc"},
        seen=lambda d, w: w["open_drop"] in ids(d["drops"]),
    ),
    Case(
        "myOrders",
        "{ myOrders(first: 100) { nodes { id } } }",
        lambda w: {},
        {"member"},
        seen=lambda d, w: w["order"] in ids(d["myOrders"]),
    ),
    Case(
        "team",
        "query($t: String!) { team(shareToken: $t) { id } }",
        lambda w: {"t": w["share_token"]},
        SIGNED_IN,  # a shared link: public fields only
        seen=lambda d, w: d["team"] is not None and d["team"]["id"] == w["team"],
    ),
    Case(
        "myTeams",
        "{ myTeams(first: 100) { nodes { id } } }",
        lambda w: {},
        {"member"},
        seen=lambda d, w: w["team"] in ids(d["myTeams"]),
    ),
    Case(
        "pollAnalytics",
        "query($p: ID!) { pollAnalytics(pollId: $p) { voters } }",
        lambda w: {"p": w["open_poll"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "dropAnalytics",
        "query($d: ID!) { dropAnalytics(dropId: $d) { buyers } }",
        lambda w: {"d": w["open_drop"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "referralAccount",
        "{ referralAccount { balance { amountFen } } }",
        lambda w: {},
        SIGNED_IN,
    ),
    Case(
        "referralRewards",
        "{ referralRewards(first: 10) { nodes { id } } }",
        lambda w: {},
        SIGNED_IN,
    ),
    Case(
        "dropReferrers",
        "query($d: ID!) { dropReferrers(dropId: $d) { buyers } }",
        lambda w: {"d": w["open_drop"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "communityReferrals",
        "query($c: ID!) { communityReferrals(communityId: $c) { nodes { invitees } } }",
        lambda w: {"c": w["community"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "suspiciousBallots",
        "query($p: ID!) { suspiciousBallots(pollId: $p) { reasons } }",
        lambda w: {"p": w["open_poll"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "sampleRequests",
        "{ sampleRequests(first: 100) { nodes { id } } }",
        lambda w: {},
        FACTORY,
        seen=lambda d, w: w["sample"] in ids(d["sampleRequests"]),
    ),
    Case("myNotifications", "{ myNotifications { nodes { id } } }", lambda w: {}, SIGNED_IN),
    Case("unreadNotificationCount", "{ unreadNotificationCount }", lambda w: {}, SIGNED_IN),
    Case(
        "batchOrders",
        "{ batchOrders(first: 100) { nodes { id } } }",
        lambda w: {},
        FACTORY,
        seen=lambda d, w: w["batch"] in ids(d["batchOrders"]),
    ),
    Case(
        "dropProduction",
        "query($d: ID!) { dropProduction(dropId: $d) { batches { id } } }",
        lambda w: {"d": w["batch_drop"]},
        KOC_AND_OPERATOR,
    ),
    node_case("Community", "community", {"member", "koc", "operator"}),
    nodes_case("Community", "community", {"member", "koc", "operator"}),
    node_case("Poll", "open_poll", {"member", "koc", "operator"}),
    nodes_case("Poll", "open_poll", {"member", "koc", "operator"}),
    node_case("Poll draft", "draft_poll", KOC_AND_OPERATOR),
    nodes_case("Poll draft", "draft_poll", KOC_AND_OPERATOR),
    node_case("PollOption", "voted_option", {"member", "koc", "operator"}),
    nodes_case("PollOption", "voted_option", {"member", "koc", "operator"}),
    node_case("Drop", "open_drop", {"member", "koc", "operator"}),
    nodes_case("Drop", "open_drop", {"member", "koc", "operator"}),
    node_case("Drop draft", "draft_drop", KOC_AND_OPERATOR),
    nodes_case("Drop draft", "draft_drop", KOC_AND_OPERATOR),
    node_case("DropVariant", "variant", {"member", "koc", "operator"}),
    nodes_case("DropVariant", "variant", {"member", "koc", "operator"}),
    node_case("Order", "order", {"member", "operator"}),
    nodes_case("Order", "order", {"member", "operator"}),
    node_case("Team", "team", {"member", "koc", "operator"}),
    nodes_case("Team", "team", {"member", "koc", "operator"}),
    node_case("Batch", "batch", {"factory", "koc", "operator"}),
    nodes_case("Batch", "batch", {"factory", "koc", "operator"}),
    node_case("Factory", "factory_id", {"factory", "operator"}),
    nodes_case("Factory", "factory_id", {"factory", "operator"}),
    node_case("FactoryApiKey", "factory_key_id", {"operator"}),
    nodes_case("FactoryApiKey", "factory_key_id", {"operator"}),
    node_case("User", "member_id", {"member", "operator"}),  # KOCs see members' profiles
    nodes_case("User", "member_id", {"member", "operator"}),
    Case(
        "node",
        "query($id: ID!) { node(id: $id) { ... on Order { id ledger { kind } } } }",
        lambda w: {"id": w["order"]},
        {"member", "operator"},
        seen=lambda d, w: d["node"] is not None,
        label="Order ledger",
    ),
    Case(
        "node",
        "query($id: ID!) { node(id: $id) { ... on Order { shippingAddress { name } } } }",
        lambda w: {"id": w["order"]},
        {"member"},
        seen=lambda d, w: d["node"] is not None and d["node"]["shippingAddress"] is not None,
        label="Order address",
    ),
]

OPT = """mutation($k: NotificationKind!) { setNotificationOptOut(kind: $k, optedOut: true) {
  errors { code } } }"""

MUTATIONS = [
    Case(
        "loginWithWechat",
        "mutation($t: String!) { loginWithWechat(code: $t) { errors { code } } }",
        lambda w: {"t": f"fresh-{next(w['counter'])}"},
        EVERYONE,
    ),
    Case(
        "startConsoleLogin",
        "mutation { startConsoleLogin { errors { code } } }",
        lambda w: {},
        EVERYONE,
    ),
    Case(
        "approveConsoleLogin",
        "mutation($t: String!) { approveConsoleLogin(challenge: $t) { errors { code } } }",
        _spare("console"),
        {"koc", "other_koc", "operator"},  # any KOC signs in to their own console
    ),
    Case(
        "completeConsoleLogin",  # pending: CONSOLE_LOGIN_PENDING for anyone, no refusal
        "mutation($t: String!) { completeConsoleLogin(challenge: $t) { errors { code } } }",
        _spare("waiting"),
        EVERYONE,
    ),
    Case(
        "refreshSession",
        "mutation($t: String!) { refreshSession(refreshToken: $t) { errors { code } } }",
        _spare("refresh"),
        EVERYONE,
    ),
    Case(
        "logout",
        "mutation($t: String!) { logout(refreshToken: $t) { errors { code } } }",
        _spare("logout"),
        EVERYONE,
    ),
    Case(
        "updateProfile",
        'mutation { updateProfile(displayName: "Someone") { errors { code } } }',
        lambda w: {},
        SIGNED_IN,
    ),
    Case(
        "grantKocRole",
        "mutation($u: ID!) { grantKocRole(userId: $u) { errors { code } } }",
        lambda w: {"u": w["bystander_id"]},
        {"operator"},
    ),
    Case(
        "revokeKocRole",
        "mutation($u: ID!) { revokeKocRole(userId: $u) { errors { code } } }",
        lambda w: {"u": w["bystander_id"]},
        {"operator"},
    ),
    Case(
        "createFactory",
        'mutation { createFactory(input: {name: "New"}) { errors { code } } }',
        lambda w: {},
        {"operator"},
    ),
    Case(
        "updateFactory",
        """mutation($f: ID!) { updateFactory(factoryId: $f, input: {contact: "x"}) {
          errors { code } } }""",
        lambda w: {"f": w["factory_id"]},
        {"operator"},
    ),
    Case(
        "createFactoryApiKey",
        "mutation($f: ID!) { createFactoryApiKey(factoryId: $f) { errors { code } } }",
        lambda w: {"f": w["factory_id"]},
        {"operator"},
    ),
    Case(
        "revokeFactoryApiKey",
        "mutation($k: ID!) { revokeFactoryApiKey(keyId: $k) { errors { code } } }",
        lambda w: {"k": w["spare_key_id"]},
        {"operator"},
    ),
    Case(
        "createCommunity",
        'mutation { createCommunity(input: {name: "Another"}) { errors { code } } }',
        lambda w: {},
        {"koc", "other_koc", "operator"},
    ),
    Case(
        "updateCommunity",
        'mutation($c: ID!) { updateCommunity(communityId: $c, input: {name: "Renamed"}) { '
        "errors { code } } }",
        lambda w: {"c": w["community"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "joinCommunity",
        "mutation($t: String!) { joinCommunity(inviteCode: $t) { errors { code } } }",
        lambda w: {"t": w["spare_invite"]},
        SIGNED_IN,
    ),
    Case(
        "leaveCommunity",
        "mutation($c: ID!) { leaveCommunity(communityId: $c) { errors { code } } }",
        lambda w: {"c": w["spare_community"]},
        SIGNED_IN,  # each signed-in role joined it just above (its KOC cannot leave: not a refusal)
    ),
    Case(
        "removeCommunityMember",
        """mutation($c: ID!, $u: ID!) { removeCommunityMember(communityId: $c, userId: $u) {
          errors { code } } }""",
        lambda w: {"c": w["community"], "u": w["victim_id"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "updateMemberProfile",
        "mutation { updateMemberProfile(input: {heightCm: 160}) { errors { code } } }",
        lambda w: {},
        SIGNED_IN,
    ),
    Case(
        "createPoll",
        "mutation($i: PollInput!) { createPoll(input: $i) { errors { code } } }",
        lambda w: {"i": poll_input([w["community"]])},
        KOC_AND_OPERATOR,
    ),
    Case(
        "updatePoll",
        "mutation($p: ID!, $i: PollInput!) { updatePoll(pollId: $p, input: $i) { "
        "errors { code } } }",
        lambda w: {"p": w["draft_poll"], "i": poll_input([w["community"]])},
        KOC_AND_OPERATOR,
    ),
    Case(
        "publishPoll",
        "mutation($p: ID!) { publishPoll(pollId: $p) { errors { code } } }",
        lambda w: {"p": w["draft_poll_to_publish"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "cancelPoll",
        "mutation($p: ID!) { cancelPoll(pollId: $p) { errors { code } } }",
        lambda w: {"p": w["draft_poll_to_cancel"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "closePoll",
        "mutation($p: ID!) { closePoll(pollId: $p) { errors { code } } }",
        lambda w: {"p": w["poll_to_close"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "castVote",
        VOTE,
        lambda w: {"p": w["open_poll"], "o": [w["voted_option"]]},
        {"member"},
    ),
    Case(
        "createDrop",
        "mutation($i: DropInput!) { createDrop(input: $i) { errors { code } } }",
        lambda w: {"i": drop_input([w["community"]])},
        KOC_AND_OPERATOR,
    ),
    Case(
        "updateDrop",
        "mutation($d: ID!, $i: DropInput!) { updateDrop(dropId: $d, input: $i) { "
        "errors { code } } }",
        lambda w: {"d": w["draft_drop"], "i": drop_input([w["community"]])},
        KOC_AND_OPERATOR,
    ),
    Case(
        "publishDrop",
        "mutation($d: ID!) { publishDrop(dropId: $d) { errors { code } } }",
        lambda w: {"d": w["draft_drop_to_publish"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "closeDrop",
        "mutation($d: ID!) { closeDrop(dropId: $d) { errors { code } } }",
        lambda w: {"d": w["drop_to_close"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "settleDrop",
        "mutation($d: ID!) { settleDrop(dropId: $d) { errors { code } } }",
        lambda w: {"d": w["batch_drop"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "cancelDrop",
        "mutation($d: ID!) { cancelDrop(dropId: $d) { errors { code } } }",
        lambda w: {"d": w["drop_to_cancel"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "assignFactories",
        "mutation($d: ID!, $f: [ID!]!) { assignFactories(dropId: $d, factoryIds: $f) { "
        "errors { code } } }",
        lambda w: {"d": w["open_drop"], "f": [w["factory_id"]]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "placePreorder",
        """mutation($d: ID!, $v: ID!, $k: String!) { placePreorder(dropId: $d,
          lines: [{variantId: $v, quantity: 1}], idempotencyKey: $k,
          shippingAddress: {name: "Li", phone: "13800000000", region: "Hangzhou", detail: "1"}) {
          errors { code } } }""",
        lambda w: {"d": w["open_drop"], "v": w["variant"], "k": f"k{next(w['counter'])}"},
        {"member"},
    ),
    Case(
        "openTeam",
        """mutation($d: ID!, $v: ID!, $k: String!) { openTeam(dropId: $d,
          lines: [{variantId: $v, quantity: 1}], idempotencyKey: $k,
          shippingAddress: {name: "Li", phone: "13800000000", region: "Hangzhou", detail: "1"}) {
          errors { code } } }""",
        lambda w: {"d": w["team_drop"], "v": w["team_variant"], "k": f"k{next(w['counter'])}"},
        {"member"},
    ),
    Case(
        "joinTeam",
        """mutation($t: String!, $v: ID!, $k: String!) { joinTeam(shareToken: $t,
          lines: [{variantId: $v, quantity: 1}], idempotencyKey: $k,
          shippingAddress: {name: "Li", phone: "13800000000", region: "Hangzhou", detail: "1"}) {
          errors { code } } }""",
        lambda w: {"t": w["share_token"], "v": w["team_variant"], "k": f"k{next(w['counter'])}"},
        {"member"},  # ALREADY_IN_TEAM for the member who opened it: not a refusal of who
    ),
    Case(
        "recordReferral",
        "mutation($d: ID!, $c: String!) { recordReferral(dropId: $d, referralCode: $c) { "
        "errors { code } } }",
        lambda w: {"d": w["open_drop"], "c": w["victim_code"]},
        {"member", "koc", "operator"},  # whoever sees the drop
    ),
    Case(
        "payReferralRewards",
        "mutation($u: ID!) { payReferralRewards(userId: $u, amountFen: 1, "
        'idempotencyKey: "k") { errors { code } } }',
        lambda w: {"u": w["victim_id"]},
        {"operator"},  # INSUFFICIENT_BALANCE for them: not a refusal of who
    ),
    Case(
        "voidBallots",
        'mutation($p: ID!, $u: ID!) { voidBallots(pollId: $p, userIds: [$u], reason: "x") '
        "{ errors { code } } }",
        lambda w: {"p": w["open_poll"], "u": w["victim_id"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "restoreBallots",
        "mutation($p: ID!, $u: ID!) { restoreBallots(pollId: $p, userIds: [$u]) "
        "{ errors { code } } }",
        lambda w: {"p": w["open_poll"], "u": w["victim_id"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "setTryOnMedia",
        "mutation($d: ID!) { setTryOnMedia(dropId: $d, media: []) { errors { code } } }",
        lambda w: {"d": w["sampled_drop"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "createMediaUpload",
        "mutation($d: ID!) { createMediaUpload(input: {dropId: $d, kind: VIDEO, sizeBytes: 99}) "
        "{ errors { code } } }",
        lambda w: {"d": w["sampled_drop"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "completeMediaUpload",
        "mutation($u: ID!) { completeMediaUpload(uploadId: $u) { errors { code } } }",
        lambda w: {"u": w["upload"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "requestSample",
        "mutation($d: ID!, $f: ID!) { requestSample(dropId: $d, factoryId: $f) "
        "{ errors { code } } }",
        lambda w: {"d": w["sampled_drop"], "f": w["factory_id"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "acceptSample",
        "mutation($s: ID!) { acceptSample(sampleId: $s) { errors { code } } }",
        lambda w: {"s": w["sample"]},
        FACTORY,
    ),
    Case(
        "shipSample",
        'mutation($s: ID!) { shipSample(sampleId: $s, carrier: "SF", trackingNumber: "SF1") '
        "{ errors { code } } }",
        lambda w: {"s": w["sample"]},
        FACTORY,
    ),
    Case(
        "confirmSampleReceived",
        "mutation($s: ID!) { confirmSampleReceived(sampleId: $s) { errors { code } } }",
        lambda w: {"s": w["sample"]},
        KOC_AND_OPERATOR,
    ),
    Case(
        "payOrder",
        "mutation($o: ID!) { payOrder(orderId: $o) { errors { code } } }",
        lambda w: {"o": w["order"]},
        {"member"},
    ),
    Case(
        "confirmDelivery",
        "mutation($o: ID!) { confirmDelivery(orderId: $o) { errors { code } } }",
        lambda w: {"o": w["order"]},
        {"member"},
    ),
    Case(
        "cancelOrder",
        "mutation($o: ID!) { cancelOrder(orderId: $o) { errors { code } } }",
        lambda w: {"o": w["order_to_cancel"]},
        {"member", "operator"},
    ),
    Case(
        "markNotificationsRead",
        "mutation { markNotificationsRead { errors { code } } }",
        lambda w: {},
        SIGNED_IN,
    ),
    Case("setNotificationOptOut", OPT, lambda w: {"k": "DROP_OPENED"}, SIGNED_IN),
    Case(
        "acceptBatch",
        "mutation($b: ID!) { acceptBatch(batchId: $b) { errors { code } } }",
        lambda w: {"b": w["batch"]},
        FACTORY,
    ),
    Case(
        "reportProgress",
        "mutation($b: ID!) { reportProgress(batchId: $b, stage: CUTTING) { errors { code } } }",
        lambda w: {"b": w["batch"]},
        FACTORY,
    ),
    Case(
        "shipBatch",
        """mutation($b: ID!, $v: ID!) { shipBatch(batchId: $b, carrier: "SF",
          trackingNumber: "SF1", quantities: [{variantId: $v, quantity: 1}]) {
          errors { code } } }""",
        lambda w: {"b": w["batch"], "v": w["batch_variant"]},
        FACTORY,
    ),
]

SUBSCRIPTIONS = [
    Case(
        "pollResults",
        "subscription($p: ID!) { pollResults(pollId: $p) { totalVoters } }",
        lambda w: {"p": w["open_poll"]},
        {"member", "koc", "operator"},
    ),
    Case(
        "dropProgress",
        "subscription($d: ID!) { dropProgress(dropId: $d) { totalQuantity } }",
        lambda w: {"d": w["open_drop"]},
        {"member", "koc", "operator"},
    ),
    Case(
        "teamProgress",
        "subscription($t: String!) { teamProgress(shareToken: $t) { seatsTaken } }",
        lambda w: {"t": w["share_token"]},
        SIGNED_IN,
    ),
    Case(
        "orderUpdates",
        "subscription($o: ID!) { orderUpdates(orderId: $o) { status } }",
        lambda w: {"o": w["order"]},
        {"member", "operator"},
    ),
]


def _schema_fields() -> dict[str, set[str]]:
    text = (Path(__file__).resolve().parents[2] / "schema.graphql").read_text()
    from graphql import build_schema

    schema = build_schema(text)
    out: dict[str, set[str]] = {}
    for kind, t in (
        ("query", schema.query_type),
        ("mutation", schema.mutation_type),
        ("subscription", schema.subscription_type),
    ):
        assert t is not None
        out[kind] = set(t.fields)
    return out


def test_every_field_has_rows() -> None:
    fields = _schema_fields()
    covered = {
        "query": {c.field for c in QUERIES},
        "mutation": {c.field for c in MUTATIONS},
        "subscription": {c.field for c in SUBSCRIPTIONS},
    }
    for kind, names in fields.items():
        assert names - covered[kind] == set(), f"{kind} fields without access rows"
        assert covered[kind] - names == set(), f"rows for {kind} fields that do not exist"
    for case in QUERIES + MUTATIONS + SUBSCRIPTIONS:
        assert case.allow <= EVERYONE, case.name


# -- the checks ---------------------------------------------------------------------------------


def _verdict(case: Case, kind: str, body: dict[str, Any], world: World) -> str:
    errors = body.get("errors") or []
    codes = {(e.get("extensions") or {}).get("code") for e in errors}
    assert codes <= REFUSALS | {None}, f"{case.name}: unexpected errors {errors}"
    if codes & REFUSALS:
        return "deny"
    assert not errors, f"{case.name}: {errors}"
    data = body["data"]
    if kind == "mutation":
        payload_codes = {e["code"] for e in data[case.field]["errors"]}
        return "deny" if payload_codes & REFUSALS else "allow"
    if case.seen is not None:
        return "allow" if case.seen(data, world) else "deny"
    return "allow"


async def _run(client: GraphQLClient, scene: Scene, cases: list[Case], kind: str) -> list[str]:
    wrong = []
    for case in cases:
        # Refusals first: a refused call changes nothing, so the allowed ones still find the
        # targets in the state the rows were written for.
        for role in sorted(case.roles, key=lambda r: r in case.allow):
            world = scene.worlds[role]
            resp = await client.post(
                {"query": case.doc, "variables": case.variables(world)},
                token=scene.tokens[role] or "",
            )
            assert resp.status_code == 200, (case.name, role, resp.text)
            got = _verdict(case, kind, resp.json(), world)
            want = "allow" if role in case.allow else "deny"
            if got != want:
                wrong.append(f"{case.name} as {role}: {got}, expected {want}")
    return wrong


async def _subscribe(app: Any, token: str | None, case: Case, world: World) -> str:
    async with httpx.AsyncClient(
        transport=ASGIWebSocketTransport(app), base_url="http://c2m.test"
    ) as ws_http:
        async with aconnect_ws("/graphql", ws_http, subprotocols=["graphql-transport-ws"]) as ws:
            init: dict[str, Any] = {"type": "connection_init"}
            if token:
                init["payload"] = {"Authorization": f"Bearer {token}"}
            await ws.send_json(init)
            assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
            await ws.send_json(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": case.doc, "variables": case.variables(world)},
                }
            )
            msg = await ws.receive_json(timeout=5)
            if msg["type"] == "error":
                errors = msg["payload"]
            else:
                assert msg["type"] == "next", msg
                errors = msg["payload"].get("errors") or []
            codes = {(e.get("extensions") or {}).get("code") for e in errors}
            assert codes <= REFUSALS, (case.name, msg)
            return "deny" if codes else "allow"


async def test_access_matrix(
    app: Any, client: GraphQLClient, scene: Scene, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    wrong = await _run(client, scene, QUERIES, "query")
    wrong += await _run(client, scene, MUTATIONS, "mutation")
    for case in SUBSCRIPTIONS:
        for role in ROLES:
            got = await _subscribe(app, scene.tokens[role], case, scene.worlds[role])
            want = "allow" if role in case.allow else "deny"
            if got != want:
                wrong.append(f"{case.name} as {role}: {got}, expected {want}")
    assert wrong == [], "\n".join(wrong)
    traces = [r for r in caplog.records if r.exc_info or re.search(r"Traceback", r.getMessage())]
    assert traces == [], [r.getMessage() for r in traces]
