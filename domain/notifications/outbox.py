"""The notification outbox: an event row written in the same transaction as the change it
announces, expanded by a job into one notification per member (the voters of the style first)
and one WeChat delivery per notification. Unique keys make every step idempotent."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import jobs
from domain.notifications import repository as repo
from domain.notifications.models import NotificationKind

WECHAT = "WECHAT"

MESSAGES = {
    NotificationKind.DROP_SUCCEEDED: (
        "The pre-sale succeeded",
        "it goes into production; pay any balance before the deadline",
        "/drops/",
    ),
    NotificationKind.DROP_FAILED: (
        "The pre-sale did not reach its minimum",
        "it will not be produced; your payment is refunded",
        "/drops/",
    ),
    NotificationKind.ORDER_SHIPPED: (
        "Your order has shipped",
        "see the tracking number",
        "/orders/",
    ),
    NotificationKind.TEAM_FILLED: (
        "Your group-buy team is full",
        "every seat is paid: the team price applies",
        "/teams/",
    ),
    NotificationKind.TEAM_FAILED: (
        "Your group-buy team did not fill in time",
        "see what becomes of your order",
        "/teams/",
    ),
}
TEAM_KINDS = (NotificationKind.TEAM_FILLED, NotificationKind.TEAM_FAILED)


async def record_event(session: AsyncSession, kind: NotificationKind, subject_id: int) -> None:
    """Write the outbox row in the caller's transaction (idempotent) and ask for expansion."""
    await repo.insert_event(session, kind, subject_id)
    jobs.enqueue("notification.expand", kind=kind.value, subject_id=subject_id)


async def record_event_once(session: AsyncSession, kind: NotificationKind, subject_id: int) -> bool:
    """``record_event`` that says whether this call wrote the event (a rerun writes nothing)."""
    if not await repo.insert_event_new(session, kind, subject_id):
        return False
    jobs.enqueue("notification.expand", kind=kind.value, subject_id=subject_id)
    return True


async def expand(
    sessionmaker: async_sessionmaker[AsyncSession], kind: NotificationKind, subject_id: int
) -> int:
    """Create every member's notification and WeChat delivery for an event; idempotent (unique
    keys), so a retry or a second worker adds nothing."""
    async with sessionmaker() as session, session.begin():
        if kind is NotificationKind.DROP_OPENED:
            made = await repo.expand_drop_opened(session, subject_id)
        elif kind is NotificationKind.DROP_EARLY_ACCESS:
            made = await repo.expand_early_access(session, subject_id)
        elif kind in TEAM_KINDS:
            title, body, link = MESSAGES[kind]
            made = await repo.expand_team(session, kind, subject_id, title, body, link)
        else:
            title, body, link = MESSAGES[kind]
            made = await repo.expand_buyers(session, kind, subject_id, title, body, link)
        event = await repo.event_id(session, kind, subject_id)
        await repo.insert_deliveries(session, event, WECHAT)
        await repo.mark_expanded(session, event)
    return made
