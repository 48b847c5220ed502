"""Uploading try-on photos and videos: a KOC asks for an upload URL for a draft drop, sends the
bytes straight to the store, then completes the upload; completion reads the object's first
bytes, decides the type from them (never from the client), checks the size and publishes the
file. A READY upload is what ``setTryOnMedia`` takes by id.

Completion is idempotent and safe to race: the upload row is locked, a READY upload is
returned as it is, and the published name is fixed by the upload's random token, so a
completion killed after the copy and retried copies to the same name. A refused file (not an
allowed type, or too large) changes nothing but is deleted: the client may PUT another file to
the same link while it lasts.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import puremagic
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.base import utcnow
from domain.drops.lifecycle import owned_for_update
from domain.drops.models import DropStatus, MediaKind, MediaUpload, UploadStatus
from domain.drops.storage import INCOMING, PUBLISHED, MediaStore, StoreUnavailable, UploadTarget
from domain.errors import (
    Conflict,
    ErrorCode,
    InvalidTransition,
    NotFound,
    Unavailable,
    ValidationFailed,
)
from domain.identity.actor import Actor

# What a phone records and a mini-program shows; the type is read from the bytes.
ALLOWED_TYPES: dict[MediaKind, dict[str, str]] = {
    MediaKind.IMAGE: {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"},
    MediaKind.VIDEO: {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm"},
}
UPLOAD_URL_TTL = timedelta(minutes=15)
# An upload never completed is swept this long after its link expired: what arrived is deleted
# from the store and the upload becomes EXPIRED (a late completion is told the link expired).
ABANDONED_AFTER = timedelta(hours=24)
SWEEP_BATCH = 500
MAX_UPLOADS_PER_DROP = 200  # every upload ever asked for, READY or not


@dataclass(frozen=True)
class SizeLimits:
    image_bytes: int
    video_bytes: int

    def of(self, kind: MediaKind) -> int:
        return self.image_bytes if kind is MediaKind.IMAGE else self.video_bytes


@dataclass(frozen=True)
class NewUpload:
    upload: MediaUpload
    target: UploadTarget


def incoming_key(token: str) -> str:
    return f"{INCOMING}{token}"


def detect_type(head: bytes) -> str | None:
    """The media type the bytes say they are (the most confident match), or None."""
    if not head:
        return None
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return None
    best = max(matches, key=lambda m: m.confidence, default=None)
    return best.mime_type if best is not None and best.mime_type else None


async def create_upload(
    session: AsyncSession,
    actor: Actor,
    store: MediaStore,
    limits: SizeLimits,
    drop_id: int,
    kind: MediaKind,
    size_bytes: int,
) -> NewUpload:
    drop, user = await owned_for_update(session, actor, drop_id)
    if drop.status is not DropStatus.DRAFT:
        raise InvalidTransition(
            "Try-on media are uploaded while the drop is a draft.",
            code=ErrorCode.DROP_NOT_EDITABLE,
        )
    limit = limits.of(kind)
    if size_bytes <= 0:
        raise ValidationFailed("sizeBytes must be the file's size in bytes.", field="sizeBytes")
    if size_bytes > limit:
        raise ValidationFailed(
            f"A {kind.value.lower()} may be at most {limit} bytes.",
            field="sizeBytes",
            code=ErrorCode.MEDIA_TOO_LARGE,
            max_bytes=limit,
        )
    count = await session.scalar(
        select(func.count()).select_from(MediaUpload).where(MediaUpload.drop_id == drop_id)
    )
    if (count or 0) >= MAX_UPLOADS_PER_DROP:
        raise Conflict(f"A drop takes at most {MAX_UPLOADS_PER_DROP} uploads.", field="dropId")
    token = secrets.token_hex(16)
    upload = MediaUpload(
        drop_id=drop_id,
        created_by=user.id,
        kind=kind,
        status=UploadStatus.PENDING,
        token=token,
        max_bytes=limit,
        expires_at=utcnow() + UPLOAD_URL_TTL,
    )
    session.add(upload)
    await session.flush()
    return NewUpload(upload, store.upload_target(incoming_key(token), limit, UPLOAD_URL_TTL))


async def _owned_upload(session: AsyncSession, actor: Actor, upload_id: int) -> MediaUpload:
    upload = await session.get(MediaUpload, upload_id)
    if upload is None:
        raise NotFound("No such upload.", field="uploadId")
    # The drop's manager (its KOC, or an operator) and no one else; the drop row is locked
    # first, as every change to its media locks it.
    await owned_for_update(session, actor, upload.drop_id)
    locked = await session.get(MediaUpload, upload_id, with_for_update=True, populate_existing=True)
    assert locked is not None  # uploads are deleted only with their drop
    return locked


def _link_expired() -> InvalidTransition:
    return InvalidTransition(
        "The upload link expired before the file arrived; upload it again.",
        field="uploadId",
        code=ErrorCode.UPLOAD_INCOMPLETE,
    )


async def complete_upload(
    session: AsyncSession, actor: Actor, store: MediaStore, upload_id: int
) -> MediaUpload:
    try:
        upload = await _owned_upload(session, actor, upload_id)
    except NotFound as exc:
        raise NotFound("No such upload.", field="uploadId") from exc
    if upload.status is UploadStatus.READY:
        return upload  # a retry
    if upload.status is UploadStatus.EXPIRED:
        raise _link_expired()
    key = incoming_key(upload.token)
    try:
        found = await store.size_and_head(key)
    except StoreUnavailable as exc:
        raise Unavailable("The media store is briefly unavailable; retry.") from exc
    if found is None:
        if upload.expires_at < utcnow():
            raise _link_expired()
        raise Conflict(
            "The file has not arrived yet: PUT it to the upload URL, then complete.",
            field="uploadId",
            code=ErrorCode.UPLOAD_INCOMPLETE,
        )
    size, head = found
    content_type = detect_type(head)
    extension = ALLOWED_TYPES[upload.kind].get(content_type or "")
    refusal: ValidationFailed | None = None
    if size > upload.max_bytes:
        refusal = ValidationFailed(
            f"The file is {size} bytes; at most {upload.max_bytes} are allowed.",
            field="uploadId",
            code=ErrorCode.MEDIA_TOO_LARGE,
            max_bytes=upload.max_bytes,
        )
    elif extension is None:
        allowed = ", ".join(ALLOWED_TYPES[upload.kind])
        refusal = ValidationFailed(
            f"The file is not an allowed {upload.kind.value.lower()} ({allowed}); its bytes "
            f"say {content_type or 'unknown'}.",
            field="uploadId",
            code=ErrorCode.MEDIA_TYPE_NOT_ALLOWED,
        )
    if refusal is not None:
        # Nothing recorded (the upload stays PENDING, its link still usable until it
        # expires); the refused bytes are dropped so that they can never be published.
        try:
            await store.delete(key)
        except StoreUnavailable:
            pass  # incoming/ is never served; the store's expiry rule removes it
        raise refusal
    assert content_type is not None and extension is not None
    published = f"{PUBLISHED}{upload.token}.{extension}"
    try:
        await store.publish(key, published, content_type)
    except StoreUnavailable as exc:
        raise Unavailable("The media store is briefly unavailable; retry.") from exc
    upload.status = UploadStatus.READY
    upload.size_bytes = size
    upload.content_type = content_type
    upload.url = store.public_url(published)
    upload.completed_at = utcnow()
    await session.flush()
    return upload


async def ready_uploads(
    session: AsyncSession, drop_id: int, upload_ids: set[int]
) -> dict[int, MediaUpload]:
    """The READY uploads of this drop among ``upload_ids`` (others are simply absent)."""
    if not upload_ids:
        return {}
    rows = await session.scalars(
        select(MediaUpload).where(
            MediaUpload.id.in_(upload_ids),
            MediaUpload.drop_id == drop_id,
            MediaUpload.status == UploadStatus.READY,
        )
    )
    return {u.id: u for u in rows}


async def ready_uploads_by_url(
    session: AsyncSession, drop_id: int, urls: set[str]
) -> dict[str, MediaUpload]:
    """The READY uploads of this drop published at one of ``urls``."""
    if not urls:
        return {}
    rows = await session.scalars(
        select(MediaUpload).where(
            MediaUpload.url.in_(urls),
            MediaUpload.drop_id == drop_id,
            MediaUpload.status == UploadStatus.READY,
        )
    )
    return {u.url: u for u in rows if u.url is not None}


async def due_to_expire(session: AsyncSession) -> list[int]:
    """PENDING uploads whose link expired more than ``ABANDONED_AFTER`` ago, oldest first."""
    rows = await session.execute(
        select(MediaUpload.id)
        .where(
            MediaUpload.status == UploadStatus.PENDING,
            MediaUpload.expires_at < utcnow() - ABANDONED_AFTER,
        )
        .order_by(MediaUpload.expires_at)
        .limit(SWEEP_BATCH)
    )
    return list(rows.scalars())


async def expire_abandoned(session: AsyncSession, store: MediaStore, upload_id: int) -> bool:
    """Delete what arrived for an abandoned upload and mark it EXPIRED; False when it was
    completed or swept meanwhile (the row is locked and its state checked again), or when the
    store is away (the next sweep tries again: the upload stays PENDING until its bytes are
    gone, so nothing unpublished is ever left without a row pointing at it)."""
    upload = await session.get(MediaUpload, upload_id, with_for_update=True)
    if upload is None or upload.status is not UploadStatus.PENDING:
        return False
    try:
        await store.delete(incoming_key(upload.token))
    except StoreUnavailable:
        return False
    upload.status = UploadStatus.EXPIRED
    await session.flush()
    return True
