"""Pre-sale drops and pre-orders.

Drop states: DRAFT -> SCHEDULED (published, opens later) -> OPEN -> CLOSED -> SUCCEEDED/FAILED
(settlement, a later issue); CANCELLED before settlement. Selling is allowed while SCHEDULED or
OPEN and ``opens_at <= now < closes_at``; the worker flips SCHEDULED to OPEN at ``opens_at`` (and
notifies) and OPEN to CLOSED at ``closes_at``.

A pre-order reserves capacity in Redis (one script: window, per-member limit, variant caps, drop
cap) inside the transaction that writes the order, which holds the drop's advisory lock shared.
A rebuild of the counters takes that lock exclusively, so it never sums PostgreSQL while a
reservation is between Redis and its commit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import jobs
from domain import validation as v
from domain.base import utcnow
from domain.community import service as community
from domain.drops import repository as repo
from domain.drops.models import (
    Drop,
    DropStatus,
    DropVariant,
    Order,
    OrderStatus,
    PaymentMode,
)
from domain.drops.reservations import Limits, NotReady, ReservationStore
from domain.errors import (
    Conflict,
    DomainError,
    ErrorCode,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    Unavailable,
    ValidationFailed,
)
from domain.identity import service as identity
from domain.identity.actor import Actor
from domain.notifications import service as notifications
from domain.notifications.models import NotificationKind

log = logging.getLogger(__name__)

MAX_PRICE_FEN = 100_000_000
MAX_UNITS = 1_000_000
MAX_LINES = 20
MAX_LINE_QUANTITY = 1000
SELLING = (DropStatus.SCHEDULED, DropStatus.OPEN)
UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@dataclass
class VariantInput:
    size: str
    color: str
    cap: int | None = None


@dataclass
class TierInput:
    min_quantity: int
    price_fen: int


@dataclass
class DropInput:
    title: str
    community_ids: list[int]
    variants: list[VariantInput]
    price_fen: int
    payment_mode: PaymentMode
    moq: int
    cap: int
    per_member_limit: int
    opens_at: datetime
    closes_at: datetime
    description: str = ""
    image_urls: list[str] = field(default_factory=list)
    size_chart: str = ""
    tiers: list[TierInput] = field(default_factory=list)
    deposit_fen: int | None = None
    ship_from: date | None = None
    ship_until: date | None = None
    poll_option_id: int | None = None
    unpaid_expiry_minutes: int = 30
    keep_deposit_on_default: bool = True


@dataclass(frozen=True)
class Address:
    name: str
    phone: str
    region: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "phone": self.phone, "region": self.region,
                "detail": self.detail}


# --- drops -----------------------------------------------------------------------------------


def _check_drop(data: DropInput) -> dict[str, Any]:
    title = v.text(data.title, "title", min_len=1, max_len=100)
    if data.opens_at.tzinfo is None or data.closes_at.tzinfo is None:
        raise ValidationFailed("opensAt and closesAt need a timezone.", field="opensAt")
    if data.closes_at <= data.opens_at:
        raise ValidationFailed("closesAt must be after opensAt.", field="closesAt")
    if data.closes_at - data.opens_at > timedelta(days=90):
        raise ValidationFailed("A drop sells for at most 90 days.", field="closesAt")
    if not 1 <= data.price_fen <= MAX_PRICE_FEN:
        raise ValidationFailed(f"priceFen must be 1 to {MAX_PRICE_FEN}.", field="priceFen")
    if not 1 <= data.moq <= data.cap <= MAX_UNITS:
        raise ValidationFailed(f"Need 1 <= moq <= cap <= {MAX_UNITS}.", field="moq")
    if not 1 <= data.per_member_limit <= min(data.cap, MAX_LINE_QUANTITY):
        raise ValidationFailed("perMemberLimit must be between 1 and the cap (at most 1000).",
                               field="perMemberLimit")
    if data.payment_mode is PaymentMode.DEPOSIT:
        if data.deposit_fen is None or not 1 <= data.deposit_fen < data.price_fen:
            raise ValidationFailed("A deposit must be at least 1 fen and below the price.",
                                   field="depositFen")
    elif data.deposit_fen is not None:
        raise ValidationFailed("depositFen applies only to DEPOSIT drops.", field="depositFen")
    tiers = sorted(data.tiers, key=lambda t: t.min_quantity)
    last_qty, last_price = 0, data.price_fen
    for t in tiers:
        if not (last_qty < t.min_quantity <= data.cap and 1 <= t.price_fen < last_price):
            raise ValidationFailed("Tiers need rising quantities (up to the cap) and falling "
                                   "prices below the base price.", field="tiers")
        if data.payment_mode is PaymentMode.DEPOSIT and data.deposit_fen is not None \
                and t.price_fen <= data.deposit_fen:
            raise ValidationFailed("Every tier price must stay above the deposit.", field="tiers")
        last_qty, last_price = t.min_quantity, t.price_fen
    if len(tiers) > 10:
        raise ValidationFailed("At most 10 tiers.", field="tiers")
    if not 1 <= len(data.variants) <= 200:
        raise ValidationFailed("A drop has 1 to 200 variants.", field="variants")
    seen: set[tuple[str, str]] = set()
    for i, var in enumerate(data.variants):
        size = v.text(var.size, f"variants[{i}].size", min_len=1, max_len=16)
        color = v.text(var.color, f"variants[{i}].color", min_len=1, max_len=32)
        if (size, color) in seen:
            raise ValidationFailed("Each size and colour appears once.", field=f"variants[{i}]")
        seen.add((size, color))
        if var.cap is not None and not 0 <= var.cap <= data.cap:
            raise ValidationFailed("A variant cap is between 0 and the drop cap.",
                                   field=f"variants[{i}].cap")
    if not 1 <= data.unpaid_expiry_minutes <= 24 * 60:
        raise ValidationFailed("unpaidExpiryMinutes must be 1 to 1440.",
                               field="unpaidExpiryMinutes")
    if data.ship_from and data.ship_until and data.ship_until < data.ship_from:
        raise ValidationFailed("shipUntil is before shipFrom.", field="shipUntil")
    return {
        "title": title,
        "description": v.text(data.description, "description", max_len=5000),
        "image_urls": v.https_urls(data.image_urls, "imageUrls", min_count=0, max_count=20),
        "size_chart": v.text(data.size_chart, "sizeChart", max_len=5000),
        "price_fen": data.price_fen,
        "tiers": [{"min_quantity": t.min_quantity, "price_fen": t.price_fen} for t in tiers],
        "payment_mode": data.payment_mode,
        "deposit_fen": data.deposit_fen,
        "moq": data.moq,
        "cap": data.cap,
        "per_member_limit": data.per_member_limit,
        "opens_at": data.opens_at,
        "closes_at": data.closes_at,
        "ship_from": data.ship_from,
        "ship_until": data.ship_until,
        "poll_option_id": data.poll_option_id,
        "unpaid_expiry_seconds": data.unpaid_expiry_minutes * 60,
        "keep_deposit_on_default": data.keep_deposit_on_default,
    }


async def _check_poll_option(session: AsyncSession, user_id: int, is_operator: bool,
                             option_id: int | None) -> None:
    if option_id is None:
        return
    from domain.polls import repository as poll_repo

    option = await poll_repo.get_option(session, option_id)
    poll = await poll_repo.get(session, option.poll_id) if option else None
    if option is None or poll is None or (poll.owner_id != user_id and not is_operator):
        raise NotFound("No such poll option.", field="pollOptionId")
    if not option.advanced:
        raise ValidationFailed("Only an option that advanced in its poll can open as a drop.",
                               field="pollOptionId")


def _variant_rows(drop_id: int, variants: list[VariantInput]) -> list[DropVariant]:
    return [DropVariant(drop_id=drop_id, position=i, size=x.size.strip(), color=x.color.strip(),
                        cap=x.cap) for i, x in enumerate(variants)]


async def create_drop(session: AsyncSession, actor: Actor, data: DropInput,
                      idempotency_key: str | None = None) -> Drop:
    koc = await identity.require_koc(session, actor)
    key = v.idempotency_key(idempotency_key)
    if key is not None:
        existing = await repo.find_by_idempotency_key(session, koc.id, key)
        if existing is not None:
            return existing
    values = _check_drop(data)
    communities = await community.require_own_communities(
        session, koc.id, koc.is_operator, data.community_ids, "drop")
    await _check_poll_option(session, koc.id, koc.is_operator, data.poll_option_id)
    drop = await repo.add(session, Drop(owner_id=koc.id, status=DropStatus.DRAFT,
                                        idempotency_key=key, **values))
    await repo.replace_variants(session, drop.id, _variant_rows(drop.id, data.variants))
    await repo.replace_communities(session, drop.id, communities)
    return drop


async def _owned_for_update(session: AsyncSession, actor: Actor, drop_id: int) -> Drop:
    user = await identity.require_user(session, actor)
    drop = await repo.get_for_update(session, drop_id)
    if drop is None or (drop.owner_id != user.id and not user.is_operator):
        raise NotFound("No such drop.", field="dropId")
    return drop


async def update_drop(session: AsyncSession, actor: Actor, drop_id: int, data: DropInput) -> Drop:
    drop = await _owned_for_update(session, actor, drop_id)
    if drop.status is not DropStatus.DRAFT:
        raise InvalidTransition("Only a draft drop can be edited.",
                                code=ErrorCode.DROP_NOT_EDITABLE)
    user = await identity.require_user(session, actor)
    values = _check_drop(data)
    communities = await community.require_own_communities(
        session, drop.owner_id, user.is_operator, data.community_ids, "drop")
    await _check_poll_option(session, drop.owner_id, user.is_operator, data.poll_option_id)
    for k, val in values.items():
        setattr(drop, k, val)
    await repo.replace_variants(session, drop.id, _variant_rows(drop.id, data.variants))
    await repo.replace_communities(session, drop.id, communities)
    return drop


async def publish_drop(session: AsyncSession, actor: Actor, drop_id: int) -> Drop:
    await repo.lock_exclusive(session, drop_id)
    drop = await _owned_for_update(session, actor, drop_id)
    if drop.status in SELLING:
        return drop
    if drop.status is not DropStatus.DRAFT:
        raise InvalidTransition(f"A {drop.status.value.lower()} drop cannot be published.")
    now = utcnow()
    if drop.closes_at <= now:
        raise ValidationFailed("closesAt has passed; move it before publishing.",
                               field="closesAt")
    drop.published_at = now
    if drop.opens_at <= now:
        drop.status = DropStatus.OPEN
        # The outbox row commits with the status change: the voters hear about it for sure.
        await notifications.record_event(session, NotificationKind.DROP_OPENED, drop.id)
    else:
        drop.status = DropStatus.SCHEDULED
    await session.flush()
    # The counters follow the drop's state: rebuilt once the change is committed (and lazily by
    # the first order if no worker got to it first).
    jobs.enqueue("drop.rebuild_counters", drop_id=drop.id)
    return drop


async def close_drop(session: AsyncSession, actor: Actor, drop_id: int) -> Drop:
    """The KOC closes early; settlement follows (a job, exactly once)."""
    await repo.lock_exclusive(session, drop_id)
    drop = await _owned_for_update(session, actor, drop_id)
    if drop.status is not DropStatus.OPEN:
        if drop.status in (DropStatus.CLOSED, DropStatus.SUCCEEDED, DropStatus.FAILED):
            return drop
        raise InvalidTransition(f"A {drop.status.value.lower()} drop cannot be closed.")
    drop.status = DropStatus.CLOSED
    drop.closed_at = utcnow()
    await session.flush()
    jobs.enqueue("drop.rebuild_counters", drop_id=drop_id)
    jobs.enqueue("drop.settle", drop_id=drop_id)
    return drop


async def cancel_drop(session: AsyncSession, actor: Actor, drop_id: int) -> Drop:
    """Cancel before settlement: every live order is cancelled (paid ones refunded by a job)."""
    await repo.lock_exclusive(session, drop_id)
    drop = await _owned_for_update(session, actor, drop_id)
    if drop.status is DropStatus.CANCELLED:
        return drop
    if drop.status in (DropStatus.SUCCEEDED, DropStatus.FAILED):
        raise InvalidTransition("A settled drop cannot be cancelled.")
    drop.status = DropStatus.CANCELLED
    drop.closed_at = utcnow()
    await session.flush()
    jobs.enqueue("drop.cancelled", drop_id=drop_id)
    jobs.enqueue("drop.rebuild_counters", drop_id=drop_id)
    return drop


async def get_visible(session: AsyncSession, actor: Actor, drop_id: int) -> Drop:
    user = await identity.require_user(session, actor)
    drop = await repo.get(session, drop_id)
    if drop is None or not await community.audience_can_see(
        user, drop.owner_id, drop.status is DropStatus.DRAFT,
        lambda: repo.is_eligible(session, drop_id, user.id),
    ):
        raise NotFound("No such drop.", field="dropId")
    return drop


def tier_price(drop: Drop, quantity: int) -> tuple[int, dict[str, int] | None]:
    """The price everyone pays at this total quantity, and the next tier (if any)."""
    price = drop.price_fen
    next_tier = None
    for t in drop.tiers:
        if quantity >= t["min_quantity"]:
            price = t["price_fen"]
        elif next_tier is None:
            next_tier = t
    return price, next_tier


# --- counters --------------------------------------------------------------------------------


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def limits_for(drop: Drop, variants: Sequence[DropVariant]) -> Limits:
    selling = drop.status in SELLING
    return Limits(
        opens_ms=_ms(drop.opens_at),
        closes_ms=_ms(drop.closes_at) if selling else 0,
        cap=drop.cap,
        member_limit=drop.per_member_limit,
        variant_caps={var.id: var.cap for var in variants},
    )


async def rebuild_counters(sessionmaker: async_sessionmaker[AsyncSession],
                           store: ReservationStore, drop_id: int) -> int:
    """Replace the drop's Redis counters with PostgreSQL's truth.

    Holds the drop's advisory lock exclusively while it reads and writes: reservations in flight
    (which hold it shared until they commit) finish first, and new ones wait until it is done.
    Phantom reservations (a process that died between Redis and its commit) disappear here."""
    async with sessionmaker() as session, session.begin():
        await repo.lock_exclusive(session, drop_id)
        drop = await repo.get(session, drop_id)
        if drop is None:
            return 0
        variants = await repo.variants(session, drop_id)
        live = await repo.live_reservations(session, drop_id)
        total = await store.rebuild(drop_id, limits_for(drop, variants), live)
    log.info("rebuilt counters of drop %s: %s units in %s orders", drop_id, total, len(live))
    return total


# --- pre-orders ------------------------------------------------------------------------------


_PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,19}$")


def _check_address(address: Address) -> dict[str, str]:
    name = v.text(address.name, "shippingAddress.name", min_len=1, max_len=50)
    phone = address.phone.strip()
    if not _PHONE.match(phone):
        raise ValidationFailed("The phone number is not valid.", field="shippingAddress.phone")
    region = v.text(address.region, "shippingAddress.region", min_len=1, max_len=100)
    detail = v.text(address.detail, "shippingAddress.detail", min_len=1, max_len=200)
    return Address(name, phone, region, detail).as_dict()


def _check_lines(lines: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    if not 1 <= len(lines) <= MAX_LINES:
        raise ValidationFailed(f"An order has 1 to {MAX_LINES} lines.", field="lines")
    seen: set[int] = set()
    for variant_id, qty in lines:
        if variant_id in seen:
            raise ValidationFailed("A variant appears twice; put the quantity on one line.",
                                   field="lines")
        seen.add(variant_id)
        if not 1 <= qty <= MAX_LINE_QUANTITY:
            raise ValidationFailed(f"Each quantity must be 1 to {MAX_LINE_QUANTITY}.",
                                   field="lines.quantity", code=ErrorCode.INVALID_QUANTITY)
    return sorted(lines)


def request_hash(drop_id: int, lines: Sequence[tuple[int, int]], address: dict[str, str]) -> bytes:
    canonical = json.dumps([drop_id, [list(x) for x in lines], address], sort_keys=True,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).digest()


class _Rebuild(Exception):
    pass


def _refusal_error(refusal: Any) -> DomainError:
    if refusal.code == "NOT_OPEN":
        return Conflict("This drop is not open yet.", code=ErrorCode.DROP_NOT_OPEN)
    if refusal.code == "CLOSED":
        return Conflict("This drop has closed.", code=ErrorCode.DROP_CLOSED)
    if refusal.code == "MEMBER_LIMIT":
        return ValidationFailed(
            f"That is over your limit for this drop: you can order {refusal.remaining} more.",
            field="lines", code=ErrorCode.MEMBER_LIMIT_EXCEEDED, remaining=refusal.remaining)
    if refusal.code == "DROP_CAP":
        return Conflict(f"Not enough left: {refusal.remaining} remaining.",
                        field="lines", code=ErrorCode.SOLD_OUT, remaining=refusal.remaining)
    if refusal.code == "VARIANT_CAP":
        return Conflict(f"Not enough of that size and colour: {refusal.remaining} remaining.",
                        field="lines", code=ErrorCode.VARIANT_SOLD_OUT,
                        remaining=refusal.remaining, variant_id=refusal.variant_id)
    return ValidationFailed("A variant does not belong to this drop.", field="lines",
                            code=ErrorCode.UNKNOWN_VARIANT, variant_id=refusal.variant_id)


async def _existing(session: AsyncSession, user_id: int, key: str, digest: bytes) -> Order | None:
    order = await repo.order_by_key(session, user_id, key)
    if order is None:
        return None
    if order.request_hash != digest:
        raise Conflict("This idempotency key was used for a different order.",
                       field="idempotencyKey", code=ErrorCode.IDEMPOTENCY_KEY_REUSED)
    return order


async def _why_not(session: AsyncSession, drop_id: int, user_id: int) -> DomainError:
    drop = await repo.get(session, drop_id)
    if drop is None or drop.status is DropStatus.DRAFT:
        return NotFound("No such drop.", field="dropId")
    if not await repo.is_eligible(session, drop_id, user_id):
        return PermissionDenied("Join one of this drop's communities to order.",
                                code=ErrorCode.NOT_A_MEMBER)
    now = utcnow()
    if drop.status not in SELLING or drop.closes_at <= now:
        return Conflict("This drop has closed.", code=ErrorCode.DROP_CLOSED)
    return Conflict(f"This drop opens at {drop.opens_at.isoformat()}.",
                    code=ErrorCode.DROP_NOT_OPEN)


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
        raise identity.Unauthenticated()
    user_id = actor.user_id
    if not idempotency_key or len(idempotency_key) > 64:
        raise ValidationFailed("idempotencyKey must be 1 to 64 characters.",
                               field="idempotencyKey")
    clean = _check_lines(lines)
    addr = _check_address(address)
    digest = request_hash(drop_id, clean, addr)
    quantity = sum(q for _, q in clean)
    for attempt in range(3):
        try:
            return await _place_once(unit_of_work, store, user_id, drop_id, clean, quantity,
                                     idempotency_key, digest, addr)
        except _Rebuild:
            await rebuild_counters(sessionmaker, store, drop_id)
        except IntegrityError:
            # The same key racing itself: the database kept one; answer with the winner.
            async with sessionmaker() as session:
                order = await _existing(session, user_id, idempotency_key, digest)
            if order is not None:
                return order
            if attempt == 2:
                raise
    raise Unavailable("The drop's counters are being rebuilt; retry shortly.")


async def _place_once(unit_of_work: UnitOfWork, store: ReservationStore, user_id: int,
                      drop_id: int, lines: list[tuple[int, int]], quantity: int, key: str,
                      digest: bytes, address: dict[str, str]) -> Order:
    reserved: int | None = None
    try:
        async with unit_of_work() as session:
            existing = await _existing(session, user_id, key, digest)
            if existing is not None:
                return existing
            await repo.lock_shared(session, drop_id)
            order = await repo.insert_order(session, drop_id=drop_id, user_id=user_id,
                                            key=key, request_hash=digest,
                                            quantity=quantity, address=address)
            if order is None:
                raise await _why_not(session, drop_id, user_id)
            order_id = order.id
            try:
                refusal = await store.reserve(drop_id, order_id, user_id, lines)
            except NotReady:
                raise _Rebuild() from None
            if refusal is not None:
                raise _refusal_error(refusal)
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


# --- cancelling and expiry -------------------------------------------------------------------


async def cancel_order(session: AsyncSession, store: ReservationStore, actor: Actor,
                       order_id: int) -> Order:
    user = await identity.require_user(session, actor)
    order = await repo.get_order(session, order_id)
    if order is None or (order.user_id != user.id and not user.is_operator):
        raise NotFound("No such order.", field="orderId")
    if order.status is OrderStatus.CANCELLED:
        return order
    await repo.lock_shared(session, order.drop_id)
    drop = await repo.get(session, order.drop_id)
    assert drop is not None
    if drop.status not in SELLING or drop.closes_at <= utcnow():
        raise InvalidTransition("Orders can be cancelled only while the drop sells.",
                                code=ErrorCode.ORDER_NOT_CANCELLABLE)
    if order.status not in (OrderStatus.PENDING_PAYMENT, OrderStatus.DEPOSIT_PAID,
                            OrderStatus.PAID):
        raise InvalidTransition("This order can no longer be cancelled.",
                                code=ErrorCode.ORDER_NOT_CANCELLABLE)
    was_paid = order.status is not OrderStatus.PENDING_PAYMENT
    changed = await repo.set_order_status(
        session, order_id, [order.status], OrderStatus.CANCELLED, cancelled_at=utcnow(),
        cancel_reason="MEMBER")
    if not changed:
        raise Conflict("The order changed meanwhile; try again.")
    drop_id = order.drop_id
    jobs.after_commit(lambda: _release(store, drop_id, order_id))
    if was_paid:
        jobs.enqueue("order.refund", order_id=order_id)
    await session.refresh(order)
    return order


async def confirm_delivery(session: AsyncSession, actor: Actor, order_id: int) -> Order:
    """The member received the parcel: SHIPPED -> DELIVERED (again: nothing changes)."""
    user = await identity.require_user(session, actor)
    order = await repo.get_order(session, order_id)
    if order is None or order.user_id != user.id:
        raise NotFound("No such order.", field="orderId")
    if order.status is OrderStatus.DELIVERED:
        return order
    if not await repo.set_order_status(session, order_id, [OrderStatus.SHIPPED],
                                       OrderStatus.DELIVERED):
        raise InvalidTransition("Only a shipped order can be marked delivered.")
    await session.refresh(order)
    return order


async def _release(store: ReservationStore, drop_id: int, order_id: int) -> None:
    await store.release(drop_id, order_id)


async def expire_order(session: AsyncSession, store: ReservationStore, order_id: int) -> bool:
    """Cancel an unpaid order whose time ran out; idempotent (guarded by its status)."""
    order = await repo.get_order(session, order_id)
    if order is None or order.status is not OrderStatus.PENDING_PAYMENT:
        return False
    if order.expires_at is not None and order.expires_at > utcnow():
        return False
    await repo.lock_shared(session, order.drop_id)
    changed = await repo.set_order_status(
        session, order_id, [OrderStatus.PENDING_PAYMENT], OrderStatus.CANCELLED,
        cancelled_at=utcnow(), cancel_reason="UNPAID")
    if changed:
        drop_id = order.drop_id
        jobs.after_commit(lambda: _release(store, drop_id, order_id))
    return changed


async def drops_for_member(session: AsyncSession, actor: Actor, statuses: Sequence[DropStatus],
                           after_id: int, limit: int) -> list[Drop]:
    """Drops of the viewer's communities; drafts are never listed (only their KOC sees them)."""
    user = await identity.require_user(session, actor)
    visible = [st for st in statuses if st is not DropStatus.DRAFT]
    return await repo.drops_for_member(session, user.id, visible, after_id, limit)


async def my_orders(session: AsyncSession, actor: Actor, after_id: int, limit: int) -> list[Order]:
    user = await identity.require_user(session, actor)
    return await repo.orders_of_member(session, user.id, after_id, limit)


async def get_order(session: AsyncSession, actor: Actor, order_id: int) -> Order:
    user = await identity.require_user(session, actor)
    order = await repo.get_order(session, order_id)
    if order is None or (order.user_id != user.id and not user.is_operator):
        raise NotFound("No such order.", field="orderId")
    return order


@dataclass(frozen=True)
class DropProgress:
    drop: Drop
    reserved: int
    buyers: int
    per_variant: dict[int, int]
    variants: list[DropVariant]

    @property
    def current_price(self) -> int:
        return tier_price(self.drop, self.reserved)[0]

    @property
    def next_tier(self) -> dict[str, int] | None:
        return tier_price(self.drop, self.reserved)[1]


async def progress(session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession],
                   store: ReservationStore, actor: Actor, drop_id: int) -> DropProgress:
    drop = await get_visible(session, actor, drop_id)
    variants = await repo.variants(session, drop_id)
    try:
        p = await store.progress(drop_id)
    except NotReady:
        await rebuild_counters(sessionmaker, store, drop_id)
        p = await store.progress(drop_id)
    return DropProgress(drop, p.reserved, p.buyers, p.per_variant, variants)
