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
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from domain.base import Base


class ReferralSource(enum.Enum):
    DROP = "DROP"  # a shared drop link
    TEAM = "TEAM"  # a shared team link (its leader, unless the link names someone else)


class RewardKind(enum.Enum):
    EARNED = "EARNED"
    REVERSED = "REVERSED"
    PAID_OUT = "PAID_OUT"


class DropReferral(Base):
    """A member's first touch on a drop: who shared the link they came through."""

    __tablename__ = "drop_referrals"
    __table_args__ = (
        CheckConstraint("referee_id <> referrer_id", name="not_self"),
        CheckConstraint("source IN ('DROP', 'TEAM')", name="source"),
        Index("ix_drop_referrals_referrer", "drop_id", "referrer_id"),
    )

    drop_id: Mapped[int] = mapped_column(ForeignKey("drops.id"), primary_key=True)
    referee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    referrer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    source: Mapped[ReferralSource] = mapped_column(
        Enum(ReferralSource, name="referral_source", native_enum=False, length=8,
             create_constraint=False)
    )  # fmt: skip
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class RewardEntry(Base):
    """One line of the append-only rewards ledger (a trigger refuses UPDATE and DELETE)."""

    __tablename__ = "referral_rewards"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount"),
        CheckConstraint("kind IN ('EARNED', 'REVERSED', 'PAID_OUT')", name="kind"),
        CheckConstraint("(kind = 'PAID_OUT') = (order_id IS NULL)", name="order"),
        # One reward per order: one beneficiary (the direct referrer), so no second level.
        Index(
            "ux_referral_rewards_earned",
            "order_id",
            unique=True,
            postgresql_where="kind = 'EARNED'",
        ),
        Index(
            "ux_referral_rewards_payout_key",
            "user_id",
            "idempotency_key",
            unique=True,
            postgresql_where="idempotency_key IS NOT NULL",
        ),
        Index("ix_referral_rewards_user", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[RewardKind] = mapped_column(
        Enum(RewardKind, name="reward_kind", native_enum=False, length=10, create_constraint=False)
    )
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # EARNED: what the order cost when the reward was earned (a refund reverses pro rata of it).
    basis_fen: Mapped[int | None] = mapped_column(BigInteger)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    drop_id: Mapped[int | None] = mapped_column(ForeignKey("drops.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
