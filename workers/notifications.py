"""Notification jobs: expand outbox events, deliver WeChat messages (voters first)."""

from __future__ import annotations

import time

from domain.notifications import service
from domain.notifications.models import NotificationKind
from domain.notifications.wechat import SandboxSubscribeMessages
from workers.registry import job
from workers.runtime import runtime

DELIVERY_SLICE_SECONDS = 20


@job("notification.expand")
async def expand(kind: str, subject_id: int) -> int:
    rt = runtime()
    made = await service.expand(rt.sessionmaker, NotificationKind(kind), subject_id)
    await deliver()
    return made


@job("notification.deliver", every_seconds=5)
async def deliver() -> int:
    """Send pending deliveries in batches for a bounded time (the next run continues)."""
    rt = runtime()
    sender = rt.wechat_messages or SandboxSubscribeMessages()
    deadline = time.monotonic() + DELIVERY_SLICE_SECONDS
    total = 0
    while time.monotonic() < deadline:
        sent = await service.deliver_pending(rt.sessionmaker, sender,
                                             rt.settings.wechat_template_drop_opened)
        if sent == 0:
            break
        total += sent
    return total
