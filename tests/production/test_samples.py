"""Samples (打样) through the API: a KOC asks a factory for a sample of a draft drop, the factory
sees it in its feed, accepts and ships it, the KOC confirms receipt, and the drop page shows it;
every step repeatable, every skipped step and stranger refused."""

from __future__ import annotations

from tests.conftest import GraphQLClient
from tests.helpers import CREATE_DROP, PUBLISH_DROP, drop_input, make_community, make_koc, members
from tests.server.conftest import _factory

REQUEST = """mutation($d: ID!, $f: ID!) { requestSample(dropId: $d, factoryId: $f,
  note: "size M, linen") { sample { id status note } errors { code field } } }"""
ACCEPT = (
    """mutation($s: ID!) { acceptSample(sampleId: $s) { sample { status } errors { code } } }"""
)
SHIP = """mutation($s: ID!) { shipSample(sampleId: $s, carrier: "SF", trackingNumber: "SF123") {
  sample { status carrier trackingNumber } errors { code } } }"""
CONFIRM = """mutation($s: ID!) { confirmSampleReceived(sampleId: $s) { sample { status receivedAt }
  errors { code } } }"""
FEED = "{ sampleRequests(first: 10) { nodes { id status dropId } pageInfo { endCursor } } }"
PAGE = "query($d: ID!) { node(id: $d) { ... on Drop { sample { status trackingNumber } } } }"


async def test_a_sample_goes_from_request_to_receipt(
    client: GraphQLClient, operator_token: str
) -> None:
    koc = await make_koc(client, operator_token)
    kt = koc["accessToken"]
    community = await make_community(client, kt)
    (member,) = await members(client, community["inviteCode"], 1, prefix="smp")
    factory, _, key = await _factory(client, operator_token, "Sampler")
    other, _, other_key = await _factory(client, operator_token, "Other")
    drop = (await client.query(CREATE_DROP, {"i": drop_input([community["id"]])}, token=kt))[
        "createDrop"
    ]["drop"]

    asked = (await client.query(REQUEST, {"d": drop["id"], "f": factory}, token=kt))[
        "requestSample"
    ]
    assert asked["errors"] == [] and asked["sample"]["status"] == "REQUESTED"
    sid = asked["sample"]["id"]
    again = await client.query(REQUEST, {"d": drop["id"], "f": factory}, token=kt)
    assert again["requestSample"]["sample"]["id"] == sid  # a retry: the same request
    elsewhere = await client.query(REQUEST, {"d": drop["id"], "f": other}, token=kt)
    assert elsewhere["requestSample"]["errors"][0]["code"] == "CONFLICT"
    by_member = await client.query(REQUEST, {"d": drop["id"], "f": factory}, token=member)
    assert by_member["requestSample"]["errors"][0]["code"] == "NOT_FOUND"

    feed = (await client.query(FEED, token=key))["sampleRequests"]["nodes"]
    assert feed == [{"id": sid, "status": "REQUESTED", "dropId": drop["id"]}]
    assert (await client.query(FEED, token=other_key))["sampleRequests"]["nodes"] == []
    early = await client.query(SHIP, {"s": sid}, token=key)
    assert early["shipSample"]["errors"] == [{"code": "INVALID_TRANSITION"}]
    stranger = await client.query(ACCEPT, {"s": sid}, token=other_key)
    assert stranger["acceptSample"]["errors"] == [{"code": "NOT_FOUND"}]
    for _ in range(2):
        out = await client.query(ACCEPT, {"s": sid}, token=key)
        assert out["acceptSample"] == {"sample": {"status": "SAMPLING"}, "errors": []}
    for _ in range(2):
        out = await client.query(SHIP, {"s": sid}, token=key)
        assert out["shipSample"]["sample"] == {
            "status": "SAMPLE_SHIPPED",
            "carrier": "SF",
            "trackingNumber": "SF123",
        }
    assert (await client.query(CONFIRM, {"s": sid}, token=member))["confirmSampleReceived"][
        "errors"
    ] == [{"code": "NOT_FOUND"}]
    done = (await client.query(CONFIRM, {"s": sid}, token=kt))["confirmSampleReceived"]
    assert done["errors"] == [] and done["sample"]["status"] == "RECEIVED"

    await client.query(PUBLISH_DROP, {"d": drop["id"]}, token=kt)
    page = (await client.query(PAGE, {"d": drop["id"]}, token=member))["node"]
    assert page["sample"] == {"status": "RECEIVED", "trackingNumber": "SF123"}

    published = (await client.query(CREATE_DROP, {"i": drop_input([community["id"]])}, token=kt))[
        "createDrop"
    ]["drop"]
    await client.query(PUBLISH_DROP, {"d": published["id"]}, token=kt)
    late = await client.query(REQUEST, {"d": published["id"], "f": factory}, token=kt)
    assert late["requestSample"]["errors"] == [{"code": "INVALID_TRANSITION", "field": "dropId"}]
    draft = (await client.query(CREATE_DROP, {"i": drop_input([community["id"]])}, token=kt))[
        "createDrop"
    ]["drop"]
    unknown = await client.query(REQUEST, {"d": draft["id"], "f": "RmFjdG9yeTo5OTk5OQ=="}, token=kt)
    assert unknown["requestSample"]["errors"] == [{"code": "NOT_FOUND", "field": "factoryId"}]


SET_MEDIA = """mutation($d: ID!, $m: [TryOnMediaInput!]!) { setTryOnMedia(dropId: $d, media: $m) {
  drop { id tryOnMedia { kind url caption } } errors { code field } } }"""
MEDIA = "query($d: ID!) { node(id: $d) { ... on Drop { tryOnMedia { kind url caption } } } }"


async def test_try_on_media_are_set_on_a_draft_and_shown_on_the_page(
    client: GraphQLClient, operator_token: str
) -> None:
    koc = await make_koc(client, operator_token)
    kt = koc["accessToken"]
    community = await make_community(client, kt)
    (member,) = await members(client, community["inviteCode"], 1, prefix="tryon")
    drop = (await client.query(CREATE_DROP, {"i": drop_input([community["id"]])}, token=kt))[
        "createDrop"
    ]["drop"]
    media = [
        {"kind": "VIDEO", "url": "https://cdn.example/try.mp4", "caption": "155 cm, size S"},
        {"kind": "IMAGE", "url": "https://cdn.example/front.jpg", "caption": "front"},
    ]
    out = (await client.query(SET_MEDIA, {"d": drop["id"], "m": media}, token=kt))["setTryOnMedia"]
    assert out["errors"] == [] and out["drop"]["tryOnMedia"] == media
    for bad, field in (
        ([{"kind": "IMAGE", "url": "http://cdn.example/x.jpg"}], "media[0].url"),
        ([{"kind": "IMAGE", "url": "https://x/y.jpg", "caption": "c" * 201}], "media[0].caption"),
        ([{"kind": "IMAGE", "url": "https://x/y.jpg"}] * 21, "media"),
    ):
        refused = await client.query(SET_MEDIA, {"d": drop["id"], "m": bad}, token=kt)
        assert refused["setTryOnMedia"]["errors"][0]["field"] == field
    by_member = await client.query(SET_MEDIA, {"d": drop["id"], "m": []}, token=member)
    assert by_member["setTryOnMedia"]["errors"][0]["code"] == "NOT_FOUND"
    await client.query(PUBLISH_DROP, {"d": drop["id"]}, token=kt)
    assert (await client.query(MEDIA, {"d": drop["id"]}, token=member))["node"]["tryOnMedia"] == (
        media
    )
    late = await client.query(SET_MEDIA, {"d": drop["id"], "m": []}, token=kt)
    assert late["setTryOnMedia"]["errors"][0]["code"] == "DROP_NOT_EDITABLE"
