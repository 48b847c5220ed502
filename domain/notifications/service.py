"""Notifications: an outbox event written with the change, expanded into one notification per
member (voters of the style first), delivered in-app (the inbox) and by WeChat subscribe message.

At most once per (notification, channel): a delivery is claimed (PENDING -> SENDING, committed)
before it is sent, and only a definite failure puts it back to PENDING for a retry with backoff.
A worker killed between the claim and the send leaves it SENDING: it is not sent again, because
WeChat cannot tell us whether it arrived.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import and_, func, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import jobs
from domain.base import utcnow
from domain.errors import ValidationFailed
from domain.identity.actor import Actor
from domain.identity.models import User
from domain.identity.service import require_user
from domain.notifications.models import (
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationEvent,
    NotificationKind,
    NotificationOptOut,
)
from domain.notifications.wechat import SendFailed, SubscribeMessage, SubscribeMessages

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
WECHAT = "WECHAT"


async def record_event(session: AsyncSession, kind: NotificationKind, subject_id: int) -> None:
    """Write the outbox row in the caller's transaction (idempotent) and ask for expansion."""
    stmt = text(
        "INSERT INTO notification_events (kind, subject_id) VALUES (:kind, :subject) "
        "ON CONFLICT (kind, subject_id) DO NOTHING"
    )
    await session.execute(stmt, {"kind": kind.value, "subject": subject_id})
    jobs.enqueue("notification.expand", kind=kind.value, subject_id=subject_id)


EXPAND_DROP_OPENED = text(
    """
    WITH ev AS (SELECT id FROM notification_events WHERE kind = 'DROP_OPENED' AND subject_id = :drop),
    d AS (SELECT id, title, poll_option_id FROM drops WHERE id = :drop),
    voters AS (
      SELECT b.user_id FROM ballots b, d
      WHERE d.poll_option_id IS NOT NULL
        AND b.poll_id = (SELECT poll_id FROM poll_options WHERE id = d.poll_option_id)
        AND b.option_ids @> ARRAY[d.poll_option_id]
    ),
    audience AS (
      SELECT cm.user_id, min(CASE WHEN cm.user_id IN (SELECT user_id FROM voters) THEN 0 ELSE 1 END) AS priority
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
MESSAGES = {
    NotificationKind.DROP_SUCCEEDED: ("The pre-sale succeeded",
                                      "it goes into production; pay any balance before the "
                                      "deadline", "/drops/"),
    NotificationKind.DROP_FAILED: ("The pre-sale did not reach its minimum",
                                   "it will not be produced; your payment is refunded",
                                   "/drops/"),
    NotificationKind.ORDER_SHIPPED: ("Your order has shipped", "see the tracking number",
                                     "/orders/"),
}


async def expand(sessionmaker: async_sessionmaker[AsyncSession], kind: NotificationKind,
                 subject_id: int) -> int:
    """Create every member's notification and WeChat delivery for an event; idempotent (unique
    keys), so a retry or a second worker adds nothing."""
    async with sessionmaker() as session, session.begin():
        if kind is NotificationKind.DROP_OPENED:
            made = (await session.execute(EXPAND_DROP_OPENED, {"drop": subject_id})).rowcount
        else:
            title, body, link = MESSAGES[kind]
            made = (await session.execute(EXPAND_BUYERS, {
                "kind": kind.value, "subject": subject_id, "title": title, "body": body,
                "link": link})).rowcount
        event_id = (await session.execute(select(NotificationEvent.id).where(
            NotificationEvent.kind == kind, NotificationEvent.subject_id == subject_id))).scalar_one()
        await session.execute(text(
            """
            INSERT INTO notification_deliveries (notification_id, channel, priority, status,
                                                 attempts)
            SELECT n.id, 'WECHAT', n.priority, 'PENDING', 0 FROM notifications n
            WHERE n.event_id = :event
            ON CONFLICT (notification_id, channel) DO NOTHING
            """), {"event": event_id})
        await session.execute(update(NotificationEvent).where(NotificationEvent.id == event_id)
                              .values(expanded_at=func.coalesce(NotificationEvent.expanded_at,
                                                                func.now())))
    return int(made or 0)


CLAIM = text(
    """
    UPDATE notification_deliveries SET status = 'SENDING', attempts = attempts + 1
    WHERE id IN (SELECT id FROM notification_deliveries
                 WHERE status = 'PENDING' AND next_attempt_at <= now()
                 ORDER BY priority, id LIMIT :n FOR UPDATE SKIP LOCKED)
    RETURNING id
    """
)


async def deliver_pending(sessionmaker: async_sessionmaker[AsyncSession],
                          sender: SubscribeMessages, template_id: str, batch: int = 200) -> int:
    """Send one batch of pending WeChat deliveries, voters' first. Returns how many were sent."""
    async with sessionmaker() as session, session.begin():
        ids = list((await session.execute(CLAIM, {"n": batch})).scalars())
    if not ids:
        return 0
    async with sessionmaker() as session:
        rows = (await session.execute(
            select(Delivery.id, Delivery.attempts, Notification.title, Notification.body,
                   Notification.link, User.wechat_openid, NotificationOptOut.user_id)
            .join(Notification, Notification.id == Delivery.notification_id)
            .join(User, User.id == Notification.user_id)
            .join(NotificationEvent, NotificationEvent.id == Notification.event_id)
            .outerjoin(NotificationOptOut, and_(NotificationOptOut.user_id == User.id,
                                                NotificationOptOut.kind == NotificationEvent.kind))
            .where(Delivery.id.in_(ids)).order_by(Delivery.priority, Delivery.id))).all()
    sent = 0
    for delivery_id, attempts, title, body, link, openid, opted_out in rows:
        if opted_out is not None:
            await _finish(sessionmaker, delivery_id, DeliveryStatus.SKIPPED)
            continue
        message = SubscribeMessage(openid=openid, template_id=template_id, page=link,
                                   data={"thing1": {"value": title[:20]},
                                         "thing2": {"value": body[:20]}})
        try:
            await sender.send(message)
        except SendFailed as exc:
            retry = not exc.permanent and attempts < MAX_ATTEMPTS
            delay = timedelta(seconds=min(3600, 2 ** attempts))
            await _finish(sessionmaker, delivery_id,
                          DeliveryStatus.PENDING if retry else DeliveryStatus.FAILED,
                          error=str(exc)[:500], next_attempt=utcnow() + delay if retry else None)
            continue
        await _finish(sessionmaker, delivery_id, DeliveryStatus.SENT)
        sent += 1
    return sent


async def _finish(sessionmaker: async_sessionmaker[AsyncSession], delivery_id: int,
                  status: DeliveryStatus, *, error: str | None = None,
                  next_attempt: object = None) -> None:
    values: dict[str, object] = {"status": status, "last_error": error}
    if status is DeliveryStatus.SENT:
        values["sent_at"] = func.now()
    if next_attempt is not None:
        values["next_attempt_at"] = next_attempt
    async with sessionmaker() as session, session.begin():
        await session.execute(update(Delivery).where(
            Delivery.id == delivery_id, Delivery.status == DeliveryStatus.SENDING).values(**values))


# --- the inbox -------------------------------------------------------------------------------


async def inbox(session: AsyncSession, actor: Actor, after_id: int, limit: int,
                unread_only: bool) -> list[Notification]:
    user = await require_user(session, actor)
    stmt = select(Notification).where(Notification.user_id == user.id)
    if after_id:
        stmt = stmt.where(Notification.id < after_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    stmt = stmt.order_by(Notification.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def unread_count(session: AsyncSession, actor: Actor) -> int:
    user = await require_user(session, actor)
    stmt = select(func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))
    return int((await session.execute(stmt)).scalar_one())


async def mark_read(session: AsyncSession, actor: Actor, ids: list[int] | None) -> int:
    """Mark the viewer's notifications read (all of them when ``ids`` is None); idempotent."""
    user = await require_user(session, actor)
    if ids is not None and len(ids) > 500:
        raise ValidationFailed("At most 500 ids at once.", field="ids")
    stmt = update(Notification).where(Notification.user_id == user.id,
                                      Notification.read_at.is_(None))
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(ids))
    result = await session.execute(stmt.values(read_at=func.now()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def set_opt_out(session: AsyncSession, actor: Actor, kind: NotificationKind,
                      opted_out: bool) -> bool:
    user = await require_user(session, actor)
    if opted_out:
        await session.execute(text(
            "INSERT INTO notification_opt_outs (user_id, kind) VALUES (:u, :k) "
            "ON CONFLICT DO NOTHING"), {"u": user.id, "k": kind.value})
    else:
        await session.execute(text(
            "DELETE FROM notification_opt_outs WHERE user_id = :u AND kind = :k"),
            {"u": user.id, "k": kind.value})
    return opted_out


async def is_opted_out(session: AsyncSession, actor: Actor, kind: NotificationKind) -> bool:
    user = await require_user(session, actor)
    stmt = select(literal(1)).where(NotificationOptOut.user_id == user.id,
                                    NotificationOptOut.kind == kind)
    return (await session.execute(stmt)).scalar_one_or_none() is not None
