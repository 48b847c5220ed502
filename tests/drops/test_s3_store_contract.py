"""The S3 media store against a local S3 server (moto's, a real HTTP server on 127.0.0.1): the
presigned PUT a mini-program uses, the size and first bytes completion reads, the server-side
copy that publishes with the type we determined, and the whole upload flow through GraphQL with
the store configured; an unreachable store is a retriable UNAVAILABLE, never a success."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from moto.server import ThreadedMotoServer

from domain.drops.storage import S3MediaStore, StoreUnavailable
from infra.config import Settings
from tests.conftest import GraphQLClient
from tests.drops.test_uploads import COMPLETE, CREATE, SET_MEDIA, _draft, png

BUCKET = "c2m-media"
PUBLIC_MEDIA = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{BUCKET}/media/*"],
        }
    ],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"127.0.0.1:{port}"
    store = _store(endpoint)
    store.client.make_bucket(BUCKET)
    # What docs/operations.md asks of a production bucket: media/ readable by anyone.
    store.client.set_bucket_policy(BUCKET, json.dumps(PUBLIC_MEDIA))
    try:
        yield endpoint
    finally:
        server.stop()


def _store(endpoint: str) -> S3MediaStore:
    return S3MediaStore(
        endpoint, BUCKET, "test-key", "test-secret", region="us-east-1", secure=False, timeout=2
    )


@pytest.fixture
def settings(settings: Settings, s3_endpoint: str) -> Settings:
    return settings.model_copy(
        update={
            "s3_endpoint": s3_endpoint,
            "s3_bucket": BUCKET,
            "s3_access_key": "test-key",
            "s3_secret_key": "test-secret",
            "s3_secure": False,
        }
    )


async def test_the_store_speaks_s3(s3_endpoint: str) -> None:
    store = _store(s3_endpoint)
    body = png()
    target = store.upload_target("incoming/abc", 1024, timedelta(minutes=5))
    assert target.method == "PUT" and "X-Amz-Signature=" in target.url
    async with httpx.AsyncClient() as http:
        assert (await http.put(target.url, content=body)).status_code == 200
        assert await store.size_and_head("incoming/abc") == (len(body), body)
        assert await store.size_and_head("incoming/nothing") is None

        await store.publish("incoming/abc", "media/abc.png", "image/png")
        served = await http.get(store.public_url("media/abc.png"))
        assert served.status_code == 200 and served.content == body
        assert served.headers["content-type"] == "image/png"
        # What has not been checked is not served.
        assert (await http.get(store.public_url("incoming/abc"))).status_code == 403

    await store.delete("incoming/abc")
    assert await store.size_and_head("incoming/abc") is None

    # Nobody listening: a typed, retriable failure.
    gone = _store(f"127.0.0.1:{_free_port()}")
    with pytest.raises(StoreUnavailable):
        await gone.size_and_head("incoming/abc")


async def test_an_upload_through_the_api_lands_in_the_bucket(
    client: GraphQLClient, operator_token: str, s3_endpoint: str
) -> None:
    kt, _, drop = await _draft(client, operator_token)
    body = png(4, 4)
    made = (
        await client.query(
            CREATE, {"i": {"dropId": drop, "kind": "IMAGE", "sizeBytes": len(body)}}, token=kt
        )
    )["createMediaUpload"]["upload"]
    assert made["uploadUrl"].startswith(f"http://{s3_endpoint}/{BUCKET}/incoming/")
    async with httpx.AsyncClient() as http:  # the mini-program, straight to the bucket
        assert (await http.put(made["uploadUrl"], content=body)).status_code == 200
        done = (await client.query(COMPLETE, {"u": made["id"]}, token=kt))["completeMediaUpload"]
        assert done["errors"] == [] and done["upload"]["contentType"] == "image/png"
        url = done["upload"]["url"]
        assert url.startswith(f"http://{s3_endpoint}/{BUCKET}/media/") and url.endswith(".png")
        served = await http.get(url)
        assert served.content == body and served.headers["content-type"] == "image/png"
    out = await client.query(
        SET_MEDIA, {"d": drop, "m": [{"kind": "IMAGE", "uploadId": made["id"]}]}, token=kt
    )
    assert out["setTryOnMedia"]["drop"]["tryOnMedia"][0]["url"] == url
