"""The in-app inbox: a member's notifications, read marks and opt-outs (their own only)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import ValidationFailed
from domain.identity.actor import Actor
from domain.identity.roles import require_user
from domain.notifications import repository as repo
from domain.notifications.models import Notification, NotificationKind
from domain.paging import KeyPage

MAX_MARK = 500


async def inbox(
    session: AsyncSession, actor: Actor, page: KeyPage, unread_only: bool
) -> list[Notification]:
    """Newest first (``page.backward``: the oldest ones, reversed)."""
    user = await require_user(session, actor)
    return await repo.inbox(session, user.id, page, unread_only)


async def count_inbox(session: AsyncSession, actor: Actor, unread_only: bool) -> int:
    user = await require_user(session, actor)
    return await repo.count_inbox(session, user.id, unread_only)


async def visible_notifications(
    session: AsyncSession, actor: Actor, ids: Sequence[int]
) -> dict[int, Notification]:
    """Notifications by id for ``node``: the member's own; nobody else's."""
    if actor.user_id is None or not ids:
        return {}
    return {n.id: n for n in await repo.get_many(session, ids) if n.user_id == actor.user_id}


async def unread_count(session: AsyncSession, actor: Actor) -> int:
    user = await require_user(session, actor)
    return await repo.unread_count(session, user.id)


async def mark_read(session: AsyncSession, actor: Actor, ids: list[int] | None) -> int:
    """Mark the viewer's notifications read (all of them when ``ids`` is None); idempotent."""
    user = await require_user(session, actor)
    if ids is not None and len(ids) > MAX_MARK:
        raise ValidationFailed(f"At most {MAX_MARK} ids at once.", field="ids")
    return await repo.mark_read(session, user.id, ids)


async def set_opt_out(
    session: AsyncSession, actor: Actor, kind: NotificationKind, opted_out: bool
) -> bool:
    user = await require_user(session, actor)
    await repo.set_opt_out(session, user.id, kind, opted_out)
    return opted_out
