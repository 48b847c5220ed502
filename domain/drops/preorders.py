"""Placing a pre-order: the hot path.

One transaction: look up the idempotency key; take the drop's advisory lock shared; insert the
order with a statement that re-checks status, window and membership and takes price and amount
from the drop row; reserve in Redis under the new order id (one script: window, per-member limit,
variant caps, drop cap); insert the lines; commit. A refusal or any failure rolls back and
releases the reservation. A rebuild of the counters takes the lock exclusively, so it never sums
PostgreSQL while a reservation is between Redis and its commit."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import validation as v
from domain.base import utcnow
from domain.batching import GroupCommit
from domain.drops import repository as repo
from domain.drops.counters import rebuild_counters
from domain.drops.inputs import Address, check_address, check_lines, request_hash
from domain.drops.models import SELLING, DropStatus, Order
from domain.drops.reservations import Held, NotReady, Refusal, ReservationStore
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


def team_full() -> DomainError:
    return Conflict(
        "This team is full: open a team of your own.", field="shareToken", code=ErrorCode.TEAM_FULL
    )


def not_open(opens_at: datetime | None, *, head_start_for_others: bool = False) -> DomainError:
    """Too early for this member: NOT_OPEN_YET while the voters' head start runs (the member
    did not vote for the style), DROP_NOT_OPEN before; both say when the member may buy."""
    when = f" You may pre-order from {opens_at.isoformat()}." if opens_at else ""
    if head_start_for_others:
        return Conflict(
            "The voters of this style have a head start." + when,
            code=ErrorCode.NOT_OPEN_YET,
            opens_at=opens_at,
        )
    return Conflict(
        "This drop is not open yet." + when, code=ErrorCode.DROP_NOT_OPEN, opens_at=opens_at
    )


def refusal_error(refusal: Refusal) -> DomainError:
    """The reservation script's refusal as the typed error a member sees."""
    if refusal.code == "TEAM_FULL":
        return team_full()
    if refusal.code in ("NOT_OPEN", "NOT_OPEN_YET"):
        return not_open(
            datetime.fromtimestamp(refusal.opens_ms / 1000, UTC) if refusal.opens_ms else None,
            head_start_for_others=refusal.code == "NOT_OPEN_YET",
        )
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
    now = utcnow()
    if drop.status not in SELLING or drop.closes_at <= now:
        return Conflict("This drop has closed.", code=ErrorCode.DROP_CLOSED)
    if drop.opens_at > now:
        voter = await repo.is_head_start_voter(session, drop, user_id)
        early = drop.early_opens_at
        return not_open(
            early if voter else drop.opens_at, head_start_for_others=not voter and early <= now
        )
    held = await repo.units_of_member(session, drop_id, user_id)
    return refusal_error(Refusal("MEMBER_LIMIT", remaining=max(0, drop.per_member_limit - held)))


def _prepare(
    user_id: int,
    drop_id: int,
    lines: Sequence[tuple[int, int]],
    idempotency_key: str,
    address: Address,
    seat: Seat | None = None,
) -> _Request:
    key = v.idempotency_key(idempotency_key)
    if key is None:
        raise ValidationFailed("idempotencyKey is required.", field="idempotencyKey")
    clean = check_lines(lines)
    addr = check_address(address)
    digest = request_hash(drop_id, clean, addr)
    if seat is not None:  # the key is bound to the team step too (open, or join that team)
        digest = v.payload_hash([digest.hex(), seat.binding])
    return _Request(
        user_id=user_id,
        drop_id=drop_id,
        lines=clean,
        quantity=sum(q for _, q in clean),
        key=key,
        digest=digest,
        address=addr,
        seat=seat,
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
    request = _prepare(actor.user_id, drop_id, lines, idempotency_key, address)
    return await _place(unit_of_work, sessionmaker, store, request)


async def place_with_seat(
    unit_of_work: UnitOfWork,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    user_id: int,
    drop_id: int,
    lines: Sequence[tuple[int, int]],
    idempotency_key: str,
    address: Address,
    seat: Seat,
) -> Order:
    """``place_preorder`` whose order also takes a team seat, in the same transaction and the
    same reservation script (the single path: a team step locks the team's row)."""
    request = _prepare(user_id, drop_id, lines, idempotency_key, address, seat)
    return await _place(unit_of_work, sessionmaker, store, request)


async def _place(
    unit_of_work: UnitOfWork,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    request: _Request,
) -> Order:
    drop_id, key = request.drop_id, request.key
    for attempt in range(3):
        try:
            return await _place_once(unit_of_work, sessionmaker, store, request)
        except _Rebuild:
            await rebuild_counters(sessionmaker, store, drop_id, only_if_stale=True)
        except IntegrityError:
            # The same key racing itself: the database kept one; answer with the winner.
            async with sessionmaker() as session:
                order = await _existing(session, request.user_id, key, request.digest)
            if order is not None:
                return order
            if attempt == 2:
                raise
    raise Unavailable("The drop's counters are being rebuilt; retry shortly.")


@dataclass(frozen=True)
class Seat:
    """A pre-order that also takes a seat in a group-buy team (``domain/drops/teams.py``).

    ``take`` runs inside the order's transaction, after the idempotency lookup and the drop's
    shared lock and before the order's insert: it opens the team, or locks the one joined and
    checks it, and returns (team id, team size) for the insert and the reservation script.
    ``binding`` is what the idempotency key is bound to besides the order itself."""

    take: Callable[[AsyncSession], Awaitable[tuple[int, int]]]
    binding: str


@dataclass(frozen=True)
class _Request:
    user_id: int
    drop_id: int
    lines: list[tuple[int, int]]
    quantity: int
    key: str
    digest: bytes
    address: dict[str, str]
    seat: Seat | None = None


async def _place_once(
    unit_of_work: UnitOfWork,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    r: _Request,
) -> Order:
    reserved: int | None = None
    committing = False
    try:
        async with unit_of_work() as session:
            existing = await _existing(session, r.user_id, r.key, r.digest)
            if existing is not None:
                return existing
            await repo.lock_shared(session, r.drop_id)
            team = await r.seat.take(session) if r.seat is not None else None
            order = await repo.insert_order(
                session,
                drop_id=r.drop_id,
                user_id=r.user_id,
                key=r.key,
                request_hash=r.digest,
                quantity=r.quantity,
                address=r.address,
                team_id=team[0] if team else None,
            )
            if order is None:
                raise await _why_not(session, r.drop_id, r.user_id)
            try:
                held = await store.reserve(r.drop_id, order.id, r.user_id, r.lines, team)
            except NotReady:
                raise _Rebuild() from None
            if isinstance(held, Refusal):
                raise refusal_error(held)
            reserved = order.id
            await _hold(session, store, r.drop_id, order.id, held)
            committing = True  # leaving the block commits: from here the outcome may be unsure
    except BaseException:
        if reserved is not None:
            placed = await _release_unless_placed(sessionmaker, store, r, reserved, committing)
            if placed is not None:
                return placed  # the commit stood though its reply was lost: that is the answer
        raise
    return order


async def _hold(
    session: AsyncSession, store: ReservationStore, drop_id: int, order_id: int, held: Held
) -> None:
    """Write the lines and the units Redis handed out. PostgreSQL refuses a unit some live order
    holds or one above the cap: then Redis is wrong (restored from an old copy, say), so its
    counters are dropped, rebuilt from PostgreSQL, and the order tried again."""
    try:
        fits = await repo.insert_hold(session, drop_id, order_id, held)
    except IntegrityError:  # the transaction is aborted; raising below rolls it back
        fits = False
    if not fits:
        log.warning("drop %s: Redis handed out units PostgreSQL refuses; rebuilding", drop_id)
        await store.stop_selling(drop_id)
        raise _Rebuild()


async def _release_unless_placed(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    r: _Request,
    order_id: int,
    committing: bool,
) -> Order | None:
    """Give the reservation back only if its order certainly does not exist.

    Before the commit was sent, the transaction surely rolled back. A failure while committing
    (the connection dropped) leaves it unknown: look the order up. If it exists the commit stood
    and it is returned; if the lookup fails too, the reservation stays (a phantom the reconciler
    drops once it can see PostgreSQL), since freeing a unit that was sold would oversell."""
    if committing:
        try:
            async with sessionmaker() as session:
                placed = await repo.order_by_key(session, r.user_id, r.key)
        except Exception:  # noqa: BLE001 - PostgreSQL unreachable: keep the reservation
            log.warning("order %s: commit outcome unknown; reservation kept", order_id)
            return None
        if placed is not None and placed.id == order_id:
            return placed
    try:
        await store.release(r.drop_id, order_id)
    except Exception:  # a rebuild will drop the phantom
        log.exception("could not release reservation of order %s", order_id)
    return None


# -- group commit ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreorderRequest:
    """One member's pre-order waiting for its batch (``domain/batching.py``)."""

    user_id: int
    drop_id: int
    lines: tuple[tuple[int, int], ...]
    idempotency_key: str
    address: Address


def preorder_key(request: PreorderRequest) -> int:
    """One request per member in a batch: the per-member limit is summed by the statement,
    which does not see a sibling row of the same batch."""
    return request.user_id


async def preorder(
    batcher: GroupCommit[PreorderRequest, Order],
    actor: Actor,
    drop_id: int,
    lines: Sequence[tuple[int, int]],
    idempotency_key: str,
    address: Address,
) -> Order:
    """``place_preorder`` through the group commit (answered once its batch committed)."""
    if actor.user_id is None:
        raise Unauthenticated()
    return await batcher.submit(
        PreorderRequest(actor.user_id, drop_id, tuple(lines), idempotency_key, address)
    )


class _BatchAbort(Exception):
    """PostgreSQL refused units Redis handed out: undo the batch, place each order alone."""


async def place_preorders(
    unit_of_work: UnitOfWork,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    requests: Sequence[PreorderRequest],
) -> list[Order | BaseException]:
    """``place_preorder`` for a batch, with the same guarantees, in one transaction.

    Idempotency keys looked up together; the drops' locks taken shared in id order; the orders
    inserted by one statement that re-checks every drop's status, window, membership and the
    per-member limit; the reservations made in one Redis round trip (an order Redis refuses is
    deleted again before the commit); the lines and held units written by one statement; one
    commit. What the batch cannot settle by itself (an order a drop refused: the single path
    says why; counters to rebuild; units PostgreSQL refuses) is placed alone afterwards."""
    results: list[Order | BaseException | None] = [None] * len(requests)
    todo: list[tuple[int, _Request]] = []
    for i, r in enumerate(requests):
        try:
            todo.append((i, _prepare(r.user_id, r.drop_id, r.lines, r.idempotency_key, r.address)))
        except DomainError as e:
            results[i] = e
    alone: list[int] = []
    if todo:
        await _place_batch(unit_of_work, sessionmaker, store, todo, results, alone)
    prepared = dict(todo)
    for i in alone:
        try:
            results[i] = await _place(unit_of_work, sessionmaker, store, prepared[i])
        except Exception as e:  # noqa: BLE001 - this request's own outcome
            results[i] = e
    return [r if r is not None else Conflict("The order could not be placed.") for r in results]


async def _place_batch(
    unit_of_work: UnitOfWork,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    todo: list[tuple[int, _Request]],
    results: list[Order | BaseException | None],
    alone: list[int],
) -> None:
    # (request index, request, order id, order): the id as a plain int, since a rollback
    # expires the ORM instance.
    reserved: list[tuple[int, _Request, int, Order]] = []
    committing = False
    try:
        async with unit_of_work() as session:
            await repo.plan_each_time(session)
            existing = await repo.orders_by_keys(session, [(r.user_id, r.key) for _, r in todo])
            fresh: list[tuple[int, _Request]] = []
            for i, r in todo:
                found = existing.get((r.user_id, r.key))
                if found is None:
                    fresh.append((i, r))
                    continue
                try:
                    v.same_request(found.request_hash, r.digest)
                    results[i] = found
                except DomainError as e:
                    results[i] = e
            if not fresh:
                return
            fresh = await _refuse_if_sold_out(session, store, fresh, results)
            if not fresh:
                return
            for drop_id in sorted({r.drop_id for _, r in fresh}):
                await repo.lock_shared(session, drop_id)
            inserted = await repo.insert_orders(
                session,
                [(r.drop_id, r.user_id, r.key, r.digest, r.quantity, r.address) for _, r in fresh],
            )
            by_member = {o.user_id: o for o in inserted}
            placed = []
            for i, r in fresh:
                order = by_member.get(r.user_id)
                if order is None:
                    alone.append(i)  # refused by its drop, or its key raced: said alone
                else:
                    placed.append((i, r, order))
            if not placed:
                return
            outcomes = await store.reserve_many(
                [(r.drop_id, o.id, r.user_id, r.lines) for _, r, o in placed]
            )
            holds: list[tuple[int, int, Held]] = []
            undo: list[int] = []
            for (i, r, order), out in zip(placed, outcomes, strict=True):
                if isinstance(out, Held):
                    reserved.append((i, r, order.id, order))
                    holds.append((r.drop_id, order.id, out))
                elif isinstance(out, Refusal):
                    results[i] = refusal_error(out)
                    undo.append(order.id)
                else:  # NotReady: the single path rebuilds the counters first
                    alone.append(i)
                    undo.append(order.id)
            await repo.delete_orders(session, undo)
            if holds:
                try:
                    fits = await repo.insert_holds(session, holds)
                except IntegrityError:  # the transaction is aborted; raising rolls it back
                    fits = False
                if not fits:
                    raise _BatchAbort()
            committing = True  # leaving the block commits: from here the outcome may be unsure
    except _BatchAbort:
        log.warning("a batch of pre-orders met units PostgreSQL refuses; placing them alone")
        await _release_all(store, reserved)
        alone.extend(i for i, _, _, _ in reserved)
        return
    except Exception as e:  # noqa: BLE001 - each request gets its true outcome
        placed_anyway = await _release_batch_unless_placed(
            sessionmaker, store, reserved, committing
        )
        for i, _ in todo:
            if results[i] is None and i not in alone:
                results[i] = placed_anyway.get(i, e)
        for i in alone:
            results[i] = e
        alone.clear()
        return
    for i, _, _, order in reserved:
        results[i] = order


async def _refuse_if_sold_out(
    session: AsyncSession,
    store: ReservationStore,
    fresh: list[tuple[int, _Request]],
    results: list[Order | BaseException | None],
) -> list[tuple[int, _Request]]:
    """After a drop sells out, most requests for it are refusals: refuse them without writing.

    Only for drops this process saw refuse for their cap lately. Redis says, reading only,
    whether the reservation script would refuse each request for the cap now (the same checks
    in the same order: window, variants, the member's limit, then the cap); PostgreSQL says,
    reading only, whether the drop would otherwise take the order (``repository.ACCEPTS``, the
    insert's own predicate). Both yes: SOLD_OUT, exactly what the order's insert and the script
    would have answered, with no order inserted and deleted. Anything else takes the normal
    road. Returns the requests still to place."""
    hinted = [(i, r) for i, r in fresh if store.maybe_full(r.drop_id)]
    if not hinted:
        return fresh
    remaining = await store.cap_refusals([(r.drop_id, r.user_id, r.lines) for _, r in hinted])
    candidates = [
        (i, r, left) for (i, r), left in zip(hinted, remaining, strict=True) if left is not None
    ]
    if not candidates:
        return fresh
    ok = await repo.accepted(
        session, [(r.drop_id, r.user_id, r.quantity) for _, r, _ in candidates]
    )
    refused: set[int] = set()
    for n, (i, _, left) in enumerate(candidates):
        if n in ok:
            results[i] = refusal_error(Refusal("DROP_CAP", remaining=left))
            refused.add(i)
    return [(i, r) for i, r in fresh if i not in refused]


async def _release_all(
    store: ReservationStore, reserved: list[tuple[int, _Request, int, Order]]
) -> None:
    try:
        await store.release_many([(r.drop_id, order_id) for _, r, order_id, _ in reserved])
    except Exception:  # the reconciler drops the phantoms
        log.exception("could not release %s reservations", len(reserved))


async def _release_batch_unless_placed(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    reserved: list[tuple[int, _Request, int, Order]],
    committing: bool,
) -> dict[int, Order]:
    """``_release_unless_placed`` for a batch: before the commit was sent nothing stood; a
    failure while committing leaves it unknown, so the orders are looked up (found: placed;
    the lookup failing too: the reservations stay for the reconciler)."""
    if not reserved:
        return {}
    if committing:
        try:
            async with sessionmaker() as session:
                found = await repo.orders_by_keys(
                    session, [(r.user_id, r.key) for _, r, _, _ in reserved]
                )
        except Exception:  # noqa: BLE001 - PostgreSQL unreachable: keep the reservations
            log.warning("%s orders: commit outcome unknown; reservations kept", len(reserved))
            return {}
        placed = {
            i: found[(r.user_id, r.key)]
            for i, r, order_id, _ in reserved
            if (r.user_id, r.key) in found and found[(r.user_id, r.key)].id == order_id
        }
        await _release_all(store, [x for x in reserved if x[0] not in placed])
        return placed
    await _release_all(store, reserved)
    return {}
