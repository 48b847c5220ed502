"""Try-on media (试穿): the photos and videos a KOC attaches to a draft drop, in order, each with
a caption. The list is replaced whole while the drop is a draft (what members see is what the
KOC published); the drop page shows it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import validation as v
from domain.drops.lifecycle import owned_for_update
from domain.drops.models import Drop, DropMedia, DropStatus, MediaKind, MediaUpload
from domain.drops.uploads import ready_uploads, ready_uploads_by_url
from domain.errors import ErrorCode, InvalidTransition, NotFound, ValidationFailed
from domain.identity.actor import Actor

MAX_MEDIA = 20


@dataclass(frozen=True)
class MediaInput:
    kind: MediaKind
    url: str | None = None
    caption: str = ""
    upload_id: int | None = None


async def set_try_on_media(
    session: AsyncSession, actor: Actor, drop_id: int, media: Sequence[MediaInput]
) -> Drop:
    drop, _ = await owned_for_update(session, actor, drop_id)
    if drop.status is not DropStatus.DRAFT:
        raise InvalidTransition(
            "Try-on media are set while the drop is a draft.", code=ErrorCode.DROP_NOT_EDITABLE
        )
    if len(media) > MAX_MEDIA:
        raise ValidationFailed(f"At most {MAX_MEDIA} photos and videos.", field="media")
    uploads = await ready_uploads(
        session, drop_id, {m.upload_id for m in media if m.upload_id is not None}
    )
    # An item sent back by the URL its upload was published at (a client re-saving the list it
    # read) is that upload, whatever the URL's scheme (the embedded store's may be http).
    by_url = await ready_uploads_by_url(
        session, drop_id, {m.url for m in media if m.url is not None and m.upload_id is None}
    )
    uploads.update({u.id: u for u in by_url.values()})
    media = [
        MediaInput(m.kind, None, m.caption, by_url[m.url].id) if m.url in by_url else m
        for m in media
    ]
    rows = [
        DropMedia(
            drop_id=drop_id,
            position=i,
            kind=m.kind,
            url=_url_of(m, i, uploads),
            caption=v.text(m.caption, f"media[{i}].caption", max_len=200),
        )
        for i, m in enumerate(media)
    ]
    await session.execute(delete(DropMedia).where(DropMedia.drop_id == drop_id))
    session.add_all(rows)
    await session.flush()
    return drop


def _url_of(m: MediaInput, i: int, uploads: dict[int, MediaUpload]) -> str:
    if (m.url is None) == (m.upload_id is None):
        raise ValidationFailed(
            "Give each photo or video either an https URL or an upload id.", field=f"media[{i}]"
        )
    if m.upload_id is None:
        url = v.https_url(m.url, f"media[{i}].url")
        if not url:
            raise ValidationFailed("Every photo and video needs an https URL.", field="media")
        return url
    upload = uploads.get(m.upload_id)
    if upload is None or upload.url is None:
        raise NotFound("No completed upload of this drop by that id.", field=f"media[{i}].uploadId")
    if upload.kind is not m.kind:
        raise ValidationFailed(
            f"That upload is a {upload.kind.value.lower()}.", field=f"media[{i}].kind"
        )
    return upload.url


async def media_of(session: AsyncSession, drop_ids: Sequence[int]) -> list[DropMedia]:
    """The try-on media of drops the caller already sees, in order (one statement)."""
    stmt = (
        select(DropMedia)
        .where(DropMedia.drop_id.in_(drop_ids))
        .order_by(DropMedia.drop_id, DropMedia.position)
    )
    return list((await session.execute(stmt)).scalars())
