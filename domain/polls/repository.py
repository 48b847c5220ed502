"""Every SQL query of the polls context."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, false, func, or_, select, text, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import BigInteger

from domain.community.models import Community, CommunityMember, MembershipStatus
from domain.polls.models import Ballot, BallotVoid, Poll, PollCommunity, PollOption, PollStatus

# The vote is one statement: it inserts or replaces the ballot only if the poll is open now, the
# member belongs to an eligible community, and every option is the poll's. A re-vote with the same
# picks updates nothing (so its version stays). No row back means "refused or unchanged"; the
# caller then works out which, off the hot path.
CAST_VOTE = text(
    """
    WITH ok AS (
      SELECT p.id FROM polls p
      WHERE p.id = :poll_id AND p.status = 'OPEN' AND p.opens_at <= now() AND p.closes_at > now()
        AND cardinality(:option_ids) BETWEEN 1 AND p.max_choices
        AND (SELECT count(*) FROM poll_options o
             WHERE o.poll_id = p.id AND o.id = ANY(:option_ids)) = cardinality(:option_ids)
        AND EXISTS (SELECT 1 FROM poll_communities pc
                    JOIN community_members cm ON cm.community_id = pc.community_id
                    WHERE pc.poll_id = p.id AND cm.user_id = :user_id AND cm.status = 'ACTIVE'
                      AND cm.joined_at <= now() - make_interval(hours => p.min_member_age_hours))
        AND NOT EXISTS (SELECT 1 FROM ballot_voids v
                        WHERE v.poll_id = p.id AND v.user_id = :user_id AND v.restored_at IS NULL)
    )
    INSERT INTO ballots (poll_id, user_id, option_ids, version)
    SELECT id, :user_id, :option_ids, 1 FROM ok
    ON CONFLICT (poll_id, user_id) DO UPDATE
      SET option_ids = EXCLUDED.option_ids, version = ballots.version + 1, updated_at = now()
      WHERE ballots.option_ids IS DISTINCT FROM EXCLUDED.option_ids
    RETURNING version
    """
).bindparams(bindparam("option_ids", type_=ARRAY(BigInteger)))


# Many members' votes in one statement (group commit): the same checks as CAST_VOTE, row by row.
# One row per (poll, member) in a batch (ON CONFLICT cannot touch a row twice in one statement).
# Picks travel as text ('{1,2}') since arrays of unequal length do not unnest.
CAST_VOTES = text(
    """
    WITH req AS (
      SELECT * FROM unnest(CAST(:poll_ids AS bigint[]), CAST(:user_ids AS bigint[]),
                           CAST(:picks AS text[])) AS r(poll_id, user_id, picks)
    ), ok AS (
      SELECT r.poll_id, r.user_id, CAST(r.picks AS bigint[]) AS option_ids
      FROM req r JOIN polls p ON p.id = r.poll_id
      WHERE p.status = 'OPEN' AND p.opens_at <= now() AND p.closes_at > now()
        AND cardinality(CAST(r.picks AS bigint[])) BETWEEN 1 AND p.max_choices
        AND (SELECT count(*) FROM poll_options o
             WHERE o.poll_id = p.id AND o.id = ANY(CAST(r.picks AS bigint[])))
            = cardinality(CAST(r.picks AS bigint[]))
        AND EXISTS (SELECT 1 FROM poll_communities pc
                    JOIN community_members cm ON cm.community_id = pc.community_id
                    WHERE pc.poll_id = p.id AND cm.user_id = r.user_id AND cm.status = 'ACTIVE'
                      AND cm.joined_at <= now() - make_interval(hours => p.min_member_age_hours))
        AND NOT EXISTS (SELECT 1 FROM ballot_voids v
                        WHERE v.poll_id = p.id AND v.user_id = r.user_id AND v.restored_at IS NULL)
    )
    INSERT INTO ballots (poll_id, user_id, option_ids, version)
    SELECT poll_id, user_id, option_ids, 1 FROM ok
    ON CONFLICT (poll_id, user_id) DO UPDATE
      SET option_ids = EXCLUDED.option_ids, version = ballots.version + 1, updated_at = now()
      WHERE ballots.option_ids IS DISTINCT FROM EXCLUDED.option_ids
    RETURNING poll_id, user_id, version
    """
)


def lock_key(poll_id: int) -> int:
    # One 64-bit advisory lock key per poll, in a namespace of its own.
    return (0x504F4C4C << 32) | (poll_id & 0xFFFFFFFF)


LOCK_SHARED = text("SELECT pg_advisory_xact_lock_shared(:k)")


async def lock_shared(session: AsyncSession, poll_id: int) -> None:
    """Votes hold this until commit; closing takes it exclusively and so waits for them."""
    # Core execution on the session's connection: the ORM layer adds nothing to a bare statement.
    conn = await session.connection()
    await conn.execute(LOCK_SHARED, {"k": lock_key(poll_id)})


async def lock_exclusive(session: AsyncSession, poll_id: int) -> None:
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(poll_id)})


async def cast_vote(
    session: AsyncSession, poll_id: int, user_id: int, option_ids: list[int]
) -> int | None:
    conn = await session.connection()
    row = await conn.execute(
        CAST_VOTE, {"poll_id": poll_id, "user_id": user_id, "option_ids": option_ids}
    )
    return row.scalar_one_or_none()


PLAN_EACH_TIME = text("SET LOCAL plan_cache_mode = force_custom_plan")


async def plan_each_time(session: AsyncSession) -> None:
    """For this transaction, plan each statement for its actual parameters (a batch statement
    over arrays gets a poor generic plan after five runs)."""
    conn = await session.connection()
    await conn.execute(PLAN_EACH_TIME)


async def cast_votes(
    session: AsyncSession, ballots: Sequence[tuple[int, int, Sequence[int]]]
) -> dict[tuple[int, int], int]:
    """Write many (poll, user, picks) ballots at once; the new version of each one written
    (absent: refused or unchanged)."""
    conn = await session.connection()
    rows = await conn.execute(
        CAST_VOTES,
        {
            "poll_ids": [p for p, _, _ in ballots],
            "user_ids": [u for _, u, _ in ballots],
            "picks": ["{" + ",".join(str(o) for o in picks) + "}" for _, _, picks in ballots],
        },
    )
    return {(int(p), int(u)): int(v) for p, u, v in rows}


async def get(session: AsyncSession, poll_id: int) -> Poll | None:
    return await session.get(Poll, poll_id)


async def get_for_update(session: AsyncSession, poll_id: int) -> Poll | None:
    # NO KEY UPDATE: does not conflict with the KEY SHARE locks that ballot inserts take through
    # their foreign key, so votes are never blocked by a transition of the poll row.
    stmt = (
        select(Poll).where(Poll.id == poll_id).with_for_update(key_share=True)
    )  # FOR NO KEY UPDATE
    return (
        await session.execute(stmt.execution_options(populate_existing=True))
    ).scalar_one_or_none()


async def find_by_idempotency_key(session: AsyncSession, owner_id: int, key: str) -> Poll | None:
    stmt = select(Poll).where(Poll.owner_id == owner_id, Poll.idempotency_key == key)
    return (await session.execute(stmt)).scalar_one_or_none()


async def add(session: AsyncSession, poll: Poll) -> Poll:
    session.add(poll)
    await session.flush()
    return poll


async def options(session: AsyncSession, poll_id: int) -> list[PollOption]:
    stmt = select(PollOption).where(PollOption.poll_id == poll_id).order_by(PollOption.position)
    return list((await session.execute(stmt)).scalars())


async def options_of_polls(session: AsyncSession, poll_ids: Sequence[int]) -> list[PollOption]:
    stmt = (
        select(PollOption)
        .where(PollOption.poll_id.in_(poll_ids))
        .order_by(PollOption.poll_id, PollOption.position)
    )
    return list((await session.execute(stmt)).scalars())


async def get_option(session: AsyncSession, option_id: int) -> PollOption | None:
    return await session.get(PollOption, option_id)


async def replace_options(session: AsyncSession, poll_id: int, new: list[PollOption]) -> None:
    await session.execute(delete(PollOption).where(PollOption.poll_id == poll_id))
    session.add_all(new)
    await session.flush()


async def community_ids(session: AsyncSession, poll_id: int) -> list[int]:
    stmt = select(PollCommunity.community_id).where(PollCommunity.poll_id == poll_id)
    return list((await session.execute(stmt)).scalars())


async def replace_communities(session: AsyncSession, poll_id: int, ids: Sequence[int]) -> None:
    await session.execute(delete(PollCommunity).where(PollCommunity.poll_id == poll_id))
    session.add_all([PollCommunity(poll_id=poll_id, community_id=c) for c in ids])
    await session.flush()


async def is_eligible(session: AsyncSession, poll_id: int, user_id: int) -> bool:
    stmt = (
        select(func.count())
        .select_from(PollCommunity)
        .join(CommunityMember, CommunityMember.community_id == PollCommunity.community_id)
        .where(
            PollCommunity.poll_id == poll_id,
            CommunityMember.user_id == user_id,
            CommunityMember.status == MembershipStatus.ACTIVE,
        )
    )
    return int((await session.execute(stmt)).scalar_one()) > 0


async def ballot(session: AsyncSession, poll_id: int, user_id: int) -> Ballot | None:
    return await session.get(Ballot, (poll_id, user_id))


async def ballots_snapshot(session: AsyncSession, poll_id: int) -> list[tuple[int, int, list[int]]]:
    stmt = select(Ballot.user_id, Ballot.version, Ballot.option_ids).where(
        Ballot.poll_id == poll_id
    )
    return [(u, v, list(o)) for u, v, o in (await session.execute(stmt)).all()]


async def counts(session: AsyncSession, poll_id: int) -> tuple[dict[int, int], int]:
    """Votes per option and number of voters, from the ballots themselves."""
    option = func.unnest(Ballot.option_ids).label("option_id")
    per_option = select(option).where(Ballot.poll_id == poll_id).subquery()
    stmt = select(per_option.c.option_id, func.count()).group_by(per_option.c.option_id)
    votes = {int(o): int(c) for o, c in (await session.execute(stmt)).all()}
    voters = int(
        (
            await session.execute(
                select(func.count())
                .select_from(Ballot)
                .where(Ballot.poll_id == poll_id, func.cardinality(Ballot.option_ids) > 0)
            )
        ).scalar_one()
    )
    return votes, voters


async def voters_of_option(
    session: AsyncSession,
    poll_id: int,
    option_id: int,
    after_user_id: int = 0,
    limit: int | None = None,
) -> list[int]:
    stmt = (
        select(Ballot.user_id)
        .where(
            Ballot.poll_id == poll_id,
            Ballot.option_ids.contains([option_id]),
            Ballot.user_id > after_user_id,
        )
        .order_by(Ballot.user_id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await session.execute(stmt)).scalars())


async def due_for_closing(session: AsyncSession, now: datetime, limit: int = 100) -> list[int]:
    stmt = (
        select(Poll.id)
        .where(Poll.status == PollStatus.OPEN, Poll.closes_at <= now)
        .order_by(Poll.closes_at)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def open_poll_ids(session: AsyncSession) -> list[int]:
    stmt = select(Poll.id).where(Poll.status == PollStatus.OPEN).order_by(Poll.id)
    return list((await session.execute(stmt)).scalars())


async def polls_for_member(
    session: AsyncSession,
    user_id: int,
    statuses: Sequence[PollStatus],
    after_id: int,
    limit: int,
    community_id: int | None = None,
    *,
    owns: bool = True,
) -> list[Poll]:
    """Polls of the communities the member is active in (or owns, while a KOC)."""

    member_of = select(CommunityMember.community_id).where(
        CommunityMember.user_id == user_id, CommunityMember.status == MembershipStatus.ACTIVE
    )
    owns_it = true() if owns else false()
    owned = select(Community.id).where(Community.owner_id == user_id, owns_it)
    eligible = select(PollCommunity.poll_id).where(
        PollCommunity.community_id.in_(member_of.union(owned))
        if community_id is None
        else PollCommunity.community_id == community_id
    )
    stmt = (
        select(Poll)
        .where(
            Poll.id.in_(eligible),
            Poll.status.in_(statuses),
            or_(Poll.status != PollStatus.DRAFT, and_(Poll.owner_id == user_id, owns_it)),
            Poll.id > after_id,
        )
        .order_by(Poll.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


# A member removed from a community loses their ballots in the open polls that community takes
# part in, unless another of the poll's communities still has them: the picks are withdrawn
# (empty, version + 1) so the live tally follows by the same versioned script as a re-vote.
WITHDRAWABLE = text(
    """
    SELECT b.poll_id FROM ballots b JOIN polls p ON p.id = b.poll_id
    WHERE b.user_id = :user AND p.status = 'OPEN' AND cardinality(b.option_ids) > 0
      AND EXISTS (SELECT 1 FROM poll_communities pc
                  WHERE pc.poll_id = p.id AND pc.community_id = :community)
    ORDER BY b.poll_id
    """
)

WITHDRAW = text(
    """
    UPDATE ballots b SET option_ids = '{}', version = b.version + 1, updated_at = now()
    WHERE b.poll_id = ANY(CAST(:polls AS bigint[])) AND b.user_id = :user
      AND cardinality(b.option_ids) > 0
      AND NOT EXISTS (SELECT 1 FROM poll_communities pc
                      JOIN community_members cm ON cm.community_id = pc.community_id
                      WHERE pc.poll_id = b.poll_id AND cm.user_id = :user
                        AND cm.status = 'ACTIVE')
    RETURNING b.poll_id, b.version
    """
)


async def withdraw_ballots(
    session: AsyncSession, user_id: int, community_id: int
) -> list[tuple[int, int]]:
    """(poll, new version) of the ballots withdrawn; each poll's lock is held shared first, so
    a close counts either before or after, never half-way."""
    params = {"user": user_id, "community": community_id}
    polls = [int(p) for p in (await session.execute(WITHDRAWABLE, params)).scalars()]
    for poll_id in polls:
        await lock_shared(session, poll_id)
    if not polls:
        return []
    rows = await session.execute(WITHDRAW, {"polls": polls, "user": user_id})
    return [(int(p), int(v)) for p, v in rows.all()]


async def joined_at(session: AsyncSession, poll_id: int, user_id: int) -> datetime | None:
    """When the member joined the earliest of the poll's communities they are active in."""
    stmt = (
        select(func.min(CommunityMember.joined_at))
        .join(PollCommunity, PollCommunity.community_id == CommunityMember.community_id)
        .where(
            PollCommunity.poll_id == poll_id,
            CommunityMember.user_id == user_id,
            CommunityMember.status == MembershipStatus.ACTIVE,
        )
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def is_voided(session: AsyncSession, poll_id: int, user_id: int) -> bool:
    stmt = select(BallotVoid.id).where(
        BallotVoid.poll_id == poll_id,
        BallotVoid.user_id == user_id,
        BallotVoid.restored_at.is_(None),
    )
    return (await session.execute(stmt)).first() is not None


VOID = text(
    """
    WITH old AS (
      SELECT user_id, option_ids FROM ballots
      WHERE poll_id = :poll AND user_id = ANY(CAST(:users AS bigint[]))
        AND cardinality(option_ids) > 0
        AND NOT EXISTS (SELECT 1 FROM ballot_voids v WHERE v.poll_id = :poll
                        AND v.user_id = ballots.user_id AND v.restored_at IS NULL)
      FOR UPDATE
    ), voids AS (
      INSERT INTO ballot_voids (poll_id, user_id, option_ids, reason, voided_by)
      SELECT :poll, user_id, option_ids, :reason, :by FROM old
    )
    UPDATE ballots b SET option_ids = '{}', version = b.version + 1, updated_at = now()
    FROM old WHERE b.poll_id = :poll AND b.user_id = old.user_id
    RETURNING b.user_id, b.version
    """
)

RESTORE = text(
    """
    WITH v AS (
      UPDATE ballot_voids SET restored_at = now(), restored_by = :by
      WHERE poll_id = :poll AND user_id = ANY(CAST(:users AS bigint[])) AND restored_at IS NULL
      RETURNING user_id, option_ids
    )
    UPDATE ballots b SET option_ids = v.option_ids, version = b.version + 1, updated_at = now()
    FROM v WHERE b.poll_id = :poll AND b.user_id = v.user_id
    RETURNING b.user_id, b.version, b.option_ids
    """
)


async def void(
    session: AsyncSession, poll_id: int, user_ids: Sequence[int], reason: str, by: int
) -> list[tuple[int, int]]:
    params = {"poll": poll_id, "users": list(user_ids), "reason": reason, "by": by}
    return [(int(u), int(v)) for u, v in (await session.execute(VOID, params)).all()]


async def restore(
    session: AsyncSession, poll_id: int, user_ids: Sequence[int], by: int
) -> list[tuple[int, int, list[int]]]:
    params = {"poll": poll_id, "users": list(user_ids), "by": by}
    rows = (await session.execute(RESTORE, params)).all()
    return [(int(u), int(v), [int(o) for o in picks]) for u, v, picks in rows]


SUSPICIOUS = text(
    """
    WITH m AS (
      SELECT cm.user_id, min(cm.joined_at) AS joined_at,
             (array_agg(cm.invited_by_id ORDER BY cm.joined_at)
                FILTER (WHERE cm.invited_by_id IS NOT NULL
                        AND cm.invited_by_id NOT IN (c.owner_id, cm.user_id)))[1] AS inviter
      FROM poll_communities pc JOIN communities c ON c.id = pc.community_id
      JOIN community_members cm ON cm.community_id = pc.community_id
      WHERE pc.poll_id = :poll GROUP BY cm.user_id
    ), b AS (
      SELECT b.user_id, b.created_at AS cast_at, u.created_at AS account_at, u.display_name,
             u.avatar_url, v.id IS NOT NULL AS voided, m.inviter, m.joined_at,
             (SELECT array_agg(e ORDER BY e)
              FROM unnest(coalesce(v.option_ids, b.option_ids)) e) AS picks
      FROM ballots b JOIN users u ON u.id = b.user_id
      LEFT JOIN ballot_voids v ON v.poll_id = b.poll_id AND v.user_id = b.user_id
        AND v.restored_at IS NULL
      LEFT JOIN m ON m.user_id = b.user_id
      WHERE b.poll_id = :poll AND (cardinality(b.option_ids) > 0 OR v.id IS NOT NULL)
    ), flagged AS (
      SELECT x.*, array_remove(ARRAY[
        CASE WHEN x.account_at > x.cast_at - make_interval(hours => :new_hours)
             THEN 'NEW_ACCOUNT' END,
        CASE WHEN x.inviter IS NOT NULL AND (
               SELECT count(*) FROM b y WHERE y.user_id <> x.user_id AND y.inviter = x.inviter
                 AND abs(extract(epoch FROM y.joined_at - x.joined_at)) <= :invite_window
             ) >= :group - 1 THEN 'INVITE_BURST' END,
        CASE WHEN (
               SELECT count(*) FROM b y WHERE y.user_id <> x.user_id AND y.picks = x.picks
                 AND abs(extract(epoch FROM y.cast_at - x.cast_at)) <= :burst_window
             ) >= :group - 1 THEN 'IDENTICAL_BURST' END
      ], NULL) AS reasons
      FROM b x
    )
    SELECT user_id, display_name, avatar_url, picks, cast_at, voided, reasons, inviter
    FROM flagged WHERE cardinality(reasons) > 0 ORDER BY cast_at, user_id
    """
)


async def suspicious(
    session: AsyncSession,
    poll_id: int,
    *,
    new_hours: int,
    invite_window: int,
    burst_window: int,
    group: int,
) -> list[Any]:
    params = {
        "poll": poll_id,
        "new_hours": new_hours,
        "invite_window": invite_window,
        "burst_window": burst_window,
        "group": group,
    }
    return list((await session.execute(SUSPICIOUS, params)).all())
