"""A member's orders after placement: reading them, cancelling while the drop sells, expiry of
unpaid ones, delivery, and the cancellation of every order of a cancelled drop.

Every change is a guarded status transition (``UPDATE ... WHERE status IN (...)``), so a retry
or a second worker changes nothing; capacity goes back to Redis after the commit (and by the
next rebuild if that release is lost)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from domain import jobs
from domain.base import utcnow
from domain.drops import repository as repo
from domain.drops.models import SELLING, Order, OrderLine, OrderStatus
from domain.drops.reservations import ReservationStore
from domain.errors import Conflict, ErrorCode, InvalidTransition, NotFound
from domain.identity import roles
from domain.identity.actor import Actor
from domain.identity.models import User
from domain.paging import KeyPage

CANCELLABLE = (OrderStatus.PENDING_PAYMENT, OrderStatus.DEPOSIT_PAID, OrderStatus.PAID)


def release_after_commit(store: ReservationStore, drop_id: int, order_id: int) -> None:
    """Give the order's reservation back once its cancellation has committed."""

    async def release() -> None:
        await store.release(drop_id, order_id)

    jobs.after_commit(release)


async def _readable(session: AsyncSession, actor: Actor, order_id: int) -> tuple[Order, User]:
    user = await roles.require_user(session, actor)
    order = await repo.get_order(session, order_id)
    if order is None or (order.user_id != user.id and not user.is_operator):
        raise NotFound("No such order.", field="orderId")
    return order, user


async def get_order(session: AsyncSession, actor: Actor, order_id: int) -> Order:
    return (await _readable(session, actor, order_id))[0]


async def visible_orders(
    session: AsyncSession, actor: Actor, order_ids: Sequence[int]
) -> dict[int, Order]:
    """The orders among ``order_ids`` the actor may read (their member, operators)."""
    user = await roles.require_user(session, actor)
    rows = await repo.get_orders(session, order_ids)
    return {o.id: o for o in rows if o.user_id == user.id or user.is_operator}


def is_own(actor: Actor, order: Order) -> bool:
    """The shipping address and tracking numbers are the member's alone."""
    return actor.user_id is not None and actor.user_id == order.user_id


async def my_orders(session: AsyncSession, actor: Actor, page: KeyPage) -> list[Order]:
    """The member's orders, oldest first (``page.backward``: the newest ones, reversed)."""
    user = await roles.require_user(session, actor)
    return await repo.orders_of_member(session, user.id, page)


async def count_my_orders(session: AsyncSession, actor: Actor) -> int:
    user = await roles.require_user(session, actor)
    return await repo.count_orders_of_member(session, user.id)


async def lines_of(session: AsyncSession, order_ids: Sequence[int]) -> dict[int, list[OrderLine]]:
    """Lines of orders the caller already reads (the DataLoader behind ``Order.lines``)."""
    return await repo.order_lines(session, order_ids)


async def cancel_order(
    session: AsyncSession, store: ReservationStore, actor: Actor, order_id: int
) -> Order:
    """The member (or an operator, for support) cancels while the drop sells."""
    order, user = await _readable(session, actor, order_id)
    if order.status is OrderStatus.CANCELLED:
        return order
    await repo.lock_shared(session, order.drop_id)
    drop = await repo.get(session, order.drop_id)
    if drop is None or drop.status not in SELLING or drop.closes_at <= utcnow():
        raise InvalidTransition(
            "Orders can be cancelled only while the drop sells.",
            code=ErrorCode.ORDER_NOT_CANCELLABLE,
        )
    if order.status not in CANCELLABLE:
        raise InvalidTransition(
            "This order can no longer be cancelled.", code=ErrorCode.ORDER_NOT_CANCELLABLE
        )
    was_paid = order.status is not OrderStatus.PENDING_PAYMENT
    if not await repo.set_order_status(
        session,
        order_id,
        [order.status],
        OrderStatus.CANCELLED,
        cancelled_at=utcnow(),
        cancel_reason="MEMBER" if user.id == order.user_id else "OPERATOR",
    ):
        raise Conflict("The order changed meanwhile; try again.")
    release_after_commit(store, order.drop_id, order_id)
    if was_paid:
        jobs.enqueue("order.refund", order_id=order_id)
    await session.refresh(order)
    return order


async def confirm_delivery(session: AsyncSession, actor: Actor, order_id: int) -> Order:
    """The member received the parcel: SHIPPED -> DELIVERED (again: nothing changes)."""
    user = await roles.require_user(session, actor)
    order = await repo.get_order(session, order_id)
    if order is None or order.user_id != user.id:
        raise NotFound("No such order.", field="orderId")
    if order.status is OrderStatus.DELIVERED:
        return order
    if not await repo.set_order_status(
        session, order_id, [OrderStatus.SHIPPED], OrderStatus.DELIVERED
    ):
        raise InvalidTransition("Only a shipped order can be marked delivered.")
    await session.refresh(order)
    return order


async def expire_order(session: AsyncSession, store: ReservationStore, order_id: int) -> bool:
    """Cancel an unpaid order whose time ran out; idempotent (guarded by its status)."""
    order = await repo.get_order(session, order_id)
    if order is None or order.status is not OrderStatus.PENDING_PAYMENT:
        return False
    if order.expires_at is not None and order.expires_at > utcnow():
        return False
    await repo.lock_shared(session, order.drop_id)
    changed = await repo.set_order_status(
        session,
        order_id,
        [OrderStatus.PENDING_PAYMENT],
        OrderStatus.CANCELLED,
        cancelled_at=utcnow(),
        cancel_reason="UNPAID",
    )
    if changed:
        release_after_commit(store, order.drop_id, order_id)
    return changed


async def due_to_expire(session: AsyncSession) -> list[int]:
    return await repo.expired_unpaid(session, utcnow())


async def live_orders_of(session: AsyncSession, drop_id: int) -> list[tuple[int, OrderStatus]]:
    return await repo.live_order_statuses(session, drop_id, CANCELLABLE + (OrderStatus.CONFIRMED,))


async def cancel_for_cancelled_drop(
    session: AsyncSession, order_id: int, status: OrderStatus
) -> bool:
    """One order of a cancelled drop: cancelled, and refunded if anything was paid."""
    if not await repo.set_order_status(
        session,
        order_id,
        [status],
        OrderStatus.CANCELLED,
        cancelled_at=utcnow(),
        cancel_reason="DROP_CANCELLED",
    ):
        return False
    if status is not OrderStatus.PENDING_PAYMENT:
        jobs.enqueue("order.refund", order_id=order_id)
    return True
