"""Every SQL query of the payments context: the append-only ledger."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.payments.models import EntryKind, LedgerEntry, PaymentStep

RECORD_PAYMENT = text(
    """
    INSERT INTO payment_ledger (order_id, kind, step, amount_fen, currency, provider,
                                provider_txn_id, applied)
    VALUES (:order_id, 'PAYMENT', :step, :amount, :currency, :provider, :txn, :applied)
    ON CONFLICT (provider, provider_txn_id) DO NOTHING
    RETURNING id
    """
)


async def record_payment(
    session: AsyncSession,
    *,
    order_id: int,
    step: PaymentStep,
    amount_fen: int,
    currency: str,
    provider: str,
    txn: str,
    applied: bool,
) -> int | None:
    """The new ledger row's id, or None when this provider transaction was recorded before."""
    return (
        await session.execute(
            RECORD_PAYMENT,
            {
                "order_id": order_id,
                "step": step.value,
                "amount": amount_fen,
                "currency": currency,
                "provider": provider,
                "txn": txn,
                "applied": applied,
            },
        )
    ).scalar_one_or_none()


async def entries(session: AsyncSession, order_id: int) -> list[LedgerEntry]:
    stmt = select(LedgerEntry).where(LedgerEntry.order_id == order_id).order_by(LedgerEntry.id)
    return list((await session.execute(stmt)).scalars())


async def sums(session: AsyncSession, order_id: int) -> dict[EntryKind, int]:
    rows = (
        await session.execute(
            select(LedgerEntry.kind, func.coalesce(func.sum(LedgerEntry.amount_fen), 0))
            .where(LedgerEntry.order_id == order_id)
            .group_by(LedgerEntry.kind)
        )
    ).all()
    return {k: int(v) for k, v in rows}


async def add(session: AsyncSession, entry: LedgerEntry) -> None:
    session.add(entry)
    await session.flush()
