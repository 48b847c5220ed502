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
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from domain.base import Base, Timestamped


class MembershipStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    LEFT = "LEFT"
    REMOVED = "REMOVED"


class Community(Timestamped, Base):
    __tablename__ = "communities"
    __table_args__ = (UniqueConstraint("owner_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    cover_image_url: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    request_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))


class CommunityInvite(Timestamped, Base):
    """An invite code belongs to one inviter: joining through it records the referral edge."""

    __tablename__ = "community_invites"
    __table_args__ = (UniqueConstraint("community_id", "inviter_id"),)

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    inviter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))


class CommunityMember(Base):
    __tablename__ = "community_members"
    __table_args__ = (Index("ix_community_members_user", "user_id", "community_id"),)

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[MembershipStatus] = mapped_column(
        Enum(MembershipStatus, name="membership_status", native_enum=False, length=16)
    )
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    joined_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class MemberProfile(Base):
    """Long-tail needs; visible only to the member and the KOCs of their communities."""

    __tablename__ = "member_profiles"
    __table_args__ = (
        CheckConstraint("height_cm IS NULL OR height_cm BETWEEN 50 AND 260", name="height"),
        CheckConstraint("weight_kg IS NULL OR weight_kg BETWEEN 10 AND 400", name="weight"),
        Index("ix_member_profiles_style_tags", "style_tags", postgresql_using="gin"),
        Index("ix_member_profiles_usual_sizes", "usual_sizes", postgresql_using="gin"),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    height_cm: Mapped[int | None] = mapped_column(SmallInteger)
    weight_kg: Mapped[int | None] = mapped_column(SmallInteger)
    usual_sizes: Mapped[list[str]] = mapped_column(ARRAY(String(16)), default=list)
    body_notes: Mapped[str] = mapped_column(Text, default="")
    style_tags: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
