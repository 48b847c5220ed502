"""Every SQL statement of the referrals context."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.identity.models import User
from domain.referrals.models import RewardEntry

# Who brought the buyer of order ``o`` (first touch wins): the member (not the KOC) who invited
# them into one of the drop's communities before the order, else whoever shared the drop or team
# link they first came through before the order. One referrer per order, never the buyer.
ORDER_REFERRER = """
coalesce(
  (SELECT cm.invited_by_id FROM drop_communities dc
     JOIN communities c ON c.id = dc.community_id
     JOIN community_members cm ON cm.community_id = dc.community_id AND cm.user_id = o.user_id
   WHERE dc.drop_id = o.drop_id AND cm.invited_by_id IS NOT NULL
     AND cm.invited_by_id NOT IN (o.user_id, c.owner_id) AND cm.joined_at <= o.created_at
   ORDER BY cm.joined_at, cm.community_id LIMIT 1),
  (SELECT r.referrer_id FROM drop_referrals r
   WHERE r.drop_id = o.drop_id AND r.referee_id = o.user_id AND r.created_at <= o.created_at))
"""

# The referral edges that bear on a drop: member invites into its communities (not the KOC's own
# code) and first touches on the drop.
_EDGES = """
edges AS (
  SELECT cm.user_id AS referee, cm.invited_by_id AS referrer
  FROM drop_communities dc JOIN communities c ON c.id = dc.community_id
  JOIN community_members cm ON cm.community_id = dc.community_id
  WHERE dc.drop_id = :drop AND cm.invited_by_id IS NOT NULL
    AND cm.invited_by_id NOT IN (cm.user_id, c.owner_id)
  UNION
  SELECT referee_id, referrer_id FROM drop_referrals WHERE drop_id = :drop
),
up(u, depth) AS (
  SELECT CAST(:referrer AS bigint), 0
  UNION
  SELECT e.referrer, up.depth + 1 FROM up JOIN edges e ON e.referee = up.u WHERE up.depth < 64
)
"""

CYCLE = text(f"WITH RECURSIVE {_EDGES} SELECT EXISTS (SELECT 1 FROM up WHERE u = :referee)")

FIRST_TOUCH = text(
    """
    SELECT coalesce(
      (SELECT cm.invited_by_id FROM drop_communities dc
         JOIN communities c ON c.id = dc.community_id
         JOIN community_members cm ON cm.community_id = dc.community_id AND cm.user_id = :referee
       WHERE dc.drop_id = :drop AND cm.invited_by_id IS NOT NULL
         AND cm.invited_by_id NOT IN (:referee, c.owner_id)
       ORDER BY cm.joined_at, cm.community_id LIMIT 1),
      (SELECT referrer_id FROM drop_referrals WHERE drop_id = :drop AND referee_id = :referee))
    """
)

# Record a first touch unless the member has one, or it would close a cycle (the implicit touch
# of a team link). Returns the row when it was written.
RECORD = text(
    f"""
    WITH RECURSIVE {_EDGES}
    INSERT INTO drop_referrals (drop_id, referee_id, referrer_id, source)
    SELECT :drop, :referee, :referrer, :source
    WHERE CAST(:referrer AS bigint) <> CAST(:referee AS bigint)
      AND NOT EXISTS (SELECT 1 FROM up WHERE u = :referee)
    ON CONFLICT (drop_id, referee_id) DO NOTHING
    RETURNING referrer_id
    """
)

_REWARD = """
CASE WHEN d.referral_fixed_fen IS NOT NULL THEN d.referral_fixed_fen
     ELSE (o.owed_fen * d.referral_basis_points) / 10000 END
"""

# Rewards earned by the direct referrers of the drop's paid orders (or of one order): the drop
# succeeded and the order is confirmed (fully paid). Exactly once per order (unique index).
EARN = text(
    f"""
    INSERT INTO referral_rewards (user_id, kind, amount_fen, currency, basis_fen, order_id,
                                  drop_id)
    SELECT x.referrer, 'EARNED', {_REWARD}, o.currency, o.owed_fen, o.id, o.drop_id
    FROM orders o JOIN drops d ON d.id = o.drop_id
    CROSS JOIN LATERAL (SELECT {ORDER_REFERRER} AS referrer) x
    WHERE o.drop_id = :drop AND (CAST(:order AS bigint) IS NULL OR o.id = :order)
      AND d.status = 'SUCCEEDED'
      AND o.status IN ('CONFIRMED', 'IN_PRODUCTION', 'SHIPPED', 'DELIVERED')
      AND (d.referral_fixed_fen IS NOT NULL OR d.referral_basis_points IS NOT NULL)
      AND o.owed_fen > 0 AND x.referrer IS NOT NULL AND {_REWARD} > 0
    ON CONFLICT (order_id) WHERE kind = 'EARNED' DO NOTHING
    """
)

# After a refund of the order: what its reward keeps is pro rata of what the order still holds
# against what it cost when earned; the rest is reversed (computed, not remembered: a rerun
# reverses nothing more).
REVERSE = text(
    """
    WITH e AS (SELECT user_id, amount_fen, currency, basis_fen, drop_id FROM referral_rewards
               WHERE order_id = :order AND kind = 'EARNED'),
         r AS (SELECT coalesce(sum(amount_fen), 0) AS done FROM referral_rewards
               WHERE order_id = :order AND kind = 'REVERSED'),
         n AS (SELECT coalesce(sum(CASE WHEN kind = 'PAYMENT' THEN amount_fen
                                        ELSE -amount_fen END), 0) AS net
               FROM payment_ledger WHERE order_id = :order),
         due AS (SELECT e.*, e.amount_fen
                   - (e.amount_fen * LEAST(GREATEST(n.net, 0), e.basis_fen)) / e.basis_fen
                   - r.done AS amount
                 FROM e, r, n WHERE e.basis_fen > 0)
    INSERT INTO referral_rewards (user_id, kind, amount_fen, currency, order_id, drop_id)
    SELECT user_id, 'REVERSED', amount, currency, :order, drop_id FROM due WHERE amount > 0
    RETURNING amount_fen
    """
)

BALANCE = text(
    """
    SELECT
      coalesce(sum(amount_fen) FILTER (WHERE kind = 'EARNED'), 0) AS earned,
      coalesce(sum(amount_fen) FILTER (WHERE kind = 'REVERSED'), 0) AS reversed,
      coalesce(sum(amount_fen) FILTER (WHERE kind = 'PAID_OUT'), 0) AS paid_out
    FROM referral_rewards WHERE user_id = :user
    """
)

TOP_REFERRERS = text(
    f"""
    WITH held AS (
      SELECT o.id, o.user_id, o.quantity, o.status, {ORDER_REFERRER} AS referrer,
        (SELECT coalesce(sum(CASE WHEN l.kind = 'PAYMENT' THEN l.amount_fen
                                  ELSE -l.amount_fen END), 0)
         FROM payment_ledger l WHERE l.order_id = o.id) AS net
      FROM orders o WHERE o.drop_id = :drop
    ),
    rewards AS (
      SELECT user_id, sum(CASE WHEN kind = 'EARNED' THEN amount_fen ELSE -amount_fen END) AS fen
      FROM referral_rewards WHERE drop_id = :drop AND kind IN ('EARNED', 'REVERSED')
      GROUP BY user_id
    )
    SELECT h.referrer, u.display_name, u.avatar_url,
      count(DISTINCT h.user_id) AS buyers,
      coalesce(sum(h.quantity) FILTER (WHERE h.status NOT IN ('CANCELLED', 'REFUNDED')), 0)
        AS units,
      coalesce(max(rw.fen), 0) AS rewards
    FROM held h JOIN users u ON u.id = h.referrer LEFT JOIN rewards rw ON rw.user_id = h.referrer
    WHERE h.referrer IS NOT NULL AND h.net > 0
    GROUP BY h.referrer, u.display_name, u.avatar_url
    ORDER BY rewards DESC, buyers DESC, h.referrer
    LIMIT :limit
    """
)

INVITEES = text(
    """
    SELECT cm.user_id, u.display_name, u.avatar_url, cm.joined_at,
      (SELECT count(*) FROM community_members k
       WHERE k.community_id = cm.community_id AND k.invited_by_id = cm.user_id
         AND k.user_id <> cm.user_id) AS invitees
    FROM community_members cm JOIN users u ON u.id = cm.user_id
    JOIN communities c ON c.id = cm.community_id
    WHERE cm.community_id = :community AND cm.user_id > :after
      AND (CASE WHEN CAST(:inviter AS bigint) IS NULL
                THEN cm.invited_by_id IS NULL OR cm.invited_by_id IN (c.owner_id, cm.user_id)
                ELSE cm.invited_by_id = :inviter AND cm.user_id <> :inviter END)
    ORDER BY cm.user_id LIMIT :limit
    """
)


async def is_cycle(session: AsyncSession, drop_id: int, referee: int, referrer: int) -> bool:
    params = {"drop": drop_id, "referee": referee, "referrer": referrer}
    return bool((await session.execute(CYCLE, params)).scalar_one())


async def first_touch(session: AsyncSession, drop_id: int, referee: int) -> int | None:
    params = {"drop": drop_id, "referee": referee}
    found = (await session.execute(FIRST_TOUCH, params)).scalar_one()
    return None if found is None else int(found)


async def record(
    session: AsyncSession, drop_id: int, referee: int, referrer: int, source: str
) -> bool:
    params = {"drop": drop_id, "referee": referee, "referrer": referrer, "source": source}
    return (await session.execute(RECORD, params)).first() is not None


async def earn(session: AsyncSession, drop_id: int, order_id: int | None = None) -> int:
    result = await session.execute(EARN, {"drop": drop_id, "order": order_id})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def reverse(session: AsyncSession, order_id: int) -> int:
    return int(sum((await session.execute(REVERSE, {"order": order_id})).scalars()))


async def balance(session: AsyncSession, user_id: int) -> tuple[int, int, int]:
    row = (await session.execute(BALANCE, {"user": user_id})).one()
    return int(row.earned), int(row.reversed), int(row.paid_out)


async def lock_user(session: AsyncSession, user_id: int) -> bool:
    stmt = select(User.id).where(User.id == user_id).with_for_update()
    return (await session.execute(stmt)).first() is not None


async def payout_by_key(session: AsyncSession, user_id: int, key: str) -> RewardEntry | None:
    stmt = select(RewardEntry).where(
        RewardEntry.user_id == user_id, RewardEntry.idempotency_key == key
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def add(session: AsyncSession, entry: RewardEntry) -> RewardEntry:
    session.add(entry)
    await session.flush()
    return entry


async def entries(
    session: AsyncSession, user_id: int, after_id: int, limit: int
) -> list[RewardEntry]:
    """Newest first."""
    stmt = select(RewardEntry).where(RewardEntry.user_id == user_id)
    if after_id:
        stmt = stmt.where(RewardEntry.id < after_id)
    return list(
        (await session.execute(stmt.order_by(RewardEntry.id.desc()).limit(limit))).scalars()
    )


async def top_referrers(session: AsyncSession, drop_id: int, limit: int) -> list[Any]:
    return list((await session.execute(TOP_REFERRERS, {"drop": drop_id, "limit": limit})).all())


async def invitees(
    session: AsyncSession, community_id: int, inviter_id: int | None, after_id: int, limit: int
) -> list[Any]:
    params = {"community": community_id, "inviter": inviter_id, "after": after_id, "limit": limit}
    return list((await session.execute(INVITEES, params)).all())
