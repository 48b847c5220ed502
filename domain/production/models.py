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
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from domain.base import Base, Timestamped


class BatchStatus(enum.Enum):
    CREATED = "CREATED"
    ACCEPTED = "ACCEPTED"
    IN_PRODUCTION = "IN_PRODUCTION"
    SHIPPED = "SHIPPED"


BATCH_ORDER = [
    BatchStatus.CREATED,
    BatchStatus.ACCEPTED,
    BatchStatus.IN_PRODUCTION,
    BatchStatus.SHIPPED,
]


class Stage(enum.Enum):
    CUTTING = "CUTTING"
    SEWING = "SEWING"
    QC = "QC"
    PACKED = "PACKED"


STAGE_ORDER = [Stage.CUTTING, Stage.SEWING, Stage.QC, Stage.PACKED]


class DropFactory(Base):
    __tablename__ = "drop_factories"

    drop_id: Mapped[int] = mapped_column(
        ForeignKey("drops.id", ondelete="CASCADE"), primary_key=True
    )
    factory_id: Mapped[int] = mapped_column(ForeignKey("factories.id"), primary_key=True)
    priority: Mapped[int] = mapped_column(SmallInteger)


class Batch(Timestamped, Base):
    """A batch production order: what one factory makes in one run."""

    __tablename__ = "batches"
    __table_args__ = (
        UniqueConstraint("drop_id", "sequence"),
        Index("ix_batches_factory_feed", "factory_id", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    drop_id: Mapped[int] = mapped_column(ForeignKey("drops.id"))
    factory_id: Mapped[int] = mapped_column(ForeignKey("factories.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    status: Mapped[BatchStatus] = mapped_column(
        Enum(BatchStatus, name="batch_status", native_enum=False, length=16),
        default=BatchStatus.CREATED,
    )
    stage: Mapped[Stage | None] = mapped_column(
        Enum(Stage, name="batch_stage", native_enum=False, length=16)
    )
    below_minimum: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class BatchLine(Base):
    __tablename__ = "batch_lines"
    __table_args__ = (CheckConstraint("shipped >= 0 AND shipped <= quantity", name="shipped"),)

    batch_id: Mapped[int] = mapped_column(
        ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True
    )
    variant_id: Mapped[int] = mapped_column(ForeignKey("drop_variants.id"), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    shipped: Mapped[int] = mapped_column(Integer, default=0)


class BatchItem(Base):
    """Which member order (and how many of which variant) a batch fulfils."""

    __tablename__ = "batch_items"
    __table_args__ = (
        Index("ix_batch_items_order", "order_id"),
        CheckConstraint("shipped >= 0 AND shipped <= quantity", name="shipped"),
    )

    batch_id: Mapped[int] = mapped_column(
        ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True
    )
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("drop_variants.id"), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    shipped: Mapped[int] = mapped_column(Integer, default=0)


class BatchEvent(Timestamped, Base):
    __tablename__ = "batch_events"
    __table_args__ = (UniqueConstraint("batch_id", "stage"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    stage: Mapped[Stage] = mapped_column(
        Enum(Stage, name="batch_stage", native_enum=False, length=16)
    )
    note: Mapped[str] = mapped_column(Text, default="")


class Shipment(Timestamped, Base):
    __tablename__ = "shipments"
    __table_args__ = (UniqueConstraint("batch_id", "tracking_number"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    carrier: Mapped[str] = mapped_column(String(64))
    tracking_number: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))


class ShipmentItem(Base):
    __tablename__ = "shipment_items"
    __table_args__ = (Index("ix_shipment_items_order", "order_id"),)

    shipment_id: Mapped[int] = mapped_column(
        ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True
    )
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("drop_variants.id"), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)


class SampleStatus(enum.Enum):
    REQUESTED = "REQUESTED"
    SAMPLING = "SAMPLING"  # the factory accepted and is making it
    SAMPLE_SHIPPED = "SAMPLE_SHIPPED"
    RECEIVED = "RECEIVED"  # the KOC has it


class Sample(Base):
    """A sample of a draft drop made by a factory (one per drop)."""

    __tablename__ = "samples"
    __table_args__ = (
        CheckConstraint(
            "status IN ('REQUESTED', 'SAMPLING', 'SAMPLE_SHIPPED', 'RECEIVED')", name="status"
        ),
        UniqueConstraint("drop_id"),
        Index("ix_samples_factory_feed", "factory_id", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    drop_id: Mapped[int] = mapped_column(ForeignKey("drops.id"))
    factory_id: Mapped[int] = mapped_column(ForeignKey("factories.id"))
    note: Mapped[str] = mapped_column(Text)
    status: Mapped[SampleStatus] = mapped_column(
        Enum(SampleStatus, name="sample_status", native_enum=False, length=16,
             create_constraint=False),
        default=SampleStatus.REQUESTED,
    )  # fmt: skip
    carrier: Mapped[str | None] = mapped_column(String(50))
    tracking_number: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    received_at: Mapped[datetime | None]
