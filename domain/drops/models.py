from __future__ import annotations

import enum
from datetime import date, datetime, timedelta
from typing import Any

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
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from domain.base import Base, Timestamped


class DropStatus(enum.Enum):
    DRAFT = "DRAFT"
    SCHEDULED = "SCHEDULED"
    OPEN = "OPEN"
    CLOSED = "CLOSED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


# A drop sells while it is in one of these states and its window is open.
SELLING = (DropStatus.SCHEDULED, DropStatus.OPEN)


class PaymentMode(enum.Enum):
    DEPOSIT = "DEPOSIT"
    FULL = "FULL"


class OrderStatus(enum.Enum):
    PENDING_PAYMENT = "PENDING_PAYMENT"
    DEPOSIT_PAID = "DEPOSIT_PAID"
    PAID = "PAID"
    CONFIRMED = "CONFIRMED"
    IN_PRODUCTION = "IN_PRODUCTION"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"


# Orders in these states hold capacity (count towards the cap).
LIVE_ORDER_STATUSES = (
    OrderStatus.PENDING_PAYMENT,
    OrderStatus.DEPOSIT_PAID,
    OrderStatus.PAID,
    OrderStatus.CONFIRMED,
    OrderStatus.IN_PRODUCTION,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
)


class PollVote(enum.Enum):
    """How an order's buyer voted in the poll its drop came from, when the order was placed."""

    FOR_OPTION = "FOR_OPTION"
    OTHER_OPTION = "OTHER_OPTION"
    DID_NOT_VOTE = "DID_NOT_VOTE"


class TeamPolicy(enum.Enum):
    """What becomes of a team's orders when it does not fill in time."""

    REFUND = "REFUND"  # cancelled and refunded
    KEEP_AT_DROP_PRICE = "KEEP_AT_DROP_PRICE"  # kept as ordinary pre-orders


class TeamStatus(enum.Enum):
    OPEN = "OPEN"
    FULL = "FULL"  # every seat paid: never open again
    FAILED = "FAILED"  # the deadline (or the drop's close) came first


class Drop(Timestamped, Base):
    """A pre-sale drop. Members may order from ``opens_at`` (the poll option's voters from
    ``early_opens_at``) until ``closes_at`` while it is SCHEDULED or OPEN."""

    __tablename__ = "drops"
    __table_args__ = (
        UniqueConstraint("owner_id", "idempotency_key"),
        CheckConstraint("opens_at < closes_at", name="window"),
        CheckConstraint("price_fen > 0", name="price"),
        CheckConstraint("moq >= 1 AND cap >= moq", name="quantities"),
        CheckConstraint("per_member_limit >= 1", name="member_limit"),
        CheckConstraint(
            "(team_size IS NULL AND team_price_fen IS NULL AND team_hours IS NULL"
            " AND team_policy IS NULL) OR (team_size BETWEEN 2 AND 50 AND team_price_fen > 0"
            " AND team_price_fen < price_fen AND team_hours >= 1"
            " AND team_policy IN ('REFUND', 'KEEP_AT_DROP_PRICE'))",
            name="teams",
        ),
        CheckConstraint(
            "(referral_fixed_fen IS NULL OR referral_basis_points IS NULL)"
            " AND (referral_fixed_fen IS NULL OR referral_fixed_fen > 0)"
            " AND (referral_basis_points IS NULL OR referral_basis_points BETWEEN 1 AND 10000)",
            name="referral_reward",
        ),
        CheckConstraint(
            "voter_head_start_minutes BETWEEN 0 AND 1440"
            " AND (voter_head_start_minutes = 0 OR poll_option_id IS NOT NULL)",
            name="head_start",
        ),
        Index("ix_drops_due", "status", "opens_at", "closes_at"),
        Index(
            "ux_drops_poll_draft",
            "poll_option_id",
            unique=True,
            postgresql_where="drafted_from_poll",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    poll_option_id: Mapped[int | None] = mapped_column(ForeignKey("poll_options.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    image_urls: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    size_chart: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[DropStatus] = mapped_column(
        Enum(DropStatus, name="drop_status", native_enum=False, length=16),
        default=DropStatus.DRAFT,
    )
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    price_fen: Mapped[int] = mapped_column(BigInteger)
    # [{"min_quantity": 100, "price_fen": 17900}, ...]: everyone pays the final tier.
    tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    payment_mode: Mapped[PaymentMode] = mapped_column(
        Enum(PaymentMode, name="payment_mode", native_enum=False, length=16)
    )
    deposit_fen: Mapped[int | None] = mapped_column(BigInteger)
    moq: Mapped[int] = mapped_column(Integer)
    cap: Mapped[int] = mapped_column(Integer)
    per_member_limit: Mapped[int] = mapped_column(Integer)
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    ship_from: Mapped[date | None]
    ship_until: Mapped[date | None]
    unpaid_expiry_seconds: Mapped[int] = mapped_column(Integer, default=1800)
    keep_deposit_on_default: Mapped[bool] = mapped_column(default=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    request_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    published_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    settled_at: Mapped[datetime | None]
    final_price_fen: Mapped[int | None] = mapped_column(BigInteger)
    paid_quantity: Mapped[int | None] = mapped_column(Integer)
    balance_hours: Mapped[int] = mapped_column(Integer, default=48)
    # Group-buy teams (all four set, or none: the drop has no teams).
    team_size: Mapped[int | None] = mapped_column(Integer)
    team_price_fen: Mapped[int | None] = mapped_column(BigInteger)
    team_hours: Mapped[int | None] = mapped_column(Integer)
    team_policy: Mapped[TeamPolicy | None] = mapped_column(
        Enum(TeamPolicy, name="team_policy", native_enum=False, length=24, create_constraint=False)
    )
    # The reward of the member who brought a buyer: a fixed amount per paid order, or basis points
    # (1/100 %) of what the order finally costs; at most one of them.
    referral_fixed_fen: Mapped[int | None] = mapped_column(BigInteger)
    referral_basis_points: Mapped[int | None] = mapped_column(Integer)
    # Made by its poll's close from an advanced option; held back from publishing until edited.
    drafted_from_poll: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The voters of the poll option may pre-order this many minutes before ``opens_at``.
    voter_head_start_minutes: Mapped[int] = mapped_column(
        Integer, default=0, server_default=text("0")
    )
    needs_review: Mapped[bool] = mapped_column(default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    @property
    def early_opens_at(self) -> datetime:
        """When the poll option's voters may start (``opens_at`` without a head start)."""
        return self.opens_at - timedelta(minutes=self.voter_head_start_minutes or 0)


class Team(Base):
    """A group-buy team (拼团) of a drop. Its seats are its live orders (``Order.team_id``)."""

    __tablename__ = "teams"
    __table_args__ = (
        CheckConstraint("size BETWEEN 2 AND 50", name="size"),
        CheckConstraint("status IN ('OPEN', 'FULL', 'FAILED')", name="status"),
        Index("ix_teams_drop_status", "drop_id", "status"),
        Index("ix_teams_open_deadline", "deadline", postgresql_where="status = 'OPEN'"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    drop_id: Mapped[int] = mapped_column(ForeignKey("drops.id"))
    leader_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    share_token: Mapped[str] = mapped_column(String(32), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    price_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    policy: Mapped[TeamPolicy] = mapped_column(
        Enum(TeamPolicy, name="team_policy", native_enum=False, length=24, create_constraint=False)
    )
    status: Mapped[TeamStatus] = mapped_column(
        Enum(TeamStatus, name="team_status", native_enum=False, length=16, create_constraint=False),
        default=TeamStatus.OPEN,
    )
    deadline: Mapped[datetime]
    filled_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class DropCommunity(Base):
    __tablename__ = "drop_communities"
    __table_args__ = (Index("ix_drop_communities_community", "community_id", "drop_id"),)

    drop_id: Mapped[int] = mapped_column(
        ForeignKey("drops.id", ondelete="CASCADE"), primary_key=True
    )
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )


class DropVariant(Base):
    """A SKU: style (the drop) x size x colour, with an optional cap of its own."""

    __tablename__ = "drop_variants"
    __table_args__ = (
        UniqueConstraint("drop_id", "size", "color"),
        CheckConstraint("cap IS NULL OR cap >= 0", name="cap"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    drop_id: Mapped[int] = mapped_column(ForeignKey("drops.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(SmallInteger)
    size: Mapped[str] = mapped_column(String(16))
    color: Mapped[str] = mapped_column(String(32))
    cap: Mapped[int | None] = mapped_column(Integer)


class Order(Timestamped, Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        Index("ix_orders_drop_status", "drop_id", "status"),
        # A member's orders of a drop: the per-member limit sums them on every pre-order (with
        # user_id alone the planner intersected it with every order of the drop: quadratic).
        Index("ix_orders_user_drop", "user_id", "drop_id"),
        Index(
            "ix_orders_pending_expiry", "expires_at", postgresql_where="status = 'PENDING_PAYMENT'"
        ),
        # One live seat per member per team (the join checks it too, under the team's lock).
        Index(
            "ux_orders_team_member",
            "team_id",
            "user_id",
            unique=True,
            postgresql_where="team_id IS NOT NULL AND status IN ('PENDING_PAYMENT', "
            "'DEPOSIT_PAID', 'PAID', 'CONFIRMED', 'IN_PRODUCTION', 'SHIPPED', 'DELIVERED')",
        ),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("amount_due_fen >= 0", name="amount"),
        CheckConstraint(
            "poll_vote IS NULL OR poll_vote IN ('FOR_OPTION', 'OTHER_OPTION', 'DID_NOT_VOTE')",
            name="poll_vote",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    drop_id: Mapped[int] = mapped_column(ForeignKey("drops.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    status: Mapped[OrderStatus] = mapped_column(
        Enum(OrderStatus, name="order_status", native_enum=False, length=20),
        default=OrderStatus.PENDING_PAYMENT,
    )
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_fen: Mapped[int] = mapped_column(BigInteger)
    amount_due_fen: Mapped[int] = mapped_column(BigInteger)  # what this payment step asks for
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    # The shipping address: readable only by the member (and operators); never in lists that
    # other members or factories see.
    shipping_address: Mapped[dict[str, Any]] = mapped_column(JSONB)
    expires_at: Mapped[datetime | None]
    # Set at settlement: what the member owes in total (final tier price x quantity, or what is
    # kept when the order is cancelled), and the deadline of a deposit order's balance.
    owed_fen: Mapped[int | None] = mapped_column(BigInteger)
    balance_due_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(32))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))  # a seat in this team
    poll_vote: Mapped[PollVote | None] = mapped_column(
        Enum(PollVote, name="poll_vote", native_enum=False, length=16, create_constraint=False)
    )
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        Index("ix_order_lines_variant", "variant_id"),
    )

    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    variant_id: Mapped[int] = mapped_column(ForeignKey("drop_variants.id"), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)


class HeldUnit(Base):
    """One unit of a drop's cap (numbered 1..cap) held by a live order. The primary key makes a
    unit impossible to hold twice, so PostgreSQL itself never sells more than the cap, whatever
    Redis says. A trigger (migration 0007) frees an order's units when it stops being live."""

    __tablename__ = "drop_units"
    __table_args__ = (
        CheckConstraint("unit >= 1", name="unit"),
        Index("ix_drop_units_order", "order_id"),
    )

    drop_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    unit: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))


class HeldVariantUnit(Base):
    """The same for a variant with a cap of its own."""

    __tablename__ = "variant_units"
    __table_args__ = (
        CheckConstraint("unit >= 1", name="unit"),
        Index("ix_variant_units_order", "order_id"),
    )

    variant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    unit: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))


class MediaKind(enum.Enum):
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"


class DropMedia(Base):
    """A try-on photo or video of a drop, in the KOC's order."""

    __tablename__ = "drop_media"
    __table_args__ = (CheckConstraint("kind IN ('IMAGE', 'VIDEO')", name="kind"),)

    drop_id: Mapped[int] = mapped_column(
        ForeignKey("drops.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    kind: Mapped[MediaKind] = mapped_column(
        Enum(MediaKind, name="media_kind", native_enum=False, length=8, create_constraint=False)
    )
    url: Mapped[str] = mapped_column(Text)
    caption: Mapped[str] = mapped_column(Text)


class UploadStatus(enum.Enum):
    PENDING = "PENDING"  # a URL was handed out; the bytes may or may not have arrived
    READY = "READY"  # checked (type by magic bytes, size) and published
    EXPIRED = "EXPIRED"  # never completed; what arrived was deleted a day after the link expired


class MediaUpload(Base):
    """One photo or video a KOC uploads for a drop's try-on media (two-phase: a URL to PUT
    the bytes to, then completion checks and publishes them)."""

    __tablename__ = "media_uploads"
    __table_args__ = (
        CheckConstraint("kind IN ('IMAGE', 'VIDEO')", name="kind"),
        CheckConstraint("status IN ('PENDING', 'READY', 'EXPIRED')", name="status"),
        Index("ix_media_uploads_drop", "drop_id", "id"),
        Index("ix_media_uploads_pending", "expires_at", postgresql_where="status = 'PENDING'"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    drop_id: Mapped[int] = mapped_column(ForeignKey("drops.id", ondelete="CASCADE"))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[MediaKind] = mapped_column(
        Enum(MediaKind, name="media_kind", native_enum=False, length=8, create_constraint=False)
    )
    status: Mapped[UploadStatus] = mapped_column(
        Enum(UploadStatus, name="upload_status", native_enum=False, length=8,
             create_constraint=False),
        default=UploadStatus.PENDING,
    )  # fmt: skip
    # Random, so that neither the incoming nor the published name can be guessed.
    token: Mapped[str] = mapped_column(String(32), unique=True)
    max_bytes: Mapped[int] = mapped_column(BigInteger)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    content_type: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
