"""Group-buy teams (拼团): a member opens a team on a drop that has them, shares its token, and
the team price applies when its seats fill with paid orders in time.

Seats. A seat is a live order of the team (``orders.team_id``): taken when the order is placed,
freed by itself when the order expires unpaid or is cancelled (its status stops being live),
exactly once, like the order's units. Taking one is part of the pre-order's own step: the team's
row is locked and checked in PostgreSQL (open, in time, a free seat, the member not in it yet),
then the reservation script takes the seat in Redis together with the units (``teams`` hash
under the drop's hash tag), so the (N+1)-th joiner is refused TEAM_FULL with no order and no
reservation left behind, whatever the interleaving.

Filling. The rule of group-buy platforms: a team is FULL when all its seats are *paid*. Pending
seats are held (nobody else can take them) until they are paid or expire. The payment that pays
the last seat marks the team FULL under the team's row lock (two last payments cannot both miss
it); a FULL team never opens again, even if a member later cancels.

Closing. At its deadline (never past the drop's close) an OPEN team FAILS exactly once (the
status guards it, under the row lock; a worker killed half-way rolls back): with the ``REFUND``
policy its orders are cancelled and refunded, with ``KEEP_AT_DROP_PRICE`` they stay as ordinary
pre-orders. Settlement closes any team still open first, then settles a FULL team's orders at the
team price (or the drop's final tier price when that is lower): the difference is refunded by the
existing refund walker (full payment) or taken off the balance (deposit)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import jobs
from domain.base import utcnow
from domain.drops import repository as repo
from domain.drops.inputs import Address
from domain.drops.models import (
    SELLING,
    Drop,
    DropStatus,
    Order,
    OrderStatus,
    Team,
    TeamPolicy,
    TeamStatus,
)
from domain.drops.orders import release_after_commit
from domain.drops.preorders import Seat, UnitOfWork, place_with_seat, team_full
from domain.drops.reservations import ReservationStore
from domain.drops.visibility import visible_drops
from domain.errors import Conflict, ErrorCode, NotFound, Unauthenticated, ValidationFailed
from domain.identity import roles
from domain.identity.actor import Actor
from domain.notifications import outbox
from domain.notifications.models import NotificationKind
from domain.referrals import service as referrals

MAX_TOKEN_LENGTH = 32


@dataclass(frozen=True)
class TeamView:
    """A team with its seats counted (taken = pending or paid; paid = paid)."""

    team: Team
    taken: int
    paid: int
    leader_name: str
    leader_avatar: str | None

    @property
    def left(self) -> int:
        return max(0, self.team.size - self.taken)


@dataclass(frozen=True)
class Placed:
    team: TeamView
    order: Order


def _deadline(drop: Drop, now: datetime) -> datetime:
    return min(now + timedelta(hours=drop.team_hours or 24), drop.closes_at)


async def open_team(
    unit_of_work: UnitOfWork,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    actor: Actor,
    drop_id: int,
    lines: Sequence[tuple[int, int]],
    idempotency_key: str,
    address: Address,
    *,
    reads: async_sessionmaker[AsyncSession] | None = None,
) -> Placed:
    """The leader's pre-order, exactly like ``placePreorder``, which also opens a team and takes
    its first seat. A retry with the same key returns the same order and team. ``reads``:
    sessions without a transaction for the reads around the placement, if the caller has them."""
    if actor.user_id is None:
        raise Unauthenticated()
    user_id = actor.user_id

    async def take(session: AsyncSession) -> tuple[int, int]:
        drop = await repo.get(session, drop_id)
        if drop is None or drop.status is DropStatus.DRAFT:
            raise NotFound("No such drop.", field="dropId")
        if drop.team_size is None or drop.team_price_fen is None or drop.team_policy is None:
            raise ValidationFailed(
                "This drop has no group-buy teams.",
                field="dropId",
                code=ErrorCode.TEAMS_NOT_ENABLED,
            )
        team = await repo.add_team(
            session,
            Team(
                drop_id=drop.id,
                leader_id=user_id,
                share_token=secrets.token_urlsafe(12),
                size=drop.team_size,
                price_fen=drop.team_price_fen,
                currency=drop.currency,
                policy=drop.team_policy,
                status=TeamStatus.OPEN,
                deadline=_deadline(drop, utcnow()),
            ),
        )
        return team.id, team.size

    order = await place_with_seat(
        unit_of_work,
        sessionmaker,
        store,
        user_id,
        drop_id,
        lines,
        idempotency_key,
        address,
        Seat(take, "open"),
    )
    return await _placed(reads or sessionmaker, order)


async def join_team(
    unit_of_work: UnitOfWork,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ReservationStore,
    actor: Actor,
    share_token: str,
    lines: Sequence[tuple[int, int]],
    idempotency_key: str,
    address: Address,
    drop_id: int | None = None,
    *,
    reads: async_sessionmaker[AsyncSession] | None = None,
) -> Placed:
    """A member's pre-order inside the team the token names (the same cap, limits and
    idempotency rules as ``placePreorder``). ``drop_id``, when given, must be the team's."""
    if actor.user_id is None:
        raise Unauthenticated()
    user_id = actor.user_id
    async with (reads or sessionmaker)() as session:
        found = await _by_token(session, share_token)
    if drop_id is not None and found.drop_id != drop_id:
        raise ValidationFailed("This share token belongs to another drop.", field="shareToken")
    team_id = found.id

    async def take(session: AsyncSession) -> tuple[int, int]:
        team = await repo.team(session, team_id, for_update=True)
        if team is None:
            raise NotFound("No such team.", field="shareToken")
        now = utcnow()
        if team.status is TeamStatus.FULL:
            raise team_full()
        if team.status is not TeamStatus.OPEN or team.deadline <= now:
            raise Conflict(
                "This team has closed: open a team of your own.",
                field="shareToken",
                code=ErrorCode.TEAM_CLOSED,
            )
        taken, mine = await repo.seat_state(session, team.id, user_id)
        if mine:
            raise Conflict(
                "You are in this team already.",
                field="shareToken",
                code=ErrorCode.ALREADY_IN_TEAM,
            )
        if taken >= team.size:
            raise team_full()
        await referrals.touch_by_team(session, team.drop_id, user_id, team.leader_id)
        return team.id, team.size

    order = await place_with_seat(
        unit_of_work,
        sessionmaker,
        store,
        user_id,
        found.drop_id,
        lines,
        idempotency_key,
        address,
        Seat(take, f"join:{team_id}"),
    )
    return await _placed(reads or sessionmaker, order)


async def _by_token(session: AsyncSession, token: str) -> Team:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise NotFound("No such team.", field="shareToken")
    team = await repo.team_by_token(session, token)
    if team is None:
        raise NotFound("No such team.", field="shareToken")
    return team


async def _placed(sessionmaker: async_sessionmaker[AsyncSession], order: Order) -> Placed:
    if order.team_id is None:  # the key placed an ordinary pre-order before: not this request
        raise ValidationFailed(
            "This idempotency key was used for another request.",
            field="idempotencyKey",
            code=ErrorCode.IDEMPOTENCY_KEY_REUSED,
        )
    async with sessionmaker() as session:
        views = await views_of(session, [order.team_id])
    return Placed(views[order.team_id], order)


async def views_of(session: AsyncSession, team_ids: Sequence[int]) -> dict[int, TeamView]:
    return {v.team.id: v for v in await _views(session, team_ids)}


async def _views(session: AsyncSession, team_ids: Sequence[int]) -> list[TeamView]:
    """Seats counted and leaders' public profiles: one statement for any number of teams."""
    return [TeamView(*row) for row in await repo.team_views(session, team_ids)]


# -- reading ----------------------------------------------------------------------------------


async def by_token(session: AsyncSession, actor: Actor, token: str) -> TeamView:
    """A team by its share token: what anyone signed in who holds the link may see (public
    fields only: the leader's display name and avatar, seats, deadline; never addresses)."""
    await roles.require_user(session, actor)
    team = await _by_token(session, token)
    return (await views_of(session, [team.id]))[team.id]


async def open_teams_of(
    session: AsyncSession, actor: Actor, drop_id: int, offset: int, limit: int
) -> list[TeamView]:
    """The drop's open teams that still need members, fullest first: a member may join a
    stranger's team. Only for those who may see the drop."""
    if not await visible_drops(session, actor, [drop_id]):
        raise NotFound("No such drop.", field="dropId")
    return await _views(session, await repo.open_teams(session, drop_id, utcnow(), offset, limit))


async def my_teams(
    session: AsyncSession, actor: Actor, after_id: int, limit: int
) -> list[TeamView]:
    user = await roles.require_user(session, actor)
    return await _views(session, await repo.teams_of_member(session, user.id, after_id, limit))


async def visible_teams(
    session: AsyncSession, actor: Actor, team_ids: Sequence[int]
) -> dict[int, TeamView]:
    """``node(id:)``: the teams of drops the actor may see."""
    views = await _views(session, team_ids)
    drops = await visible_drops(session, actor, sorted({v.team.drop_id for v in views}))
    return {v.team.id: v for v in views if v.team.drop_id in drops}


# -- filling and closing ----------------------------------------------------------------------


async def seat_paid(session: AsyncSession, team_id: int) -> bool:
    """A seat of the team was just paid (the webhook, in its transaction, holding the order's
    row lock): the team is FULL when every seat is paid. True when this payment filled it."""
    team = await repo.team(session, team_id, for_update=True)
    if team is None or team.status is not TeamStatus.OPEN:
        return False
    _, paid = (await repo.seats(session, [team_id]))[team_id]
    if paid < team.size:
        return False
    team.status = TeamStatus.FULL
    team.filled_at = utcnow()
    await outbox.record_event(session, NotificationKind.TEAM_FILLED, team_id)
    await session.flush()
    return True


async def close_team(
    session: AsyncSession,
    store: ReservationStore | None,
    team_id: int,
    *,
    closing: bool = False,
) -> bool:
    """Fail an OPEN team whose time ran out (or whose drop stopped selling) and apply its
    policy; exactly once (guarded by the status, under the team's row lock). True if it did.
    ``closing``: the drop's settlement, which closes every team still open (no capacity goes
    back to Redis then: the drop no longer sells)."""
    first = await repo.team(session, team_id)
    if first is None or first.status is not TeamStatus.OPEN:
        return False
    await repo.lock_shared(session, first.drop_id)
    await repo.lock_team_orders(session, team_id)  # the orders first: the webhook's lock order
    team = await repo.team(session, team_id, for_update=True)
    if team is None or team.status is not TeamStatus.OPEN:
        return False
    drop = await repo.get(session, team.drop_id)
    now = utcnow()
    selling = drop is not None and drop.status in SELLING and drop.closes_at > now
    if team.deadline > now and selling and not closing:
        return False  # not due yet
    team.status = TeamStatus.FAILED
    team.closed_at = now
    if team.policy is TeamPolicy.REFUND:
        # Read again under the team's lock: an order that joined while this waited is in it.
        for order in await repo.lock_team_orders(session, team_id):
            await _cancel_for_team(session, store, order, now)
    await outbox.record_event(session, NotificationKind.TEAM_FAILED, team_id)
    await session.flush()
    return True


async def _cancel_for_team(
    session: AsyncSession, store: ReservationStore | None, order: Order, now: datetime
) -> None:
    if order.status not in (
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.DEPOSIT_PAID,
        OrderStatus.PAID,
    ):
        return  # confirmed at settlement already: settlement decided
    paid = order.status is not OrderStatus.PENDING_PAYMENT
    if not await repo.set_order_status(
        session,
        order.id,
        [order.status],
        OrderStatus.CANCELLED,
        cancelled_at=now,
        cancel_reason="TEAM_FAILED",
        owed_fen=0,
        expires_at=None,
    ):
        return
    if store is not None:
        release_after_commit(store, order.drop_id, order.id)
    if paid:
        jobs.enqueue("order.refund", order_id=order.id)


async def due_to_close(session: AsyncSession) -> list[int]:
    return await repo.due_teams(session, utcnow())


async def open_teams_of_drop(session: AsyncSession, drop_id: int) -> list[int]:
    """Teams of a drop still OPEN (settlement closes them first)."""
    return await repo.open_team_ids(session, drop_id)
