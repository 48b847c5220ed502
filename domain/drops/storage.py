"""Where uploaded try-on photos and videos live: the media store port and its two adapters.

An upload is two-phase, like S3's presigned uploads everywhere: the client is handed a
short-lived URL to PUT the bytes to (never through the GraphQL endpoint), the object lands
under ``incoming/``, and only when the KOC completes the upload do we read the object's first
bytes, decide its type ourselves (magic bytes; the client's content type is never trusted),
check its size, and publish it under ``media/`` with the type we found. Nothing under
``incoming/`` is ever served.

``S3MediaStore`` speaks the S3 API (AWS S3, MinIO, Aliyun OSS and Tencent COS in their S3
modes) through the MinIO client: presigned PUTs for the upload, server-side copy to publish.
``LocalMediaStore`` is the embedded default: files under the data dir, uploads PUT to our own
``/media/uploads/{token}`` route with a signed, expiring token, files served at ``/media/``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

from domain.signing import SignedClaims

INCOMING = "incoming/"
PUBLISHED = "media/"
SNIFF_BYTES = 512
T = TypeVar("T")


@dataclass(frozen=True)
class UploadTarget:
    """How the client sends the bytes: ``method`` to ``url`` with these headers."""

    url: str
    method: str
    headers: dict[str, str]


class StoreUnavailable(Exception):
    """The object store could not be reached or refused us; retry later."""


class MediaStore(Protocol):
    def upload_target(self, key: str, max_bytes: int, expires: timedelta) -> UploadTarget: ...

    async def size_and_head(self, key: str) -> tuple[int, bytes] | None:
        """The object's size and its first bytes, or None when there is no such object."""

    async def publish(self, key: str, published_key: str, content_type: str) -> None:
        """Copy an incoming object to where it is served, with the type we determined."""

    async def delete(self, key: str) -> None: ...

    def public_url(self, published_key: str) -> str: ...

    async def aclose(self) -> None: ...


class S3MediaStore:
    """An S3-compatible bucket. The bucket serves ``media/`` publicly (a bucket policy or a
    CDN in front); ``incoming/`` stays private and is best given a one-day expiry rule."""

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        *,
        region: str,
        secure: bool = True,
        public_base_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        import urllib3
        from minio import Minio

        self.bucket = bucket
        scheme = "https" if secure else "http"
        self.base = (public_base_url or f"{scheme}://{endpoint}/{bucket}").rstrip("/")
        self.client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,  # known up front: presigning needs no round trip
            http_client=urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
                retries=urllib3.Retry(total=2, backoff_factor=0.2),
            ),
        )

    def upload_target(self, key: str, max_bytes: int, expires: timedelta) -> UploadTarget:
        url = self.client.presigned_put_object(self.bucket, key, expires=expires)
        return UploadTarget(url=url, method="PUT", headers={})

    async def _call(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        from minio.error import MinioException
        from urllib3.exceptions import HTTPError

        try:
            return await asyncio.to_thread(fn, *args, **kw)
        except (MinioException, HTTPError, OSError) as exc:  # refused, or not reached
            raise StoreUnavailable(str(exc)) from exc

    async def size_and_head(self, key: str) -> tuple[int, bytes] | None:
        from minio.error import S3Error

        def read() -> tuple[int, bytes] | None:
            try:
                stat = self.client.stat_object(self.bucket, key)
            except S3Error as exc:
                if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                    return None
                raise
            size = int(stat.size or 0)
            if size == 0:
                return 0, b""
            response = self.client.get_object(
                self.bucket, key, offset=0, length=min(size, SNIFF_BYTES)
            )
            try:
                return size, response.read()
            finally:
                response.close()
                response.release_conn()

        return await self._call(read)

    async def publish(self, key: str, published_key: str, content_type: str) -> None:
        from minio.commonconfig import REPLACE, CopySource

        await self._call(
            self.client.copy_object,
            self.bucket,
            published_key,
            CopySource(self.bucket, key),
            metadata={
                "Content-Type": content_type,
                "Cache-Control": "public, max-age=31536000, immutable",
            },
            metadata_directive=REPLACE,
        )

    async def delete(self, key: str) -> None:
        await self._call(self.client.remove_object, self.bucket, key)

    def public_url(self, published_key: str) -> str:
        return f"{self.base}/{published_key}"

    async def aclose(self) -> None:
        return None


class UploadRejected(Exception):
    """A local upload whose token is bad or expired, or whose body is over its limit."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LocalMediaStore:
    """Files under ``<data dir>/media-store``; uploads arrive at ``/media/uploads/{token}``
    (a signed, expiring token naming the key and the byte limit) and published files are
    served at ``/media/{key}`` by the API process itself. One machine only: with several
    machines, configure an S3 bucket."""

    UPLOAD_PATH = "/media/uploads/"
    FILES_PATH = "/"  # published keys start with "media/"

    def __init__(self, root: Path, secret: str, base_url: str | None) -> None:
        self.root = root
        self.tokens = SignedClaims(secret, "media uploads")
        self.base = (base_url or "").rstrip("/")

    def path_of(self, key: str) -> Path:
        # Keys are made by us (a prefix and a random hex name), never taken from a client.
        return self.root / key

    def upload_target(self, key: str, max_bytes: int, expires: timedelta) -> UploadTarget:
        token = self.tokens.sign({"k": key, "m": max_bytes}, expires.total_seconds())
        return UploadTarget(url=f"{self.base}{self.UPLOAD_PATH}{token}", method="PUT", headers={})

    def upload_claims(self, token: str) -> tuple[str, int]:
        """The key and byte limit a token grants, or UploadRejected."""
        claims = self.tokens.read(token) or {}
        key, limit = claims.get("k"), claims.get("m")
        if not (isinstance(key, str) and key.startswith(INCOMING) and isinstance(limit, int)):
            raise UploadRejected(403, "This upload link is not valid or has expired.")
        return key, limit

    async def receive(self, key: str, limit: int, chunks: AsyncIterator[bytes]) -> int:
        """Write an upload's body, stopping (and keeping nothing) past ``limit`` bytes."""
        target = self.path_of(key)
        partial = target.with_name(target.name + f".{os.getpid()}.{id(chunks)}.part")
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        written = 0
        handle = await asyncio.to_thread(partial.open, "wb")
        try:
            async for chunk in chunks:
                written += len(chunk)
                if written > limit:
                    raise UploadRejected(413, f"The file is larger than {limit} bytes.")
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(os.replace, partial, target)
        except BaseException:
            handle.close()
            partial.unlink(missing_ok=True)
            raise
        return written

    async def size_and_head(self, key: str) -> tuple[int, bytes] | None:
        def read() -> tuple[int, bytes] | None:
            try:
                with self.path_of(key).open("rb") as f:
                    return os.fstat(f.fileno()).st_size, f.read(SNIFF_BYTES)
            except FileNotFoundError:
                return None

        return await asyncio.to_thread(read)

    async def publish(self, key: str, published_key: str, content_type: str) -> None:
        def copy() -> None:
            source, target = self.path_of(key), self.path_of(published_key)
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_name(target.name + f".{os.getpid()}.part")
            with source.open("rb") as src, temp.open("wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
            os.replace(temp, target)  # the served name appears whole or not at all

        try:
            await asyncio.to_thread(copy)
        except FileNotFoundError as exc:
            raise StoreUnavailable("the uploaded file disappeared") from exc

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path_of(key).unlink, missing_ok=True)

    def public_url(self, published_key: str) -> str:
        return f"{self.base}{self.FILES_PATH}{published_key}"

    async def aclose(self) -> None:
        return None
