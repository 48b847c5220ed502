from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from domain.base import Base, Timestamped


class PollStatus(enum.Enum):
    DRAFT = "DRAFT"
    OPEN = "OPEN"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"


class Poll(Timestamped, Base):
    __tablename__ = "polls"
    __table_args__ = (
        UniqueConstraint("owner_id", "idempotency_key"),
        CheckConstraint("opens_at < closes_at", name="window"),
        CheckConstraint("max_choices >= 1", name="max_choices"),
        CheckConstraint("advance_count >= 1", name="advance_count"),
        CheckConstraint("min_member_age_hours BETWEEN 0 AND 8760", name="member_age"),
        Index("ix_polls_open_closes_at", "closes_at", postgresql_where="status = 'OPEN'"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[PollStatus] = mapped_column(
        Enum(PollStatus, name="poll_status", native_enum=False, length=16),
        default=PollStatus.DRAFT,
    )
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    max_choices: Mapped[int] = mapped_column(SmallInteger)
    advance_count: Mapped[int] = mapped_column(SmallInteger)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    request_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    published_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    final_voters: Mapped[int | None] = mapped_column(Integer)
    # A member's ballot counts only once they have been a member this long (0: at once).
    min_member_age_hours: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class PollCommunity(Base):
    __tablename__ = "poll_communities"
    __table_args__ = (Index("ix_poll_communities_community", "community_id", "poll_id"),)

    poll_id: Mapped[int] = mapped_column(
        ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True
    )
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )


class PollOption(Base):
    __tablename__ = "poll_options"
    __table_args__ = (
        UniqueConstraint("poll_id", "position"),
        CheckConstraint("reference_price_fen IS NULL OR reference_price_fen >= 0", name="price"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(SmallInteger)
    title: Mapped[str] = mapped_column(String(100))
    image_urls: Mapped[list[str]] = mapped_column(ARRAY(Text))
    designer_notes: Mapped[str] = mapped_column(Text, default="")
    reference_price_fen: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    # Set once, when the poll closes (from PostgreSQL ballots).
    final_votes: Mapped[int | None] = mapped_column(Integer)
    final_rank: Mapped[int | None] = mapped_column(SmallInteger)
    advanced: Mapped[bool] = mapped_column(default=False)


class Ballot(Base):
    """One ballot per member per poll. Re-voting replaces ``option_ids`` and bumps ``version``,
    the order Redis uses to apply concurrent re-votes the same way PostgreSQL did."""

    __tablename__ = "ballots"
    __table_args__ = (Index("ix_ballots_option_ids", "option_ids", postgresql_using="gin"),)

    poll_id: Mapped[int] = mapped_column(
        ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    option_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class BallotVoid(Base):
    """A KOC voided this ballot (its picks kept here); restored when ``restored_at`` is set."""

    __tablename__ = "ballot_voids"
    __table_args__ = (
        Index(
            "ux_ballot_voids_open",
            "poll_id",
            "user_id",
            unique=True,
            postgresql_where="restored_at IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    option_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    reason: Mapped[str] = mapped_column(Text)
    voided_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    voided_at: Mapped[datetime] = mapped_column(server_default=func.now())
    restored_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    restored_at: Mapped[datetime | None]
