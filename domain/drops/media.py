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
from domain.drops.models import Drop, DropMedia, DropStatus, MediaKind
from domain.errors import ErrorCode, InvalidTransition, ValidationFailed
from domain.identity.actor import Actor

MAX_MEDIA = 20


@dataclass(frozen=True)
class MediaInput:
    kind: MediaKind
    url: str
    caption: str = ""


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
    rows = [
        DropMedia(
            drop_id=drop_id,
            position=i,
            kind=m.kind,
            url=v.https_url(m.url, f"media[{i}].url") or "",
            caption=v.text(m.caption, f"media[{i}].caption", max_len=200),
        )
        for i, m in enumerate(media)
    ]
    if any(not r.url for r in rows):
        raise ValidationFailed("Every photo and video needs an https URL.", field="media")
    await session.execute(delete(DropMedia).where(DropMedia.drop_id == drop_id))
    session.add_all(rows)
    await session.flush()
    return drop


async def media_of(session: AsyncSession, drop_ids: Sequence[int]) -> list[DropMedia]:
    """The try-on media of drops the caller already sees, in order (one statement)."""
    stmt = (
        select(DropMedia)
        .where(DropMedia.drop_id.in_(drop_ids))
        .order_by(DropMedia.drop_id, DropMedia.position)
    )
    return list((await session.execute(stmt)).scalars())
