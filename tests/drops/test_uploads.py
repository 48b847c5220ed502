"""Try-on media uploads through the API with the embedded store: a KOC asks for an upload URL,
PUTs the bytes, completes the upload (its type read from the bytes, never from the client) and
attaches it to the drop; lies about the type, oversized files, forged links, strangers, retries
and racing completions all end the way a KOC would expect."""

from __future__ import annotations

import asyncio
import struct
import zlib
from typing import Any

import pytest

from domain.drops.uploads import incoming_key
from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.helpers import (
    CREATE_DROP,
    PUBLISH_DROP,
    drop_input,
    make_community,
    make_koc,
    members,
    pk,
    sql,
)
from workers import drops as drop_jobs

CREATE = """mutation($i: MediaUploadInput!) { createMediaUpload(input: $i) {
  upload { id kind status uploadUrl uploadMethod uploadHeaders { name value } maxBytes expiresAt
           contentType sizeBytes url }
  errors { code field message } } }"""
COMPLETE = """mutation($u: ID!) { completeMediaUpload(uploadId: $u) {
  upload { id status contentType sizeBytes url uploadUrl } errors { code field message } } }"""
SET_MEDIA = """mutation($d: ID!, $m: [TryOnMediaInput!]!) { setTryOnMedia(dropId: $d, media: $m) {
  drop { tryOnMedia { kind url caption } } errors { code field } } }"""

LIMIT = 64 * 1024


def png(width: int = 2, height: int = 2) -> bytes:
    """A real (tiny) PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"media_max_image_bytes": LIMIT, "media_max_video_bytes": 4 * LIMIT}
    )


async def _draft(
    client: GraphQLClient, operator_token: str, koc_code: str = "koc"
) -> tuple[str, str, str]:
    koc = await make_koc(client, operator_token, koc_code)
    kt = koc["accessToken"]
    community = await make_community(client, kt)
    (member,) = await members(client, community["inviteCode"], 1, prefix="upl")
    drop = (await client.query(CREATE_DROP, {"i": drop_input([community["id"]])}, token=kt))[
        "createDrop"
    ]["drop"]
    return kt, member, drop["id"]


async def _upload(
    client: GraphQLClient, token: str, drop: str, kind: str, size: int
) -> dict[str, Any]:
    out = (
        await client.query(
            CREATE, {"i": {"dropId": drop, "kind": kind, "sizeBytes": size}}, token=token
        )
    )["createMediaUpload"]
    assert out["errors"] == [], out
    upload: dict[str, Any] = out["upload"]
    return upload


async def test_an_image_is_uploaded_checked_published_and_shown(
    client: GraphQLClient, operator_token: str
) -> None:
    kt, member, drop = await _draft(client, operator_token)
    body = png()
    upload = await _upload(client, kt, drop, "IMAGE", len(body))
    assert upload["status"] == "PENDING" and upload["uploadMethod"] == "PUT"
    assert upload["maxBytes"] == LIMIT and upload["url"] is None
    # The client claims a type; nobody listens to it.
    put = await client.http.put(
        upload["uploadUrl"], content=body, headers={"content-type": "text/html"}
    )
    assert put.status_code == 200, put.text

    done = (await client.query(COMPLETE, {"u": upload["id"]}, token=kt))["completeMediaUpload"]
    assert done["errors"] == []
    ready = done["upload"]
    assert ready["status"] == "READY" and ready["contentType"] == "image/png"
    assert ready["sizeBytes"] == len(body) and ready["uploadUrl"] is None
    served = await client.http.get(ready["url"])
    assert served.status_code == 200 and served.content == body
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    # Completing again (a retry) returns the same upload, published once.
    again = (await client.query(COMPLETE, {"u": upload["id"]}, token=kt))["completeMediaUpload"]
    assert again == done

    media = [
        {"kind": "IMAGE", "uploadId": upload["id"], "caption": "front"},
        {"kind": "IMAGE", "url": "https://cdn.example/back.jpg", "caption": "back"},
    ]
    out = (await client.query(SET_MEDIA, {"d": drop, "m": media}, token=kt))["setTryOnMedia"]
    assert out["errors"] == []
    assert out["drop"]["tryOnMedia"] == [
        {"kind": "IMAGE", "url": ready["url"], "caption": "front"},
        {"kind": "IMAGE", "url": "https://cdn.example/back.jpg", "caption": "back"},
    ]
    # The list sent back as it was read (the upload by its published URL, which the embedded
    # store serves over plain http here) is taken as the same upload.
    resent = [{k: m[k] for k in ("kind", "url", "caption")} for m in out["drop"]["tryOnMedia"]]
    again_set = (await client.query(SET_MEDIA, {"d": drop, "m": resent}, token=kt))["setTryOnMedia"]
    assert (
        again_set["errors"] == [] and again_set["drop"]["tryOnMedia"] == out["drop"]["tryOnMedia"]
    )
    await client.query(PUBLISH_DROP, {"d": drop}, token=kt)
    page = await client.query(
        "query($d: ID!) { node(id: $d) { ... on Drop { tryOnMedia { url } } } }",
        {"d": drop},
        token=member,
    )
    assert page["node"]["tryOnMedia"][0]["url"] == ready["url"]


async def test_the_bytes_decide_the_type_and_a_refused_file_changes_nothing(
    client: GraphQLClient, operator_token: str
) -> None:
    kt, _, drop = await _draft(client, operator_token)
    upload = await _upload(client, kt, drop, "IMAGE", len(HTML))
    # A page posing as a photo: refused, deleted, never served; the upload stays PENDING.
    await client.http.put(upload["uploadUrl"], content=HTML, headers={"content-type": "image/png"})
    refused = (await client.query(COMPLETE, {"u": upload["id"]}, token=kt))["completeMediaUpload"]
    assert refused["upload"] is None
    assert refused["errors"][0]["code"] == "MEDIA_TYPE_NOT_ALLOWED"
    assert refused["errors"][0]["field"] == "uploadId"
    assert "text/html" in refused["errors"][0]["message"]
    # The same link takes a real photo; a video where a photo was asked for is refused too.
    await client.http.put(upload["uploadUrl"], content=MP4)
    video = (await client.query(COMPLETE, {"u": upload["id"]}, token=kt))["completeMediaUpload"]
    assert video["errors"][0]["code"] == "MEDIA_TYPE_NOT_ALLOWED"
    await client.http.put(upload["uploadUrl"], content=JPEG)
    ok = (await client.query(COMPLETE, {"u": upload["id"]}, token=kt))["completeMediaUpload"]
    assert ok["errors"] == [] and ok["upload"]["contentType"] == "image/jpeg"
    assert ok["upload"]["url"].endswith(".jpg")

    # A READY image given as a video is refused by setTryOnMedia.
    wrong = await client.query(
        SET_MEDIA, {"d": drop, "m": [{"kind": "VIDEO", "uploadId": upload["id"]}]}, token=kt
    )
    assert wrong["setTryOnMedia"]["errors"] == [{"code": "INVALID_INPUT", "field": "media[0].kind"}]
    both = await client.query(
        SET_MEDIA,
        {"d": drop, "m": [{"kind": "IMAGE", "uploadId": upload["id"], "url": "https://x/y.jpg"}]},
        token=kt,
    )
    assert both["setTryOnMedia"]["errors"] == [{"code": "INVALID_INPUT", "field": "media[0]"}]


async def test_size_limits_hold_at_every_step(client: GraphQLClient, operator_token: str) -> None:
    kt, _, drop = await _draft(client, operator_token)
    over = await client.query(
        CREATE, {"i": {"dropId": drop, "kind": "IMAGE", "sizeBytes": LIMIT + 1}}, token=kt
    )
    assert over["createMediaUpload"]["errors"][0]["code"] == "MEDIA_TOO_LARGE"
    assert over["createMediaUpload"]["errors"][0]["field"] == "sizeBytes"
    for size in (0, -5):
        bad = await client.query(
            CREATE, {"i": {"dropId": drop, "kind": "IMAGE", "sizeBytes": size}}, token=kt
        )
        assert bad["createMediaUpload"]["errors"][0]["code"] == "INVALID_INPUT"
    # A video may be larger than a photo.
    await _upload(client, kt, drop, "VIDEO", 2 * LIMIT)

    # The client declares a small file and sends a big one: the upload route stops it, by its
    # Content-Length or while streaming, and keeps nothing.
    upload = await _upload(client, kt, drop, "IMAGE", 100)
    big = png() + b"\x00" * LIMIT
    refused = await client.http.put(upload["uploadUrl"], content=big)
    assert refused.status_code == 413

    async def chunks() -> Any:
        for _ in range(LIMIT // 1024 + 2):
            yield b"\x00" * 1024

    streamed = await client.http.put(upload["uploadUrl"], content=chunks())
    assert streamed.status_code == 413
    nothing = (await client.query(COMPLETE, {"u": upload["id"]}, token=kt))["completeMediaUpload"]
    assert nothing["errors"][0]["code"] == "UPLOAD_INCOMPLETE"
    # Larger than the general body limit (256 KiB) is fine on the upload route for a video.
    video = await _upload(client, kt, drop, "VIDEO", 3 * LIMIT)
    sent = await client.http.put(video["uploadUrl"], content=MP4 + b"\x00" * (3 * LIMIT - 100))
    assert sent.status_code == 200


async def test_links_and_uploads_belong_to_their_drop_and_its_koc(
    client: GraphQLClient, operator_token: str
) -> None:
    kt, member, drop = await _draft(client, operator_token)
    other_kt, _, other_drop = await _draft(client, operator_token, "koc-2")
    upload = await _upload(client, kt, drop, "IMAGE", 100)

    # Forged or altered links are refused; a completion before the bytes arrive is typed.
    for forged in ("/media/uploads/not-a-token", upload["uploadUrl"][:-3] + "abc"):
        assert (await client.http.put(forged, content=JPEG)).status_code == 403
    early = (await client.query(COMPLETE, {"u": upload["id"]}, token=kt))["completeMediaUpload"]
    assert early["errors"][0]["code"] == "UPLOAD_INCOMPLETE"
    await client.http.put(upload["uploadUrl"], content=JPEG)

    # A member, another KOC and a stranger's id see nothing.
    for token in (member, other_kt):
        out = await client.query(COMPLETE, {"u": upload["id"]}, token=token)
        assert out["completeMediaUpload"]["errors"][0]["code"] == "NOT_FOUND"
        made = await client.query(
            CREATE, {"i": {"dropId": drop, "kind": "IMAGE", "sizeBytes": 10}}, token=token
        )
        assert made["createMediaUpload"]["errors"][0]["code"] == "NOT_FOUND"
    missing = await client.query(COMPLETE, {"u": "TWVkaWFVcGxvYWQ6OTk5OTk="}, token=kt)
    assert missing["completeMediaUpload"]["errors"][0]["code"] == "NOT_FOUND"

    # Two tabs complete at once: one publication, the same answer twice.
    first, second = await asyncio.gather(
        client.query(COMPLETE, {"u": upload["id"]}, token=kt),
        client.query(COMPLETE, {"u": upload["id"]}, token=kt),
    )
    assert first == second and first["completeMediaUpload"]["upload"]["status"] == "READY"

    # Another KOC cannot put this upload on their drop; nor can it go on another drop.
    theirs = await client.query(
        SET_MEDIA, {"d": other_drop, "m": [{"kind": "IMAGE", "uploadId": upload["id"]}]},
        token=other_kt,
    )  # fmt: skip
    assert theirs["setTryOnMedia"]["errors"] == [
        {"code": "NOT_FOUND", "field": "media[0].uploadId"}
    ]
    # Published drops take no uploads; unknown files are not served.
    await client.query(PUBLISH_DROP, {"d": drop}, token=kt)
    late = await client.query(
        CREATE, {"i": {"dropId": drop, "kind": "IMAGE", "sizeBytes": 10}}, token=kt
    )
    assert late["createMediaUpload"]["errors"][0]["code"] == "DROP_NOT_EDITABLE"
    for path in ("/media/" + "0" * 32 + ".png", "/media/../secret_key", "/media/x.html"):
        assert (await client.http.get(path)).status_code == 404


async def test_an_upload_never_completed_is_swept_a_day_after_its_link_expired(
    client: GraphQLClient, operator_token: str, settings: Settings, services: Any
) -> None:
    """The worker deletes what arrived for an upload nobody completed, once its link expired a
    day ago, and marks it EXPIRED; a completed upload, and one still in its day, are left."""
    kt, _, drop = await _draft(client, operator_token)
    abandoned = await _upload(client, kt, drop, "IMAGE", len(JPEG))
    assert (await client.http.put(abandoned["uploadUrl"], content=JPEG)).status_code == 200
    recent = await _upload(client, kt, drop, "IMAGE", len(JPEG))
    await client.http.put(recent["uploadUrl"], content=JPEG)
    kept = await _upload(client, kt, drop, "IMAGE", len(JPEG))
    await client.http.put(kept["uploadUrl"], content=JPEG)
    done = (await client.query(COMPLETE, {"u": kept["id"]}, token=kt))["completeMediaUpload"]
    assert done["errors"] == []

    assert await drop_jobs.expire_abandoned_uploads(services) == 0  # nothing is a day old yet
    await _age(settings, [abandoned["id"], kept["id"]], "25 hours")
    await _age(settings, [recent["id"]], "23 hours")
    tokens = {
        r["id"]: r["token"]
        for r in await sql(settings.database_url, "SELECT id, token FROM media_uploads")
    }
    store = services.media_store
    assert await store.size_and_head(incoming_key(tokens[pk(abandoned["id"])])) is not None

    assert await drop_jobs.expire_abandoned_uploads(services) == 1
    assert await drop_jobs.expire_abandoned_uploads(services) == 0  # a rerun changes nothing
    assert await store.size_and_head(incoming_key(tokens[pk(abandoned["id"])])) is None
    assert await store.size_and_head(incoming_key(tokens[pk(recent["id"])])) is not None
    late = (await client.query(COMPLETE, {"u": abandoned["id"]}, token=kt))["completeMediaUpload"]
    assert [e["code"] for e in late["errors"]] == ["UPLOAD_INCOMPLETE"]
    assert "expired" in late["errors"][0]["message"]
    statuses = await sql(settings.database_url, "SELECT id, status FROM media_uploads ORDER BY id")
    assert [r["status"] for r in statuses] == ["EXPIRED", "PENDING", "READY"]
    # The one still in its day completes as usual; the published file is untouched.
    ok = (await client.query(COMPLETE, {"u": recent["id"]}, token=kt))["completeMediaUpload"]
    assert ok["errors"] == [] and ok["upload"]["status"] == "READY"
    assert (await client.http.get(done["upload"]["url"])).content == JPEG


async def _age(settings: Settings, upload_ids: list[str], by: str) -> None:
    """Move uploads' link expiry back by ``by`` (a PostgreSQL interval)."""
    await sql(
        settings.database_url,
        f"UPDATE media_uploads SET expires_at = now() - interval '{by}' WHERE id = ANY($1)",
        [pk(u) for u in upload_ids],
    )


async def test_a_completion_racing_the_sweep_wins_or_loses_whole(
    client: GraphQLClient, operator_token: str, settings: Settings, services: Any
) -> None:
    """The KOC completes an old upload at the moment the sweep takes it: either it is published
    (READY, the file served) or expired (the completion says so, the bytes are gone), never a
    READY upload whose file was deleted."""
    kt, _, drop = await _draft(client, operator_token)
    uploads = []
    for _ in range(4):
        upload = await _upload(client, kt, drop, "IMAGE", len(JPEG))
        await client.http.put(upload["uploadUrl"], content=JPEG)
        uploads.append(upload)
    await _age(settings, [u["id"] for u in uploads], "25 hours")
    outcomes = await asyncio.gather(
        drop_jobs.expire_abandoned_uploads(services),
        *(client.query(COMPLETE, {"u": u["id"]}, token=kt) for u in uploads),
    )
    swept, answers = outcomes[0], [o["completeMediaUpload"] for o in outcomes[1:]]
    published = [a["upload"] for a in answers if not a["errors"]]
    assert all(a["errors"][0]["code"] == "UPLOAD_INCOMPLETE" for a in answers if a["errors"])
    assert swept + len(published) == len(uploads)
    for upload in published:
        assert upload["status"] == "READY"
        assert (await client.http.get(upload["url"])).content == JPEG
    statuses = await sql(settings.database_url, "SELECT status FROM media_uploads")
    assert sorted(r["status"] for r in statuses) == sorted(
        ["READY"] * len(published) + ["EXPIRED"] * swept
    )
