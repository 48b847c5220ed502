from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from domain.base import Base, Timestamped


class NotificationKind(enum.Enum):
    DROP_OPENED = "DROP_OPENED"
    DROP_EARLY_ACCESS = "DROP_EARLY_ACCESS"  # the voters' head start began
    DROP_SUCCEEDED = "DROP_SUCCEEDED"
    DROP_FAILED = "DROP_FAILED"
    ORDER_SHIPPED = "ORDER_SHIPPED"
    TEAM_FILLED = "TEAM_FILLED"
    TEAM_FAILED = "TEAM_FAILED"


class DeliveryStatus(enum.Enum):
    PENDING = "PENDING"
    SENDING = "SENDING"  # claimed by a worker; never sent again automatically (at most once)
    SENT = "SENT"
    FAILED = "FAILED"  # gave up (permanent error or out of retries)
    SKIPPED = "SKIPPED"  # the member opted out or has no channel address


class NotificationEvent(Timestamped, Base):
    """The outbox: written in the same transaction as the change it announces; a job expands it
    into one notification per member."""

    __tablename__ = "notification_events"
    __table_args__ = (UniqueConstraint("kind", "subject_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[NotificationKind] = mapped_column(
        Enum(NotificationKind, name="notification_kind", native_enum=False, length=32)
    )
    subject_id: Mapped[int] = mapped_column(BigInteger)
    expanded_at: Mapped[datetime | None]


class Notification(Timestamped, Base):
    """One per (event, member): the in-app inbox entry, and the unit of 'at most once'."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id"),
        Index("ix_notifications_user", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("notification_events.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # 0 = voted for this style (told first), 1 = the rest of the drop's communities.
    priority: Mapped[int] = mapped_column(SmallInteger)
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(String(200))
    read_at: Mapped[datetime | None]


class Delivery(Base):
    """A notification on an outside channel (WeChat subscribe message)."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("notification_id", "channel"),
        Index(
            "ix_deliveries_pending",
            "priority",
            "next_attempt_at",
            postgresql_where="status = 'PENDING'",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(DeliveryStatus, name="delivery_status", native_enum=False, length=16),
        default=DeliveryStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]


class NotificationOptOut(Base):
    __tablename__ = "notification_opt_outs"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[NotificationKind] = mapped_column(
        Enum(NotificationKind, name="notification_kind", native_enum=False, length=32),
        primary_key=True,
    )
