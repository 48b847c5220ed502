from __future__ import annotations

import enum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Enum,
    ForeignKey,
    Identity,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from domain.base import Base, Timestamped


class EntryKind(enum.Enum):
    PAYMENT = "PAYMENT"
    REFUND = "REFUND"


class PaymentStep(enum.Enum):
    DEPOSIT = "DEPOSIT"
    FULL = "FULL"
    BALANCE = "BALANCE"


class LedgerEntry(Timestamped, Base):
    """Append-only money ledger per order: every payment received and every refund made.

    A payment is unique by the provider's transaction id (a replayed notification adds nothing);
    a refund is unique by our own refund number (a retried refund is the same refund)."""

    __tablename__ = "payment_ledger"
    __table_args__ = (
        UniqueConstraint("provider", "provider_txn_id"),
        UniqueConstraint("refund_no"),
        CheckConstraint("amount_fen > 0", name="amount"),
        CheckConstraint("(kind = 'PAYMENT') = (provider_txn_id IS NOT NULL)", name="payment_txn"),
        CheckConstraint("(kind = 'REFUND') = (refund_no IS NOT NULL)", name="refund_no"),
        Index("ix_payment_ledger_order", "order_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    kind: Mapped[EntryKind] = mapped_column(
        Enum(EntryKind, name="ledger_kind", native_enum=False, length=16)
    )
    step: Mapped[PaymentStep | None] = mapped_column(
        Enum(PaymentStep, name="payment_step", native_enum=False, length=16)
    )
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    provider: Mapped[str] = mapped_column(String(16))
    provider_txn_id: Mapped[str | None] = mapped_column(String(64))
    refund_no: Mapped[str | None] = mapped_column(String(64))
    provider_refund_id: Mapped[str | None] = mapped_column(String(64))
    refund_of_id: Mapped[int | None] = mapped_column(ForeignKey("payment_ledger.id"))
    # A payment the order awaited (it moved the order on) or not (a second payment, the wrong
    # step or amount, one after a cancellation: refunded in full). NULL for refunds, and for
    # payments recorded before this column existed (they were all applied).
    applied: Mapped[bool | None]
