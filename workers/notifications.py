"""Notification jobs: expand outbox events, deliver WeChat messages (voters first)."""

from __future__ import annotations

import time

from domain.notifications import delivery, outbox
from domain.notifications.models import NotificationKind
from infra.services import Services
from workers.registry import SERVICES, job

DELIVERY_SLICE_SECONDS = 10


@job("notification.expand")
async def expand(kind: str, subject_id: int, services: Services = SERVICES) -> int:
    made = await outbox.expand(services.sessionmaker, NotificationKind(kind), subject_id)
    await deliver(services)
    return made


@job("notification.deliver", every_seconds=5)
async def deliver(services: Services = SERVICES) -> int:
    """Send pending deliveries in batches for a bounded time (the next run continues)."""
    deadline = time.monotonic() + DELIVERY_SLICE_SECONDS
    total = 0
    while time.monotonic() < deadline:
        sent = await delivery.deliver_pending(
            services.sessionmaker,
            services.subscribe_messages,
            services.settings.wechat_template_drop_opened,
        )
        if sent == 0:
            break
        total += sent
    return total
