"""Settlement of a closed drop, exactly once.

Totals come from PostgreSQL. If the paid quantity reaches the MOQ the drop SUCCEEDS: the final
tier price is fixed for everyone; fully paid orders owe final x quantity (any excess is refunded)
and become CONFIRMED; deposit orders get a balance request (final x quantity - deposit) with a
deadline and become CONFIRMED when it is paid. Otherwise the drop FAILS: every order is cancelled
and every payment refunded, and the members are told why. Unpaid orders are cancelled either way.

Exactly once: one transaction under the drop's exclusive advisory lock and row lock, guarded by
the drop's status (CLOSED -> SUCCEEDED/FAILED), with set-based updates of the orders. Refunds
(one job walking the drop's orders) and notifications are queued after the commit; each is
idempotent (refund numbers under the order's row lock, unique notification keys).
A settlement killed half-way rolls back whole and runs again from the start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain import jobs
from domain.base import utcnow
from domain.drops import repository as repo
from domain.drops import teams
from domain.drops.models import Drop, DropStatus, Order, OrderStatus, PaymentMode, Team, TeamStatus
from domain.drops.pricing import drop_price
from domain.errors import Conflict, ErrorCode, NotFound
from domain.identity import roles
from domain.identity.actor import Actor
from domain.notifications import outbox
from domain.notifications.models import NotificationKind
from domain.referrals import service as referrals

PAID = (OrderStatus.DEPOSIT_PAID, OrderStatus.PAID)


@dataclass(frozen=True)
class Settlement:
    drop: Drop
    settled_now: bool


async def settle_drop(session: AsyncSession, drop_id: int) -> Settlement:
    await repo.lock_exclusive(session, drop_id)
    drop = await repo.get_for_update(session, drop_id)
    if drop is None:
        raise NotFound("No such drop.", field="dropId")
    if drop.status in (DropStatus.SUCCEEDED, DropStatus.FAILED):
        return Settlement(drop, False)  # settled already: settling twice changes nothing
    if drop.status is not DropStatus.CLOSED:
        raise Conflict("Only a closed drop can be settled.", code=ErrorCode.DROP_STILL_OPEN)
    now = utcnow()
    # Unpaid orders at the close leave the plan.
    await session.execute(
        update(Order)
        .where(Order.drop_id == drop_id, Order.status == OrderStatus.PENDING_PAYMENT)
        .values(
            status=OrderStatus.CANCELLED,
            cancelled_at=now,
            cancel_reason="UNPAID_AT_CLOSE",
            owed_fen=0,
        )
    )
    # Teams still open fail now (their deadline is never past the close): their policy applies
    # before the totals are taken.
    for team_id in await teams.open_teams_of_drop(session, drop_id):
        await teams.close_team(session, None, team_id, closing=True)
    # Set-based updates: one statement per outcome, whatever the number of orders.
    quantity = int(
        (
            await session.execute(
                select(func.coalesce(func.sum(Order.quantity), 0)).where(
                    Order.drop_id == drop_id, Order.status.in_(PAID)
                )
            )
        ).scalar_one()
    )
    drop.paid_quantity = quantity
    drop.settled_at = now
    paid = Order.drop_id == drop_id
    if quantity >= drop.moq:
        final, _ = drop_price(drop, quantity)
        drop.final_price_fen = final
        drop.status = DropStatus.SUCCEEDED
        # A full team's orders pay the team price, or the final tier price when that is lower.
        unit = func.coalesce(
            select(func.least(final, Team.price_fen))
            .where(Team.id == Order.team_id, Team.status == TeamStatus.FULL)
            .scalar_subquery(),
            final,
        )
        await session.execute(
            update(Order)
            .where(paid, Order.status == OrderStatus.PAID)
            .values(owed_fen=unit * Order.quantity, status=OrderStatus.CONFIRMED)
        )
        await session.execute(
            update(Order)
            .where(paid, Order.status == OrderStatus.DEPOSIT_PAID)
            .values(
                owed_fen=unit * Order.quantity,
                amount_due_fen=unit * Order.quantity - Order.amount_due_fen,  # the balance
                balance_due_at=now + timedelta(hours=drop.balance_hours),
            )
        )
        await referrals.earn_for_drop(session, drop_id)  # the referrers of confirmed orders
        if drop.payment_mode is PaymentMode.FULL and (
            final < drop.price_fen or await repo.has_full_team(session, drop_id)
        ):
            jobs.enqueue("drop.refund_excess", drop_id=drop_id)  # the tier difference
        jobs.enqueue("production.plan", drop_id=drop_id)
        await outbox.record_event(session, NotificationKind.DROP_SUCCEEDED, drop_id)
    else:
        drop.status = DropStatus.FAILED
        await session.execute(
            update(Order)
            .where(paid, Order.status.in_(PAID))
            .values(
                status=OrderStatus.CANCELLED,
                cancelled_at=now,
                cancel_reason="DROP_FAILED",
                owed_fen=0,
            )
        )
        jobs.enqueue("drop.refund_excess", drop_id=drop_id)
        await outbox.record_event(session, NotificationKind.DROP_FAILED, drop_id)
    await session.flush()
    return Settlement(drop, True)


async def settle_drop_as(session: AsyncSession, actor: Actor, drop_id: int) -> Settlement:
    """A KOC (its own drop) or an operator asks for the settlement now."""
    user = await roles.require_user(session, actor)
    drop = await repo.get(session, drop_id)
    if drop is None or not roles.manages(user, drop.owner_id):
        raise NotFound("No such drop.", field="dropId")
    return await settle_drop(session, drop_id)


async def due_to_settle(session: AsyncSession) -> list[int]:
    """Closed drops not yet settled (a lost settle job is found again here)."""
    return await repo.drop_ids_in(session, [DropStatus.CLOSED])


async def with_balances_due(session: AsyncSession) -> list[int]:
    return await repo.drop_ids_in(session, [DropStatus.SUCCEEDED])


async def default_overdue_balances_of(session: AsyncSession, drop_id: int) -> int:
    drop = await repo.get(session, drop_id)
    if drop is None:
        return 0
    return await default_overdue_balances(session, drop)


async def default_overdue_balances(session: AsyncSession, drop: Drop) -> int:
    """Deposit orders whose balance deadline passed: cancelled by the drop's policy (deposit
    kept or refunded); their quantity leaves the production plan. Guarded, so idempotent."""
    now = utcnow()
    overdue = list(
        (
            await session.execute(
                select(Order)
                .where(
                    Order.drop_id == drop.id,
                    Order.status == OrderStatus.DEPOSIT_PAID,
                    Order.balance_due_at <= now,
                )
                .with_for_update(key_share=True)
            )
        ).scalars()
    )
    for o in overdue:
        deposit = (drop.deposit_fen or 0) * o.quantity
        o.status = OrderStatus.CANCELLED
        o.cancelled_at = now
        o.cancel_reason = "BALANCE_UNPAID"
        o.owed_fen = deposit if drop.keep_deposit_on_default else 0
        o.balance_due_at = None
        if not drop.keep_deposit_on_default:
            jobs.enqueue("order.refund", order_id=o.id)
    if overdue:
        jobs.enqueue("production.plan", drop_id=drop.id)
    await session.flush()
    return len(overdue)


async def orders_to_refund(
    session: AsyncSession, drop_id: int, after_id: int, limit: int
) -> list[int]:
    """Orders of the drop holding more money than their members owe (owed is known)."""
    stmt = text(
        """
        SELECT o.id FROM orders o
        JOIN payment_ledger l ON l.order_id = o.id
        WHERE o.drop_id = :drop AND o.id > :after AND o.owed_fen IS NOT NULL
        GROUP BY o.id, o.owed_fen
        HAVING sum(CASE WHEN l.kind = 'PAYMENT' THEN l.amount_fen ELSE -l.amount_fen END)
               > o.owed_fen
        ORDER BY o.id LIMIT :limit
        """
    )
    return list(
        (
            await session.execute(stmt, {"drop": drop_id, "after": after_id, "limit": limit})
        ).scalars()
    )
