"""Every SQL query of the drops context."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    any_,
    bindparam,
    delete,
    false,
    func,
    select,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from domain.community.models import Community, CommunityMember, MembershipStatus
from domain.drops.models import (
    LIVE_ORDER_STATUSES,
    Drop,
    DropCommunity,
    DropStatus,
    DropVariant,
    HeldUnit,
    HeldVariantUnit,
    Order,
    OrderLine,
    OrderStatus,
    Team,
    TeamStatus,
)
from domain.drops.reservations import Held, Reservation
from domain.identity.models import User
from domain.paging import KeyPage
from domain.polls.models import Poll, PollOption


# Whether the drop sells now to ``user``: from opens_at, or during the head start to the members
# whose ballot picks the drop's poll option.
def _open_for(user: str) -> str:
    return f"""(d.opens_at <= now() OR (d.voter_head_start_minutes > 0
        AND d.opens_at - make_interval(mins => d.voter_head_start_minutes) <= now()
        AND EXISTS (SELECT 1 FROM ballots b JOIN poll_options po ON po.id = d.poll_option_id
                    WHERE b.poll_id = po.poll_id AND b.user_id = {user}
                      AND b.option_ids @> ARRAY[d.poll_option_id])))"""


# How the buyer voted in the poll the drop came from (recorded with the order, for analytics).
def _poll_vote(user: str) -> str:
    return f"""CASE WHEN d.poll_option_id IS NULL THEN NULL ELSE coalesce(
        (SELECT CASE WHEN b.option_ids @> ARRAY[d.poll_option_id] THEN 'FOR_OPTION'
                     ELSE 'OTHER_OPTION' END
         FROM ballots b JOIN poll_options po ON po.id = d.poll_option_id
         WHERE b.poll_id = po.poll_id AND b.user_id = {user}
           AND cardinality(b.option_ids) > 0), 'DID_NOT_VOTE') END"""


# The order is written only if the drop sells now, the member belongs to one of its communities
# and stays within the per-member limit (PostgreSQL checks it too, not only Redis); price and
# amount come from the drop row, never from the client.
INSERT_ORDER = text(
    f"""
    INSERT INTO orders (drop_id, user_id, idempotency_key, request_hash, status, quantity,
                        unit_price_fen, amount_due_fen, currency, shipping_address, expires_at,
                        team_id, poll_vote)
    SELECT d.id, :user_id, :key, :hash, 'PENDING_PAYMENT', CAST(:quantity AS integer), d.price_fen,
           (CASE WHEN d.payment_mode = 'DEPOSIT' THEN d.deposit_fen ELSE d.price_fen END)
             * CAST(:quantity AS integer),
           d.currency, :address, now() + make_interval(secs => d.unpaid_expiry_seconds),
           CAST(:team_id AS bigint), {_poll_vote(":user_id")}
    FROM drops d
    WHERE d.id = :drop_id AND d.status IN ('SCHEDULED', 'OPEN')
      AND {_open_for(":user_id")} AND d.closes_at > now()
      AND EXISTS (SELECT 1 FROM drop_communities dc
                  JOIN community_members cm ON cm.community_id = dc.community_id
                  WHERE dc.drop_id = d.id AND cm.user_id = :user_id AND cm.status = 'ACTIVE')
      AND CAST(:quantity AS integer) + (
            SELECT coalesce(sum(o.quantity), 0) FROM orders o
            WHERE o.user_id = :user_id AND o.drop_id = d.id
              AND o.status NOT IN ('CANCELLED', 'REFUNDED')) <= d.per_member_limit
    RETURNING orders.*
    """
).bindparams(bindparam("address", type_=JSONB))

# What a drop asks of a request before it takes an order (r: the request, d: the drop): open
# now, the member in one of its communities, the member's limit kept. Shared by the insert and
# by the read that lets a sold-out drop refuse without writing.
ACCEPTS = f"""
    d.status IN ('SCHEDULED', 'OPEN') AND {_open_for("r.user_id")} AND d.closes_at > now()
      AND EXISTS (SELECT 1 FROM drop_communities dc
                  JOIN community_members cm ON cm.community_id = dc.community_id
                  WHERE dc.drop_id = d.id AND cm.user_id = r.user_id AND cm.status = 'ACTIVE')
      AND r.quantity + (
            SELECT coalesce(sum(o.quantity), 0) FROM orders o
            WHERE o.user_id = r.user_id AND o.drop_id = d.id
              AND o.status NOT IN ('CANCELLED', 'REFUNDED')) <= d.per_member_limit
"""

# Many members' orders in one statement (group commit): the same checks as INSERT_ORDER, row by
# row; at most one request per member in a batch (the per-member sum would not see a sibling
# row). An idempotency key some order already has is skipped (the caller looks it up).
INSERT_ORDERS = text(
    """
    WITH req AS (
      SELECT * FROM unnest(CAST(:drop_ids AS bigint[]), CAST(:user_ids AS bigint[]),
                           CAST(:keys AS text[]), CAST(:hashes AS bytea[]),
                           CAST(:quantities AS integer[]), CAST(:addresses AS text[]))
        AS r(drop_id, user_id, key, hash, quantity, address)
    )
    INSERT INTO orders (drop_id, user_id, idempotency_key, request_hash, status, quantity,
                        unit_price_fen, amount_due_fen, currency, shipping_address, expires_at,
                        poll_vote)
    SELECT d.id, r.user_id, r.key, r.hash, 'PENDING_PAYMENT', r.quantity, d.price_fen,
           (CASE WHEN d.payment_mode = 'DEPOSIT' THEN d.deposit_fen ELSE d.price_fen END)
             * r.quantity,
           d.currency, CAST(r.address AS jsonb),
           now() + make_interval(secs => d.unpaid_expiry_seconds), """
    + _poll_vote("r.user_id")
    + """
    FROM req r JOIN drops d ON d.id = r.drop_id
    WHERE """
    + ACCEPTS
    + """
    ON CONFLICT (user_id, idempotency_key) DO NOTHING
    RETURNING orders.*
    """
)

# Which of many (drop, member, quantity) requests their drops would accept (by position).
ACCEPTED = text(
    """
    SELECT r.i FROM unnest(CAST(:drop_ids AS bigint[]), CAST(:user_ids AS bigint[]),
                           CAST(:quantities AS integer[])) WITH ORDINALITY
        AS r(drop_id, user_id, quantity, i)
    JOIN drops d ON d.id = r.drop_id
    WHERE """
    + ACCEPTS
)

# The lines and held units of many orders in one statement: as INSERT_HOLD, row by row.
INSERT_HOLDS = text(
    """
    WITH lines AS (
      INSERT INTO order_lines (order_id, variant_id, quantity)
      SELECT o, v, q FROM unnest(CAST(:line_orders AS bigint[]), CAST(:line_variants AS bigint[]),
                                 CAST(:line_quantities AS integer[])) AS t(o, v, q)
    ), units AS (
      INSERT INTO drop_units (drop_id, unit, order_id)
      SELECT d.id, t.u, t.o
      FROM unnest(CAST(:unit_drops AS bigint[]), CAST(:units AS integer[]),
                  CAST(:unit_orders AS bigint[])) AS t(d, u, o)
      JOIN drops d ON d.id = t.d
      WHERE t.u <= d.cap
      RETURNING 1
    ), vunits AS (
      INSERT INTO variant_units (variant_id, unit, order_id)
      SELECT t.v, t.u, t.o
      FROM unnest(CAST(:vunit_drops AS bigint[]), CAST(:vunit_variants AS bigint[]),
                  CAST(:vunits AS integer[]), CAST(:vunit_orders AS bigint[])) AS t(d, v, u, o)
      JOIN drop_variants dv ON dv.id = t.v AND dv.drop_id = t.d
      WHERE t.u <= dv.cap
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM units), (SELECT count(*) FROM vunits)
    """
)

# The lines and the units an order holds, in one statement. A unit above the cap is not
# written (the caller compares the counts); a unit some live order holds already is a unique
# violation. Either way Redis was wrong and the order is not placed.
INSERT_HOLD = text(
    """
    WITH lines AS (
      INSERT INTO order_lines (order_id, variant_id, quantity)
      SELECT :order_id, v, q FROM unnest(CAST(:line_variants AS bigint[]),
                                         CAST(:line_quantities AS integer[])) AS t(v, q)
    ), units AS (
      INSERT INTO drop_units (drop_id, unit, order_id)
      SELECT d.id, u, :order_id FROM drops d, unnest(CAST(:units AS integer[])) AS u
      WHERE d.id = :drop_id AND u <= d.cap
      RETURNING 1
    ), vunits AS (
      INSERT INTO variant_units (variant_id, unit, order_id)
      SELECT t.v, t.u, :order_id
      FROM unnest(CAST(:vunit_variants AS bigint[]), CAST(:vunits AS integer[])) AS t(v, u)
      JOIN drop_variants dv ON dv.id = t.v AND dv.drop_id = :drop_id
      WHERE t.u <= dv.cap
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM units), (SELECT count(*) FROM vunits)
    """
)

LOCK_SHARED = text("SELECT pg_advisory_xact_lock_shared(:k)")
LOCK_EXCLUSIVE = text("SELECT pg_advisory_xact_lock(:k)")


def lock_key(drop_id: int) -> int:
    return (0x44524F50 << 32) | (drop_id & 0xFFFFFFFF)


async def lock_shared(session: AsyncSession, drop_id: int) -> None:
    """Held by every change to a drop's reservations until it commits; a rebuild takes it
    exclusively, so it never sums PostgreSQL while a reservation is between Redis and commit."""
    conn = await session.connection()
    await conn.execute(LOCK_SHARED, {"k": lock_key(drop_id)})


async def lock_exclusive(session: AsyncSession, drop_id: int) -> None:
    conn = await session.connection()
    await conn.execute(LOCK_EXCLUSIVE, {"k": lock_key(drop_id)})


async def get(session: AsyncSession, drop_id: int) -> Drop | None:
    return await session.get(Drop, drop_id)


async def get_for_update(session: AsyncSession, drop_id: int) -> Drop | None:
    stmt = select(Drop).where(Drop.id == drop_id).with_for_update(key_share=True)
    return (
        await session.execute(stmt.execution_options(populate_existing=True))
    ).scalar_one_or_none()


async def find_by_idempotency_key(session: AsyncSession, owner_id: int, key: str) -> Drop | None:
    stmt = select(Drop).where(Drop.owner_id == owner_id, Drop.idempotency_key == key)
    return (await session.execute(stmt)).scalar_one_or_none()


async def add(session: AsyncSession, drop: Drop) -> Drop:
    session.add(drop)
    await session.flush()
    return drop


async def variants(session: AsyncSession, drop_id: int) -> list[DropVariant]:
    stmt = select(DropVariant).where(DropVariant.drop_id == drop_id).order_by(DropVariant.position)
    return list((await session.execute(stmt)).scalars())


async def variants_of_drops(session: AsyncSession, drop_ids: Sequence[int]) -> list[DropVariant]:
    stmt = (
        select(DropVariant)
        .where(DropVariant.drop_id.in_(drop_ids))
        .order_by(DropVariant.drop_id, DropVariant.position)
    )
    return list((await session.execute(stmt)).scalars())


async def replace_variants(session: AsyncSession, drop_id: int, rows: list[DropVariant]) -> None:
    await session.execute(delete(DropVariant).where(DropVariant.drop_id == drop_id))
    session.add_all(rows)
    await session.flush()


async def replace_communities(session: AsyncSession, drop_id: int, ids: Sequence[int]) -> None:
    await session.execute(delete(DropCommunity).where(DropCommunity.drop_id == drop_id))
    session.add_all([DropCommunity(drop_id=drop_id, community_id=c) for c in ids])
    await session.flush()


async def is_eligible(session: AsyncSession, drop_id: int, user_id: int) -> bool:
    stmt = (
        select(func.count())
        .select_from(DropCommunity)
        .join(CommunityMember, CommunityMember.community_id == DropCommunity.community_id)
        .where(
            DropCommunity.drop_id == drop_id,
            CommunityMember.user_id == user_id,
            CommunityMember.status == MembershipStatus.ACTIVE,
        )
    )
    return int((await session.execute(stmt)).scalar_one()) > 0


# Built once: a drop page runs it on every poll, and building and keying the statement cost more
# CPU than PostgreSQL spends answering it (the ids go as one array, not an expanding IN).
DROPS_FOR_VIEWER = (
    select(
        Drop,
        User,
        select(DropCommunity.drop_id)
        .join(CommunityMember, CommunityMember.community_id == DropCommunity.community_id)
        .where(
            DropCommunity.drop_id == Drop.id,
            CommunityMember.user_id == bindparam("user_id"),
            CommunityMember.status == MembershipStatus.ACTIVE,
        )
        .exists(),
    )
    .join(User, User.id == bindparam("user_id"))
    .where(Drop.id == any_(bindparam("drop_ids", type_=ARRAY(BigInteger))))
)


async def drops_for_viewer(
    session: AsyncSession, user_id: int, drop_ids: Sequence[int]
) -> list[tuple[Drop, User, bool]]:
    """The drops among ``drop_ids`` with the viewer's account and whether the viewer is an
    active member of one of each drop's communities: what visibility decides on, in one
    round trip. No row when the account does not exist."""
    rows = await session.execute(DROPS_FOR_VIEWER, {"user_id": user_id, "drop_ids": list(drop_ids)})
    return [(d, u, bool(e)) for d, u, e in rows.all()]


async def order_by_key(session: AsyncSession, user_id: int, key: str) -> Order | None:
    stmt = select(Order).where(Order.user_id == user_id, Order.idempotency_key == key)
    return (await session.execute(stmt)).scalar_one_or_none()


async def insert_order(
    session: AsyncSession,
    *,
    drop_id: int,
    user_id: int,
    key: str,
    request_hash: bytes,
    quantity: int,
    address: dict[str, Any],
    team_id: int | None = None,
) -> Order | None:
    """The new order (from RETURNING: no read-back), or None when the drop refused it."""
    row = await session.execute(
        select(Order).from_statement(INSERT_ORDER),
        {
            "drop_id": drop_id,
            "user_id": user_id,
            "key": key,
            "hash": request_hash,
            "quantity": quantity,
            "address": address,
            "team_id": team_id,
        },
    )
    return row.scalar_one_or_none()


PLAN_EACH_TIME = text("SET LOCAL plan_cache_mode = force_custom_plan")


async def plan_each_time(session: AsyncSession) -> None:
    """For this transaction, plan each statement for its actual parameters. A batch statement
    over arrays (unnest) gets a generic plan after five runs, and the generic plan of the
    per-member limit read every order of the drop: 9.2 s instead of 3.3 s for 6,000 orders."""
    conn = await session.connection()
    await conn.execute(PLAN_EACH_TIME)


async def orders_by_keys(
    session: AsyncSession, pairs: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], Order]:
    """Orders by (member, idempotency key), many at once."""
    if not pairs:
        return {}
    stmt = select(Order).where(
        tuple_(Order.user_id, Order.idempotency_key).in_([(u, k) for u, k in pairs])
    )
    return {(o.user_id, o.idempotency_key): o for o in (await session.execute(stmt)).scalars()}


async def insert_orders(
    session: AsyncSession,
    requests: Sequence[tuple[int, int, str, bytes, int, dict[str, Any]]],
) -> list[Order]:
    """Many (drop, member, key, hash, quantity, address) orders at once; those the drops
    accepted (a member's key already used is skipped)."""
    rows = await session.execute(
        select(Order).from_statement(INSERT_ORDERS),
        {
            "drop_ids": [r[0] for r in requests],
            "user_ids": [r[1] for r in requests],
            "keys": [r[2] for r in requests],
            "hashes": [r[3] for r in requests],
            "quantities": [r[4] for r in requests],
            "addresses": [json.dumps(r[5], ensure_ascii=False) for r in requests],
        },
    )
    return list(rows.scalars())


async def accepted(session: AsyncSession, requests: Sequence[tuple[int, int, int]]) -> set[int]:
    """The positions of the (drop, member, quantity) requests that ``insert_orders`` would
    accept now, written nothing."""
    rows = await session.execute(
        ACCEPTED,
        {
            "drop_ids": [r[0] for r in requests],
            "user_ids": [r[1] for r in requests],
            "quantities": [r[2] for r in requests],
        },
    )
    return {int(i) - 1 for (i,) in rows}


async def delete_orders(session: AsyncSession, order_ids: Sequence[int]) -> None:
    """Orders inserted in this transaction that are not to be (refused by Redis)."""
    if order_ids:
        await session.execute(delete(Order).where(Order.id.in_(order_ids)))


async def insert_holds(session: AsyncSession, holds: Sequence[tuple[int, int, Held]]) -> bool:
    """``insert_hold`` for many (drop, order, held) at once; False when a unit is above its
    cap (the caller rolls back). A unit already held raises IntegrityError."""
    lines = [(o, v, q) for _, o, h in holds for v, q in h.lines]
    units = [(d, u, o) for d, o, h in holds for u in h.units]
    vunits = [(d, v, u, o) for d, o, h in holds for v, us in h.variant_units.items() for u in us]
    conn = await session.connection()
    row = (
        await conn.execute(
            INSERT_HOLDS,
            {
                "line_orders": [x[0] for x in lines],
                "line_variants": [x[1] for x in lines],
                "line_quantities": [x[2] for x in lines],
                "unit_drops": [x[0] for x in units],
                "units": [x[1] for x in units],
                "unit_orders": [x[2] for x in units],
                "vunit_drops": [x[0] for x in vunits],
                "vunit_variants": [x[1] for x in vunits],
                "vunits": [x[2] for x in vunits],
                "vunit_orders": [x[3] for x in vunits],
            },
        )
    ).one()
    return int(row[0]) == len(units) and int(row[1]) == len(vunits)


async def insert_hold(session: AsyncSession, drop_id: int, order_id: int, held: Held) -> bool:
    """Write an order's lines and held units; False when a unit is above its cap (the caller
    rolls back). A unit already held raises IntegrityError."""
    vunits = [(v, u) for v, us in held.variant_units.items() for u in us]
    conn = await session.connection()
    row = (
        await conn.execute(
            INSERT_HOLD,
            {
                "order_id": order_id,
                "drop_id": drop_id,
                "line_variants": [v for v, _ in held.lines],
                "line_quantities": [q for _, q in held.lines],
                "units": held.units,
                "vunit_variants": [v for v, _ in vunits],
                "vunits": [u for _, u in vunits],
            },
        )
    ).one()
    return int(row[0]) == len(held.units) and int(row[1]) == len(vunits)


async def units_of_member(session: AsyncSession, drop_id: int, user_id: int) -> int:
    """Units the member's live orders of the drop hold."""
    stmt = select(func.coalesce(func.sum(Order.quantity), 0)).where(
        Order.drop_id == drop_id,
        Order.user_id == user_id,
        Order.status.in_(LIVE_ORDER_STATUSES),
    )
    return int((await session.execute(stmt)).scalar_one())


async def get_order(session: AsyncSession, order_id: int) -> Order | None:
    return await session.get(Order, order_id)


async def get_orders(session: AsyncSession, order_ids: Sequence[int]) -> list[Order]:
    return list((await session.execute(select(Order).where(Order.id.in_(order_ids)))).scalars())


async def get_variant(session: AsyncSession, variant_id: int) -> DropVariant | None:
    return await session.get(DropVariant, variant_id)


async def variants_by_id(session: AsyncSession, variant_ids: Sequence[int]) -> list[DropVariant]:
    return list(
        (
            await session.execute(select(DropVariant).where(DropVariant.id.in_(variant_ids)))
        ).scalars()
    )


async def drops_by_id(session: AsyncSession, drop_ids: Sequence[int]) -> list[Drop]:
    return list((await session.execute(select(Drop).where(Drop.id.in_(drop_ids)))).scalars())


async def get_order_for_update(session: AsyncSession, order_id: int) -> Order | None:
    stmt = select(Order).where(Order.id == order_id).with_for_update(key_share=True)
    return (
        await session.execute(stmt.execution_options(populate_existing=True))
    ).scalar_one_or_none()


async def order_lines(
    session: AsyncSession, order_ids: Sequence[int]
) -> dict[int, list[OrderLine]]:
    stmt = select(OrderLine).where(OrderLine.order_id.in_(order_ids))
    out: dict[int, list[OrderLine]] = {i: [] for i in order_ids}
    for line in (await session.execute(stmt)).scalars():
        out[line.order_id].append(line)
    return out


async def live_reservations(session: AsyncSession, drop_id: int) -> list[Reservation]:
    """Every order that holds capacity: its member, lines and the unit numbers it holds."""
    live = Order.drop_id == drop_id, Order.status.in_(LIVE_ORDER_STATUSES)
    rows = (
        await session.execute(select(Order.id, Order.user_id, Order.team_id).where(*live))
    ).all()
    members = {order_id: member for order_id, member, _ in rows}
    teams = {order_id: team for order_id, _, team in rows}
    lines: dict[int, list[tuple[int, int]]] = {o: [] for o in members}
    stmt = (
        select(OrderLine.order_id, OrderLine.variant_id, OrderLine.quantity)
        .join(Order, Order.id == OrderLine.order_id)
        .where(*live)
        .order_by(OrderLine.order_id, OrderLine.variant_id)
    )
    for order_id, variant_id, qty in (await session.execute(stmt)).all():
        lines[order_id].append((variant_id, qty))
    units: dict[int, list[int]] = {o: [] for o in members}
    stmt_units = select(HeldUnit.order_id, HeldUnit.unit).where(HeldUnit.drop_id == drop_id)
    for order_id, unit in (await session.execute(stmt_units)).all():
        if order_id in units:
            units[order_id].append(unit)
    vunits: dict[int, dict[int, list[int]]] = {o: {} for o in members}
    stmt_vunits = (
        select(HeldVariantUnit.order_id, HeldVariantUnit.variant_id, HeldVariantUnit.unit)
        .join(DropVariant, DropVariant.id == HeldVariantUnit.variant_id)
        .where(DropVariant.drop_id == drop_id)
    )
    for order_id, variant_id, unit in (await session.execute(stmt_vunits)).all():
        if order_id in vunits:
            vunits[order_id].setdefault(variant_id, []).append(unit)
    return [
        Reservation(
            order_id,
            member,
            Held(lines[order_id], sorted(units[order_id]), vunits[order_id], teams[order_id]),
        )
        for order_id, member in sorted(members.items())
    ]


async def sold(session: AsyncSession, drop_id: int) -> tuple[int, dict[int, int]]:
    """Units held by live orders: total and per variant (sums over insert-only lines)."""
    stmt = (
        select(OrderLine.variant_id, func.sum(OrderLine.quantity))
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.drop_id == drop_id, Order.status.in_(LIVE_ORDER_STATUSES))
        .group_by(OrderLine.variant_id)
    )
    per_variant = {int(v): int(q) for v, q in (await session.execute(stmt)).all()}
    return sum(per_variant.values()), per_variant


async def set_order_status(
    session: AsyncSession,
    order_id: int,
    expected: Sequence[OrderStatus],
    new: OrderStatus,
    **values: Any,
) -> bool:
    """Guarded transition: changes the row only if it is still in an expected state."""
    stmt = (
        update(Order)
        .where(Order.id == order_id, Order.status.in_(expected))
        .values(status=new, **values)
        .returning(Order.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def expired_unpaid(session: AsyncSession, now: datetime, limit: int = 500) -> list[int]:
    stmt = (
        select(Order.id)
        .where(Order.status == OrderStatus.PENDING_PAYMENT, Order.expires_at <= now)
        .order_by(Order.expires_at)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def drop_ids_in(session: AsyncSession, statuses: Sequence[DropStatus]) -> list[int]:
    stmt = select(Drop.id).where(Drop.status.in_(statuses)).order_by(Drop.id)
    return list((await session.execute(stmt)).scalars())


async def drops_due(
    session: AsyncSession, statuses: Sequence[DropStatus], column: str, now: datetime
) -> list[int]:
    col = getattr(Drop, column)
    stmt = select(Drop.id).where(Drop.status.in_(statuses), col <= now).order_by(col).limit(100)
    return list((await session.execute(stmt)).scalars())


async def live_order_statuses(
    session: AsyncSession, drop_id: int, statuses: Sequence[OrderStatus]
) -> list[tuple[int, OrderStatus]]:
    stmt = (
        select(Order.id, Order.status)
        .where(Order.drop_id == drop_id, Order.status.in_(statuses))
        .order_by(Order.id)
    )
    return [(i, st) for i, st in (await session.execute(stmt)).all()]


async def orders_of_member(session: AsyncSession, user_id: int, page: KeyPage) -> list[Order]:
    stmt = page.apply(select(Order).where(Order.user_id == user_id), Order.id)
    return list((await session.execute(stmt)).scalars())


async def count_orders_of_member(session: AsyncSession, user_id: int) -> int:
    stmt = select(func.count()).select_from(Order).where(Order.user_id == user_id)
    return int(await session.scalar(stmt) or 0)


async def drops_for_member(
    session: AsyncSession,
    user_id: int,
    statuses: Sequence[DropStatus],
    after_id: int,
    limit: int,
    *,
    owns: bool = True,
) -> list[Drop]:
    member_of = select(CommunityMember.community_id).where(
        CommunityMember.user_id == user_id, CommunityMember.status == MembershipStatus.ACTIVE
    )
    owned = select(Community.id).where(Community.owner_id == user_id, true() if owns else false())
    eligible = select(DropCommunity.drop_id).where(
        DropCommunity.community_id.in_(member_of.union(owned))
    )
    stmt = (
        select(Drop)
        .where(Drop.id.in_(eligible), Drop.status.in_(statuses), Drop.id > after_id)
        .order_by(Drop.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


# -- teams -------------------------------------------------------------------------------------

_LIVE_SEAT = Order.status.in_(LIVE_ORDER_STATUSES)
PAID_SEAT_STATUSES = tuple(s for s in LIVE_ORDER_STATUSES if s is not OrderStatus.PENDING_PAYMENT)


async def add_team(session: AsyncSession, team: Team) -> Team:
    session.add(team)
    await session.flush()
    return team


async def team(session: AsyncSession, team_id: int, *, for_update: bool = False) -> Team | None:
    stmt = select(Team).where(Team.id == team_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def team_by_token(session: AsyncSession, token: str) -> Team | None:
    return (
        await session.execute(select(Team).where(Team.share_token == token))
    ).scalar_one_or_none()


async def seats(session: AsyncSession, team_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """(seats taken, seats paid) per team: a seat is a live order of the team."""
    stmt = (
        select(
            Order.team_id,
            func.count(),
            func.count().filter(Order.status.in_(PAID_SEAT_STATUSES)),
        )
        .where(Order.team_id.in_(team_ids), _LIVE_SEAT)
        .group_by(Order.team_id)
    )
    found = {t: (int(n), int(p)) for t, n, p in (await session.execute(stmt)).all() if t}
    return {t: found.get(t, (0, 0)) for t in team_ids}


async def seat_state(session: AsyncSession, team_id: int, user_id: int) -> tuple[int, bool]:
    """(seats taken, whether the member holds one): one statement."""
    stmt = select(
        func.count(), func.coalesce(func.bool_or(Order.user_id == user_id), false())
    ).where(Order.team_id == team_id, _LIVE_SEAT)
    taken, mine = (await session.execute(stmt)).one()
    return int(taken), bool(mine)


def _seat_count(*statuses: OrderStatus) -> Any:
    return (
        select(func.count())
        .where(Order.team_id == Team.id, Order.status.in_(statuses))
        .correlate(Team)
        .scalar_subquery()
    )


TEAM_VIEWS = (
    select(
        Team,
        _seat_count(*LIVE_ORDER_STATUSES),
        _seat_count(*PAID_SEAT_STATUSES),
        User.display_name,
        User.avatar_url,
    )
    .join(User, User.id == Team.leader_id)
    .where(Team.id == any_(bindparam("team_ids", type_=ARRAY(BigInteger))))
)


async def team_views(
    session: AsyncSession, team_ids: Sequence[int]
) -> list[tuple[Team, int, int, str, str | None]]:
    """Teams with their seats taken and paid and their leader's public profile: one
    statement for any number of teams, in the order of ``team_ids``."""
    if not team_ids:
        return []
    rows = (await session.execute(TEAM_VIEWS, {"team_ids": list(team_ids)})).all()
    by_id = {t.id: (t, int(n), int(p), name, avatar) for t, n, p, name, avatar in rows}
    return [by_id[t] for t in team_ids if t in by_id]


async def lock_team_orders(session: AsyncSession, team_id: int) -> list[Order]:
    """The team's live orders, row-locked in id order (before the team row: the payment
    webhook locks an order, then its team)."""
    stmt = (
        select(Order)
        .where(Order.team_id == team_id, _LIVE_SEAT)
        .order_by(Order.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(stmt)).scalars())


async def open_teams(
    session: AsyncSession, drop_id: int, now: datetime, offset: int, limit: int
) -> list[int]:
    """Ids of a drop's open teams with a free seat, fullest first, then the nearest deadline."""
    taken = (
        select(func.count())
        .where(Order.team_id == Team.id, _LIVE_SEAT)
        .correlate(Team)
        .scalar_subquery()
    )
    stmt = (
        select(Team.id)
        .where(
            Team.drop_id == drop_id,
            Team.status == TeamStatus.OPEN,
            Team.deadline > now,
            taken < Team.size,
        )
        .order_by(taken.desc(), Team.deadline, Team.id)
        .offset(offset)
        .limit(limit)
    )
    return [int(t) for t in (await session.execute(stmt)).scalars() if t is not None]


async def teams_of_member(
    session: AsyncSession, user_id: int, after_id: int, limit: int
) -> list[int]:
    """Ids of the teams the member has (or had) an order in, newest first."""
    stmt = (
        select(Order.team_id)
        .where(
            Order.user_id == user_id,
            Order.team_id.is_not(None),
            Order.team_id < after_id if after_id else true(),
        )
        .distinct()
        .order_by(Order.team_id.desc())
        .limit(limit)
    )
    return [int(t) for t in (await session.execute(stmt)).scalars() if t is not None]


async def due_teams(session: AsyncSession, now: datetime, limit: int = 500) -> list[int]:
    stmt = (
        select(Team.id)
        .where(Team.status == TeamStatus.OPEN, Team.deadline <= now)
        .order_by(Team.deadline)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def open_team_ids(session: AsyncSession, drop_id: int) -> list[int]:
    stmt = select(Team.id).where(Team.drop_id == drop_id, Team.status == TeamStatus.OPEN)
    return list((await session.execute(stmt.order_by(Team.id))).scalars())


async def has_full_team(session: AsyncSession, drop_id: int) -> bool:
    stmt = select(Team.id).where(Team.drop_id == drop_id, Team.status == TeamStatus.FULL)
    return (await session.execute(stmt.limit(1))).first() is not None


async def poll_drafts(
    session: AsyncSession, poll_ids: Sequence[int]
) -> list[tuple[int, int, Drop]]:
    """(poll, poll's owner, draft) for the drafts the polls' closes made, in id order."""
    stmt = (
        select(PollOption.poll_id, Poll.owner_id, Drop)
        .join(PollOption, PollOption.id == Drop.poll_option_id)
        .join(Poll, Poll.id == PollOption.poll_id)
        .where(Poll.id.in_(poll_ids), Drop.drafted_from_poll.is_(True))
        .order_by(Drop.id)
    )
    return [(int(p), int(o), d) for p, o, d in (await session.execute(stmt)).all()]


HEAD_START_VOTERS = text(
    """
    SELECT b.user_id FROM ballots b JOIN poll_options po ON po.id = :option
    WHERE b.poll_id = po.poll_id AND b.option_ids @> ARRAY[CAST(:option AS bigint)]
    ORDER BY b.user_id
    """
)


async def is_head_start_voter(session: AsyncSession, drop: Drop, user_id: int) -> bool:
    """Whether the member's ballot picks the drop's poll option (a head start only)."""
    if not drop.voter_head_start_minutes or drop.poll_option_id is None:
        return False
    stmt = text(
        "SELECT EXISTS (SELECT 1 FROM ballots b JOIN poll_options po ON po.id = :option"
        " WHERE b.poll_id = po.poll_id AND b.user_id = :user"
        " AND b.option_ids @> ARRAY[CAST(:option AS bigint)])"
    )
    params = {"option": drop.poll_option_id, "user": user_id}
    return bool((await session.execute(stmt, params)).scalar_one())


async def head_start_voters(session: AsyncSession, drop: Drop) -> list[int]:
    """The members whose ballot picks the drop's poll option, when it has a head start."""
    if not drop.voter_head_start_minutes or drop.poll_option_id is None:
        return []
    rows = await session.execute(HEAD_START_VOTERS, {"option": drop.poll_option_id})
    return [int(u) for u in rows.scalars()]


EARLY_DUE = text(
    """
    SELECT d.id FROM drops d
    WHERE d.status = 'SCHEDULED' AND d.voter_head_start_minutes > 0
      AND d.opens_at - make_interval(mins => d.voter_head_start_minutes) <= :now
      AND NOT EXISTS (SELECT 1 FROM notification_events e
                      WHERE e.kind = 'DROP_EARLY_ACCESS' AND e.subject_id = d.id)
    ORDER BY d.id LIMIT 500
    """
)


async def drops_early_due(session: AsyncSession, now: datetime) -> list[int]:
    """Scheduled drops whose voters' head start began and whose voters were not told yet."""
    return [int(i) for i in (await session.execute(EARLY_DUE, {"now": now})).scalars()]
