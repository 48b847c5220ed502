"""A KOC's figures, exact, from PostgreSQL: how a poll's voters converted into buyers of the
styles that came out of their options, and what a drop sold.

Definitions (docs/api.md says the same):

* **audience** of a poll or a drop: the distinct active members of its communities, now.
* a member **pre-ordered** a style when they have an order in a drop made from that poll
  option that is live (pending payment or paid) or was paid at some point (a refund after a
  failed drop does not undo the intent).
* per poll option: **voters** (their current ballot picks it), of them **voter buyers**
  (pre-ordered that style); **non-voters** (audience members whose ballot does not pick it), of
  them **non-voter buyers**. Conversion = buyers / members of the group.
* per drop: **buyers** are members whose orders of the drop hold money (payments minus refunds
  above zero); **units** the quantity of those orders that are not cancelled or refunded; **GMV**
  what its orders hold (payments minus refunds, from the ledger); **refunds** what was refunded
  and on how many orders; **ARPU** = GMV / audience, **ARPPU** = GMV / buyers (fen, rounded to
  the nearest); **team fill rate** = FULL teams / teams opened; **referred buyers**: buyers whose
  order someone brought (``domain/referrals``: first touch wins, a member's invite into the
  community first, else the first shared drop or team link), and the GMV those orders hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.drops import repository as drop_repo
from domain.errors import NotFound
from domain.identity import roles
from domain.identity.actor import Actor
from domain.polls import repository as poll_repo
from domain.referrals.repository import ORDER_REFERRER

COUNTED = (
    "(o.paid_at IS NOT NULL OR o.status IN ('PENDING_PAYMENT', 'DEPOSIT_PAID', 'PAID',"
    " 'CONFIRMED', 'IN_PRODUCTION', 'SHIPPED', 'DELIVERED'))"
)

POLL_OPTIONS = text(
    f"""
    WITH audience AS (
      SELECT DISTINCT cm.user_id FROM poll_communities pc
      JOIN community_members cm ON cm.community_id = pc.community_id AND cm.status = 'ACTIVE'
      WHERE pc.poll_id = :poll
    ),
    voters AS (
      SELECT user_id, option_ids FROM ballots
      WHERE poll_id = :poll AND cardinality(option_ids) > 0
    ),
    buyers AS (
      SELECT DISTINCT d.poll_option_id AS option_id, o.user_id
      FROM orders o JOIN drops d ON d.id = o.drop_id
      JOIN poll_options po ON po.id = d.poll_option_id AND po.poll_id = :poll
      WHERE {COUNTED}
    )
    SELECT po.id, po.title, po.final_rank, po.advanced,
      (SELECT count(*) FROM drops d WHERE d.poll_option_id = po.id AND d.status <> 'DRAFT')
        AS drops,
      (SELECT count(*) FROM voters v WHERE po.id = ANY(v.option_ids)) AS voters,
      (SELECT count(*) FROM voters v JOIN buyers b ON b.user_id = v.user_id
        AND b.option_id = po.id WHERE po.id = ANY(v.option_ids)) AS voter_buyers,
      (SELECT count(*) FROM audience a WHERE NOT EXISTS (
        SELECT 1 FROM voters v WHERE v.user_id = a.user_id AND po.id = ANY(v.option_ids)))
        AS non_voters,
      (SELECT count(*) FROM buyers b JOIN audience a ON a.user_id = b.user_id
        WHERE b.option_id = po.id AND NOT EXISTS (
          SELECT 1 FROM voters v WHERE v.user_id = b.user_id AND po.id = ANY(v.option_ids)))
        AS non_voter_buyers
    FROM poll_options po WHERE po.poll_id = :poll ORDER BY po.position, po.id
    """
)

POLL_TOTALS = text(
    """
    SELECT
      (SELECT count(*) FROM ballots WHERE poll_id = :poll AND cardinality(option_ids) > 0)
        AS voters,
      (SELECT count(DISTINCT cm.user_id) FROM poll_communities pc
        JOIN community_members cm ON cm.community_id = pc.community_id AND cm.status = 'ACTIVE'
        WHERE pc.poll_id = :poll) AS audience
    """
)

DROP_FIGURES = text(
    f"""
    WITH held AS (
      SELECT o.id, o.user_id, o.quantity, o.status, o.poll_vote,
        coalesce(sum(CASE WHEN l.kind = 'PAYMENT' THEN l.amount_fen ELSE -l.amount_fen END), 0)
          AS net,
        coalesce(sum(l.amount_fen) FILTER (WHERE l.kind = 'REFUND'), 0) AS refunded
      FROM orders o LEFT JOIN payment_ledger l ON l.order_id = o.id
      WHERE o.drop_id = :drop GROUP BY o.id
    ),
    audience AS (
      SELECT DISTINCT cm.user_id FROM drop_communities dc
      JOIN community_members cm ON cm.community_id = dc.community_id AND cm.status = 'ACTIVE'
      WHERE dc.drop_id = :drop
    ),
    referred AS (  -- orders whose buyer someone brought (domain/referrals: first touch wins)
      SELECT o.id FROM orders o WHERE o.drop_id = :drop AND {ORDER_REFERRER} IS NOT NULL
    )
    SELECT
      (SELECT count(DISTINCT user_id) FROM held WHERE net > 0) AS buyers,
      (SELECT coalesce(sum(quantity), 0) FROM held
        WHERE net > 0 AND status NOT IN ('CANCELLED', 'REFUNDED')) AS units,
      (SELECT coalesce(sum(net), 0) FROM held) AS gmv,
      (SELECT coalesce(sum(refunded), 0) FROM held) AS refunded_fen,
      (SELECT count(*) FROM held WHERE refunded > 0) AS refunded_orders,
      (SELECT count(*) FROM audience) AS audience,
      (SELECT count(DISTINCT h.user_id) FROM held h JOIN referred r ON r.id = h.id
        WHERE h.net > 0) AS referred_buyers,
      (SELECT coalesce(sum(h.net), 0) FROM held h JOIN referred r ON r.id = h.id)
        AS referred_gmv,
      (SELECT count(*) FROM teams WHERE drop_id = :drop) AS teams,
      (SELECT count(*) FROM teams WHERE drop_id = :drop AND status = 'FULL') AS full_teams,
      (SELECT count(DISTINCT user_id) FROM held WHERE net > 0 AND poll_vote = 'FOR_OPTION')
        AS buyers_for_option,
      (SELECT count(DISTINCT user_id) FROM held WHERE net > 0 AND poll_vote = 'OTHER_OPTION')
        AS buyers_other_option,
      (SELECT count(DISTINCT user_id) FROM held WHERE net > 0 AND poll_vote = 'DID_NOT_VOTE')
        AS buyers_did_not_vote
    """
)


@dataclass(frozen=True)
class Conversion:
    members: int
    buyers: int

    @property
    def rate(self) -> float | None:
        return self.buyers / self.members if self.members else None


@dataclass(frozen=True)
class OptionFigures:
    option_id: int
    title: str
    final_rank: int | None
    advanced: bool
    drops: int
    voters: Conversion
    non_voters: Conversion


@dataclass(frozen=True)
class PollFigures:
    poll_id: int
    voters: int
    audience: int
    options: list[OptionFigures]


@dataclass(frozen=True)
class DropFigures:
    drop_id: int
    currency: str
    buyers: int
    units: int
    gmv_fen: int
    refunded_fen: int
    refunded_orders: int
    audience: int
    referred_buyers: int
    referred_gmv_fen: int
    teams: int
    full_teams: int
    buyers_for_option: int = 0
    buyers_other_option: int = 0
    buyers_did_not_vote: int = 0

    @property
    def arpu_fen(self) -> int | None:
        return _per(self.gmv_fen, self.audience)

    @property
    def arppu_fen(self) -> int | None:
        return _per(self.gmv_fen, self.buyers)

    @property
    def team_fill_rate(self) -> float | None:
        return self.full_teams / self.teams if self.teams else None

    @property
    def referred_gmv_share(self) -> float | None:
        return self.referred_gmv_fen / self.gmv_fen if self.gmv_fen > 0 else None


def _per(total: int, n: int) -> int | None:
    """Fen per head, rounded half up (exact integers: no float on money)."""
    return (2 * total + n) // (2 * n) if n else None


async def poll_figures(session: AsyncSession, actor: Actor, poll_id: int) -> PollFigures:
    """The poll's KOC and operators only."""
    user = await roles.require_user(session, actor)
    poll = await poll_repo.get(session, poll_id)
    if poll is None or not roles.manages(user, poll.owner_id):
        raise NotFound("No such poll.", field="pollId")
    totals = (await session.execute(POLL_TOTALS, {"poll": poll_id})).one()
    rows = (await session.execute(POLL_OPTIONS, {"poll": poll_id})).all()
    return PollFigures(
        poll_id=poll_id,
        voters=int(totals.voters),
        audience=int(totals.audience),
        options=[
            OptionFigures(
                option_id=r.id,
                title=r.title,
                final_rank=r.final_rank,
                advanced=bool(r.advanced),
                drops=int(r.drops),
                voters=Conversion(int(r.voters), int(r.voter_buyers)),
                non_voters=Conversion(int(r.non_voters), int(r.non_voter_buyers)),
            )
            for r in rows
        ],
    )


async def drop_figures(session: AsyncSession, actor: Actor, drop_id: int) -> DropFigures:
    """The drop's KOC and operators only."""
    user = await roles.require_user(session, actor)
    drop = await drop_repo.get(session, drop_id)
    if drop is None or not roles.manages(user, drop.owner_id):
        raise NotFound("No such drop.", field="dropId")
    r = (await session.execute(DROP_FIGURES, {"drop": drop_id})).one()
    return DropFigures(
        drop_id=drop_id,
        currency=drop.currency,
        buyers=int(r.buyers),
        units=int(r.units),
        gmv_fen=int(r.gmv),
        refunded_fen=int(r.refunded_fen),
        refunded_orders=int(r.refunded_orders),
        audience=int(r.audience),
        referred_buyers=int(r.referred_buyers),
        referred_gmv_fen=int(r.referred_gmv),
        teams=int(r.teams),
        full_teams=int(r.full_teams),
        buyers_for_option=int(r.buyers_for_option),
        buyers_other_option=int(r.buyers_other_option),
        buyers_did_not_vote=int(r.buyers_did_not_vote),
    )
