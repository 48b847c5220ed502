"""WeChat subscribe messages, at most once per (notification, channel).

A delivery is claimed (PENDING -> SENDING, committed) before it is sent, and only a definite
failure puts it back to PENDING for a retry with backoff. A worker killed between the claim and
the send leaves it SENDING: it is not sent again, because WeChat cannot tell us whether it
arrived."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.base import utcnow
from domain.notifications import repository as repo
from domain.notifications.models import DeliveryStatus
from domain.notifications.wechat import SendFailed, SubscribeMessage, SubscribeMessages

MAX_ATTEMPTS = 8


async def deliver_pending(
    sessionmaker: async_sessionmaker[AsyncSession],
    sender: SubscribeMessages,
    template_id: str,
    batch: int = 200,
) -> int:
    """Send one batch of pending WeChat deliveries, voters' first. Returns how many were sent."""
    async with sessionmaker() as session, session.begin():
        ids = await repo.claim_deliveries(session, batch)
    if not ids:
        return 0
    async with sessionmaker() as session:
        rows = await repo.deliveries_to_send(session, ids)
    sent = 0
    for delivery_id, attempts, title, body, link, openid, opted_out in rows:
        if opted_out is not None:
            await _finish(sessionmaker, delivery_id, DeliveryStatus.SKIPPED)
            continue
        message = SubscribeMessage(
            openid=openid,
            template_id=template_id,
            page=link,
            data={"thing1": {"value": title[:20]}, "thing2": {"value": body[:20]}},
        )
        try:
            await sender.send(message)
        except SendFailed as exc:
            retry = not exc.permanent and attempts < MAX_ATTEMPTS
            delay = timedelta(seconds=min(3600, 2**attempts))
            await _finish(
                sessionmaker,
                delivery_id,
                DeliveryStatus.PENDING if retry else DeliveryStatus.FAILED,
                error=str(exc)[:500],
                next_attempt=utcnow() + delay if retry else None,
            )
            continue
        await _finish(sessionmaker, delivery_id, DeliveryStatus.SENT)
        sent += 1
    return sent


async def _finish(
    sessionmaker: async_sessionmaker[AsyncSession],
    delivery_id: int,
    status: DeliveryStatus,
    *,
    error: str | None = None,
    next_attempt: datetime | None = None,
) -> None:
    async with sessionmaker() as session, session.begin():
        await repo.finish_delivery(
            session, delivery_id, repo.delivery_values(status, error, next_attempt)
        )
