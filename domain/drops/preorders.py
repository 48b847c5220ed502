"""Placing a pre-order: the hot path.

One transaction: look up the idempotency key; take the drop's advisory lock shared; insert the
order with a statement that re-checks status, window and membership and takes price and amount
from the drop row; reserve in Redis under the new order id (one script: window, per-member limit,
variant caps, drop cap); insert the lines; commit. A refusal or any failure rolls back and
releases the reservation. A rebuild of the counters takes the lock exclusively, so it never sums
PostgreSQL while a reservation is between Redis and its commit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import validation as v
from domain.base import utcnow
from domain.drops import repository as repo
from domain.drops.counters import rebuild_counters
from domain.drops.inputs import Address, check_address, check_lines, request_hash
from domain.drops.models import SELLING, DropStatus, Order
from domain.drops.reservations import NotReady, Refusal, ReservationStore
from domain.errors import (
    Conflict,
    DomainError,
    ErrorCode,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
    ValidationFailed,
)
from domain.identity.actor import Actor

log = logging.getLogger(__name__)

UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]


class _Rebuild(Exception):
    """Redis has no counters for the drop (restarted empty): rebuild, then try again."""


def refusal_error(refusal: Refusal) -> DomainError:
    """The reservation script's refusal as the typed error a member sees."""
    if refusal.code == "NOT_OPEN":
        return Conflict("This drop is not open yet.", code=ErrorCode.DROP_NOT_OPEN)
    if refusal.code == "CLOSED":
        return Conflict("This drop has closed.", code=ErrorCode.DROP_CLOSED)
    if refusal.code == "MEMBER_LIMIT":
        return ValidationFailed(
            f"That is over your limit for this drop: you can order {refusal.remaining} more.",
            field="lines",
            code=ErrorCode.MEMBER_LIMIT_EXCEEDED,
            remaining=refusal.remaining,
        )
    if refusal.code == "DROP_CAP":
        return Conflict(
            f"Not enough left: {refusal.remaining} remaining.",
            field="lines",
            code=ErrorCode.SOLD_OUT,
            remaining=refusal.remaining,
        )
    if refusal.code == "VARIANT_CAP":
        return Conflict(
            f"Not enough of that size and colour: {refusal.remaining} remaining.",
            field="lines",
            code=ErrorCode.VARIANT_SOLD_OUT,
            remaining=refusal.remaining,
            variant_id=refusal.variant_id,
        )
    return ValidationFailed(
        "A variant does not belong to this drop.",
        field="lines",
        code=ErrorCode.UNKNOWN_VARIANT,
        variant_id=refusal.variant_id,
    )


async def _existing(session: AsyncSession, user_id: int, key: str, digest: bytes) -> Order | None:
    order = await repo.order_by_key(session, user_id, key)
    if order is not None:
        v.same_request(order.request_hash, digest)
    return order


async def _why_not(session: AsyncSession, drop_id: int, user_id: int) -> DomainError:
    """The insert statement wrote nothing: say precisely why (off the hot path)."""
    drop = await repo.get(session, drop_id)
    if drop is None or drop.status is DropStatus.DRAFT:
        return NotFound("No such drop.", field="dropId")
    if not await repo.is_eligible(session, drop_id, user_id):
        return PermissionDenied(
            "Join one of this drop's communities to order.", code=ErrorCode.NOT_A_MEMBER
        )
    if drop.status not in SELLING or drop.closes_at <= utcnow():
        return Conflict("This drop has closed.", code=ErrorCode.DROP_CLOSED)
    return Conflict(
        f"This drop opens at {drop.opens_at.isoformat()}.", code=ErrorCode.DROP_NOT_OPEN
    )


async def place_preorder(
    unit_of_work: UnitOfWork,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    actor: Actor,
    drop_id: int,
    lines: Sequence[tuple[int, int]],
    idempotency_key: str,
    address: Address,
) -> Order:
    """Place a pre-order, or return the one this idempotency key already placed."""
    if actor.user_id is None:
        raise Unauthenticated()
    user_id = actor.user_id
    key = v.idempotency_key(idempotency_key)
    if key is None:
        raise ValidationFailed("idempotencyKey is required.", field="idempotencyKey")
    clean = check_lines(lines)
    addr = check_address(address)
    digest = request_hash(drop_id, clean, addr)
    quantity = sum(q for _, q in clean)
    for attempt in range(3):
        try:
            return await _place_once(
                unit_of_work, store, user_id, drop_id, clean, quantity, key, digest, addr
            )
        except _Rebuild:
            await rebuild_counters(sessionmaker, store, drop_id)
        except IntegrityError:
            # The same key racing itself: the database kept one; answer with the winner.
            async with sessionmaker() as session:
                order = await _existing(session, user_id, key, digest)
            if order is not None:
                return order
            if attempt == 2:
                raise
    raise Unavailable("The drop's counters are being rebuilt; retry shortly.")


async def _place_once(
    unit_of_work: UnitOfWork,
    store: ReservationStore,
    user_id: int,
    drop_id: int,
    lines: list[tuple[int, int]],
    quantity: int,
    key: str,
    digest: bytes,
    address: dict[str, str],
) -> Order:
    reserved: int | None = None
    try:
        async with unit_of_work() as session:
            existing = await _existing(session, user_id, key, digest)
            if existing is not None:
                return existing
            await repo.lock_shared(session, drop_id)
            order = await repo.insert_order(
                session,
                drop_id=drop_id,
                user_id=user_id,
                key=key,
                request_hash=digest,
                quantity=quantity,
                address=address,
            )
            if order is None:
                raise await _why_not(session, drop_id, user_id)
            order_id = order.id
            try:
                refusal = await store.reserve(drop_id, order_id, user_id, lines)
            except NotReady:
                raise _Rebuild() from None
            if refusal is not None:
                raise refusal_error(refusal)
            reserved = order_id
            await repo.insert_lines(session, order_id, lines)
    except BaseException:
        if reserved is not None:
            # The write failed after the reservation: give the capacity back.
            try:
                await store.release(drop_id, reserved)
            except Exception:  # a rebuild will drop the phantom
                log.exception("could not release reservation of order %s", reserved)
        raise
    return order
