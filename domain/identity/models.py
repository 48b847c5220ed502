from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Identity, Integer, LargeBinary, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from domain.base import Base, Timestamped


class User(Timestamped, Base):
    """A person: every account is a member; KOC and operator are roles on top."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    wechat_openid: Mapped[str] = mapped_column(String(128), unique=True)
    wechat_unionid: Mapped[str | None] = mapped_column(String(128))
    display_name: Mapped[str] = mapped_column(String(64), default="")
    avatar_url: Mapped[str | None] = mapped_column(Text)
    is_koc: Mapped[bool] = mapped_column(default=False)
    is_operator: Mapped[bool] = mapped_column(default=False)

    @property
    def roles(self) -> list[str]:
        roles = ["MEMBER"]
        if self.is_koc:
            roles.append("KOC")
        if self.is_operator:
            roles.append("OPERATOR")
        return roles


class RefreshToken(Timestamped, Base):
    """Refresh tokens are opaque, stored hashed, rotated on use; reuse revokes the family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Factory(Timestamped, Base):
    __tablename__ = "factories"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    contact: Mapped[str] = mapped_column(Text, default="")
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    min_batch: Mapped[int] = mapped_column(Integer, default=1)
    capacity_per_day: Mapped[int] = mapped_column(Integer, default=1000)
    lead_time_days: Mapped[int] = mapped_column(Integer, default=7)


class FactoryApiKey(Timestamped, Base):
    """An API key is shown once; we keep only its sha256 (the secret has 256 bits of entropy)."""

    __tablename__ = "factory_api_keys"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    factory_id: Mapped[int] = mapped_column(
        ForeignKey("factories.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(128), default="")
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]
