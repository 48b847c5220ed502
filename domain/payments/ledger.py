"""Reading an order's money: its ledger (the member and operators) and its balance."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from domain.drops import repository as drop_repo
from domain.errors import NotFound
from domain.identity.actor import Actor
from domain.identity.roles import require_user
from domain.payments import repository as repo
from domain.payments.models import EntryKind, LedgerEntry


@dataclass(frozen=True)
class Balance:
    paid: int
    refunded: int

    @property
    def net(self) -> int:
        return self.paid - self.refunded


async def balance(session: AsyncSession, order_id: int) -> Balance:
    sums = await repo.sums(session, order_id)
    return Balance(sums.get(EntryKind.PAYMENT, 0), sums.get(EntryKind.REFUND, 0))


async def ledger(session: AsyncSession, actor: Actor, order_id: int) -> list[LedgerEntry]:
    user = await require_user(session, actor)
    order = await drop_repo.get_order(session, order_id)
    if order is None or (order.user_id != user.id and not user.is_operator):
        raise NotFound("No such order.", field="orderId")
    return await repo.entries(session, order_id)
