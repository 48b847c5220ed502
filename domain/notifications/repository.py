"""Every SQL query of the notifications context."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.identity.models import User
from domain.notifications.models import (
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationEvent,
    NotificationKind,
    NotificationOptOut,
)
from domain.paging import KeyPage

INSERT_EVENT = text(
    "INSERT INTO notification_events (kind, subject_id) VALUES (:kind, :subject) "
    "ON CONFLICT (kind, subject_id) DO NOTHING"
)

EXPAND_DROP_OPENED = text(
    """
    WITH ev AS (SELECT id FROM notification_events
                WHERE kind = 'DROP_OPENED' AND subject_id = :drop),
    d AS (SELECT id, title, poll_option_id FROM drops WHERE id = :drop),
    voters AS (
      SELECT b.user_id FROM ballots b, d
      WHERE d.poll_option_id IS NOT NULL
        AND b.poll_id = (SELECT poll_id FROM poll_options WHERE id = d.poll_option_id)
        AND b.option_ids @> ARRAY[d.poll_option_id]
    ),
    audience AS (
      SELECT cm.user_id,
             min(CASE WHEN cm.user_id IN (SELECT user_id FROM voters) THEN 0 ELSE 1 END)
               AS priority
      FROM drop_communities dc JOIN community_members cm ON cm.community_id = dc.community_id
      WHERE dc.drop_id = :drop AND cm.status = 'ACTIVE'
      GROUP BY cm.user_id
    )
    INSERT INTO notifications (event_id, user_id, priority, title, body, link)
    SELECT ev.id, a.user_id, a.priority,
           left(CASE WHEN a.priority = 0 THEN 'The style you voted for is on pre-sale'
                     ELSE 'New pre-sale in your community' END, 100),
           d.title, '/drops/' || d.id
    FROM ev, d, audience a
    WHERE NOT EXISTS (SELECT 1 FROM notification_opt_outs o
                      WHERE o.user_id = a.user_id AND o.kind = 'DROP_OPENED')
      -- told already when their head start began: one message each
      AND NOT EXISTS (SELECT 1 FROM notifications n JOIN notification_events e
                        ON e.id = n.event_id
                      WHERE e.kind = 'DROP_EARLY_ACCESS' AND e.subject_id = :drop
                        AND n.user_id = a.user_id)
    ON CONFLICT (event_id, user_id) DO NOTHING
    """
)

# The voters of the drop's poll option in its audience, when their head start begins.
EXPAND_EARLY_ACCESS = text(
    """
    WITH ev AS (SELECT id FROM notification_events
                WHERE kind = 'DROP_EARLY_ACCESS' AND subject_id = :drop),
    d AS (SELECT id, title, poll_option_id, opens_at, voter_head_start_minutes FROM drops
          WHERE id = :drop)
    INSERT INTO notifications (event_id, user_id, priority, title, body, link)
    SELECT DISTINCT ON (cm.user_id) ev.id, cm.user_id, 0,
           'Your head start on the style you voted for',
           left(d.title || ' - you may pre-order now; everyone else from '
                || to_char(d.opens_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC', 500),
           '/drops/' || d.id
    FROM ev, d
    JOIN drop_communities dc ON dc.drop_id = d.id
    JOIN community_members cm ON cm.community_id = dc.community_id AND cm.status = 'ACTIVE'
    JOIN ballots b ON b.user_id = cm.user_id
      AND b.poll_id = (SELECT poll_id FROM poll_options WHERE id = d.poll_option_id)
      AND b.option_ids @> ARRAY[d.poll_option_id]
    WHERE NOT EXISTS (SELECT 1 FROM notification_opt_outs o WHERE o.user_id = cm.user_id
                      AND o.kind IN ('DROP_OPENED', 'DROP_EARLY_ACCESS'))
    ORDER BY cm.user_id
    ON CONFLICT (event_id, user_id) DO NOTHING
    """
)

# Buyers of a drop (settlement) or the member of an order (shipping): priority 0, no opt-out
# (these are about their own money and parcels).
EXPAND_BUYERS = text(
    """
    WITH ev AS (SELECT id, subject_id FROM notification_events
                WHERE kind = CAST(:kind AS varchar) AND subject_id = :subject)
    INSERT INTO notifications (event_id, user_id, priority, title, body, link)
    SELECT DISTINCT ON (o.user_id) ev.id, o.user_id, 0, :title,
           left(d.title || ' - ' || CAST(:body AS text), 500), :link || ev.subject_id::text
    FROM ev, orders o JOIN drops d ON d.id = o.drop_id
    WHERE (CASE WHEN CAST(:kind AS varchar) = 'ORDER_SHIPPED' THEN o.id ELSE o.drop_id END)
          = ev.subject_id
      AND (CAST(:kind AS varchar) <> 'DROP_FAILED' OR o.cancel_reason = 'DROP_FAILED')
      AND (CAST(:kind AS varchar) <> 'DROP_SUCCEEDED'
           OR o.status IN ('CONFIRMED', 'DEPOSIT_PAID'))
    ORDER BY o.user_id
    ON CONFLICT (event_id, user_id) DO NOTHING
    """
)

# The members of a team (subject: the team): its seats, and for a failed team the orders its
# failure cancelled.
EXPAND_TEAM = text(
    """
    WITH ev AS (SELECT id, subject_id FROM notification_events
                WHERE kind = CAST(:kind AS varchar) AND subject_id = :subject)
    INSERT INTO notifications (event_id, user_id, priority, title, body, link)
    SELECT DISTINCT ON (o.user_id) ev.id, o.user_id, 0, :title,
           left(d.title || ' - ' || CAST(:body AS text), 500), :link || ev.subject_id::text
    FROM ev, orders o JOIN drops d ON d.id = o.drop_id
    WHERE o.team_id = ev.subject_id
      AND (o.status IN ('PENDING_PAYMENT', 'DEPOSIT_PAID', 'PAID', 'CONFIRMED', 'IN_PRODUCTION',
                        'SHIPPED', 'DELIVERED')
           OR o.cancel_reason = 'TEAM_FAILED')
    ORDER BY o.user_id
    ON CONFLICT (event_id, user_id) DO NOTHING
    """
)

INSERT_DELIVERIES = text(
    """
    INSERT INTO notification_deliveries (notification_id, channel, priority, status, attempts)
    SELECT n.id, :channel, n.priority, 'PENDING', 0 FROM notifications n
    WHERE n.event_id = :event
    ON CONFLICT (notification_id, channel) DO NOTHING
    """
)

CLAIM = text(
    """
    UPDATE notification_deliveries SET status = 'SENDING', attempts = attempts + 1
    WHERE id IN (SELECT id FROM notification_deliveries
                 WHERE status = 'PENDING' AND next_attempt_at <= now()
                 ORDER BY priority, id LIMIT :n FOR UPDATE SKIP LOCKED)
    RETURNING id
    """
)


async def insert_event(session: AsyncSession, kind: NotificationKind, subject_id: int) -> None:
    await session.execute(INSERT_EVENT, {"kind": kind.value, "subject": subject_id})


async def insert_event_new(session: AsyncSession, kind: NotificationKind, subject_id: int) -> bool:
    result = await session.execute(INSERT_EVENT, {"kind": kind.value, "subject": subject_id})
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def expand_early_access(session: AsyncSession, drop_id: int) -> int:
    result = await session.execute(EXPAND_EARLY_ACCESS, {"drop": drop_id})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def expand_drop_opened(session: AsyncSession, drop_id: int) -> int:
    result = await session.execute(EXPAND_DROP_OPENED, {"drop": drop_id})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def expand_buyers(
    session: AsyncSession, kind: NotificationKind, subject_id: int, title: str, body: str, link: str
) -> int:
    result = await session.execute(
        EXPAND_BUYERS,
        {"kind": kind.value, "subject": subject_id, "title": title, "body": body, "link": link},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def expand_team(
    session: AsyncSession, kind: NotificationKind, subject_id: int, title: str, body: str, link: str
) -> int:
    result = await session.execute(
        EXPAND_TEAM,
        {"kind": kind.value, "subject": subject_id, "title": title, "body": body, "link": link},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def event_id(session: AsyncSession, kind: NotificationKind, subject_id: int) -> int:
    return int(
        (
            await session.execute(
                select(NotificationEvent.id).where(
                    NotificationEvent.kind == kind, NotificationEvent.subject_id == subject_id
                )
            )
        ).scalar_one()
    )


async def insert_deliveries(session: AsyncSession, event: int, channel: str) -> None:
    await session.execute(INSERT_DELIVERIES, {"event": event, "channel": channel})


async def mark_expanded(session: AsyncSession, event: int) -> None:
    await session.execute(
        update(NotificationEvent)
        .where(NotificationEvent.id == event)
        .values(expanded_at=func.coalesce(NotificationEvent.expanded_at, func.now()))
    )


async def claim_deliveries(session: AsyncSession, batch: int) -> list[int]:
    return list((await session.execute(CLAIM, {"n": batch})).scalars())


async def deliveries_to_send(session: AsyncSession, ids: Sequence[int]) -> list[Any]:
    """(delivery, attempts, title, body, link, openid, opted-out member or None) per claim."""
    stmt = (
        select(
            Delivery.id,
            Delivery.attempts,
            Notification.title,
            Notification.body,
            Notification.link,
            User.wechat_openid,
            NotificationOptOut.user_id,
        )
        .join(Notification, Notification.id == Delivery.notification_id)
        .join(User, User.id == Notification.user_id)
        .join(NotificationEvent, NotificationEvent.id == Notification.event_id)
        .outerjoin(
            NotificationOptOut,
            and_(
                NotificationOptOut.user_id == User.id,
                NotificationOptOut.kind == NotificationEvent.kind,
            ),
        )
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.priority, Delivery.id)
    )
    return list((await session.execute(stmt)).all())


async def finish_delivery(session: AsyncSession, delivery_id: int, values: dict[str, Any]) -> None:
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.SENDING)
        .values(**values)
    )


def _inbox(user_id: int, unread_only: bool) -> Select[Any]:
    stmt = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return stmt


async def inbox(
    session: AsyncSession, user_id: int, page: KeyPage, unread_only: bool
) -> list[Notification]:
    stmt = page.apply(_inbox(user_id, unread_only), Notification.id, descending=True)
    return list((await session.execute(stmt)).scalars())


async def count_inbox(session: AsyncSession, user_id: int, unread_only: bool) -> int:
    stmt = select(func.count()).select_from(_inbox(user_id, unread_only).subquery())
    return int(await session.scalar(stmt) or 0)


async def get_many(session: AsyncSession, ids: Sequence[int]) -> list[Notification]:
    return list(
        (await session.execute(select(Notification).where(Notification.id.in_(ids)))).scalars()
    )


async def unread_count(session: AsyncSession, user_id: int) -> int:
    stmt = (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )
    return int((await session.execute(stmt)).scalar_one())


async def mark_read(session: AsyncSession, user_id: int, ids: Sequence[int] | None) -> int:
    stmt = update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(ids))
    result = await session.execute(stmt.values(read_at=func.now()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def set_opt_out(
    session: AsyncSession, user_id: int, kind: NotificationKind, opted_out: bool
) -> None:
    if opted_out:
        await session.execute(
            text(
                "INSERT INTO notification_opt_outs (user_id, kind) VALUES (:u, :k) "
                "ON CONFLICT DO NOTHING"
            ),
            {"u": user_id, "k": kind.value},
        )
    else:
        await session.execute(
            text("DELETE FROM notification_opt_outs WHERE user_id = :u AND kind = :k"),
            {"u": user_id, "k": kind.value},
        )


def delivery_values(
    status: DeliveryStatus, error: str | None, next_attempt: datetime | None
) -> dict[str, Any]:
    values: dict[str, Any] = {"status": status, "last_error": error}
    if status is DeliveryStatus.SENT:
        values["sent_at"] = func.now()
    if next_attempt is not None:
        values["next_attempt_at"] = next_attempt
    return values
