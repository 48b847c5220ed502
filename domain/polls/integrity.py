"""Honest ballots: the suspicious-vote report, and voiding (and restoring) ballots.

The report flags ballots, it never changes a result by itself. Each flagged ballot says why:
``NEW_ACCOUNT`` (the account was made within 24 h before the ballot), ``INVITE_BURST`` (at
least three voters brought by the same member, not the KOC, who joined within 10 minutes of
each other), ``IDENTICAL_BURST`` (at least three identical ballots within 60 seconds).

The poll's KOC may void flagged (or any) ballots of an open poll: each void is recorded (who,
when, why, the picks it took away) and can be restored; a voided ballot counts nothing and
cannot be cast again until restored. Void and restore change the ballot in PostgreSQL under the
poll's shared lock (a close counts before or after, never half-way) and the live tally after the
commit by the same versioned script as a re-vote: live and final results stay exact."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from domain import jobs
from domain import validation as v
from domain.errors import ErrorCode, InvalidTransition, NotFound, ValidationFailed
from domain.identity import roles
from domain.identity.actor import Actor
from domain.polls import repository as repo
from domain.polls.live import LivePolls
from domain.polls.models import Poll, PollStatus

NEW_ACCOUNT_HOURS = 24
INVITE_WINDOW_SECONDS = 600
BURST_WINDOW_SECONDS = 60
GROUP = 3
MAX_BALLOTS = 500


@dataclass(frozen=True)
class Flagged:
    user_id: int
    display_name: str
    avatar_url: str | None
    option_ids: list[int]
    cast_at: datetime
    voided: bool
    reasons: list[str]
    inviter_id: int | None


async def _managed(session: AsyncSession, actor: Actor, poll_id: int) -> tuple[Poll, int]:
    user = await roles.require_user(session, actor)
    poll = await repo.get(session, poll_id)
    if poll is None or not roles.manages(user, poll.owner_id):
        raise NotFound("No such poll.", field="pollId")
    return poll, user.id


async def suspicious(session: AsyncSession, actor: Actor, poll_id: int) -> list[Flagged]:
    """The poll's flagged ballots, oldest first (its KOC, operators)."""
    await _managed(session, actor, poll_id)
    rows = await repo.suspicious(
        session,
        poll_id,
        new_hours=NEW_ACCOUNT_HOURS,
        invite_window=INVITE_WINDOW_SECONDS,
        burst_window=BURST_WINDOW_SECONDS,
        group=GROUP,
    )
    return [
        Flagged(
            user_id=int(r.user_id),
            display_name=r.display_name,
            avatar_url=r.avatar_url,
            option_ids=[int(o) for o in r.picks or []],
            cast_at=r.cast_at,
            voided=bool(r.voided),
            reasons=list(r.reasons),
            inviter_id=r.inviter,
        )
        for r in rows
    ]


def _check(poll: Poll, user_ids: Sequence[int]) -> list[int]:
    if poll.status is not PollStatus.OPEN:
        raise InvalidTransition(
            "Ballots can be voided or restored only while the poll is open.",
            code=ErrorCode.POLL_CLOSED,
        )
    ids = sorted(set(user_ids))
    if not 1 <= len(ids) <= MAX_BALLOTS:
        raise ValidationFailed(f"Give 1 to {MAX_BALLOTS} members.", field="userIds")
    return ids


async def void_ballots(
    session: AsyncSession,
    live: LivePolls | None,
    actor: Actor,
    poll_id: int,
    user_ids: Sequence[int],
    reason: str,
) -> int:
    """Void these members' ballots (those not voided yet); returns how many were voided."""
    poll, by = await _managed(session, actor, poll_id)
    ids = _check(poll, user_ids)
    why = v.text(reason, "reason", min_len=1, max_len=200)
    await repo.lock_shared(session, poll_id)
    changed = await repo.void(session, poll_id, ids, why, by)
    _apply_after_commit(live, poll_id, [(u, ver, []) for u, ver in changed])
    return len(changed)


async def restore_ballots(
    session: AsyncSession,
    live: LivePolls | None,
    actor: Actor,
    poll_id: int,
    user_ids: Sequence[int],
) -> int:
    """Give voided ballots back their picks; returns how many were restored."""
    poll, by = await _managed(session, actor, poll_id)
    ids = _check(poll, user_ids)
    await repo.lock_shared(session, poll_id)
    changed = await repo.restore(session, poll_id, ids, by)
    _apply_after_commit(live, poll_id, changed)
    return len(changed)


def _apply_after_commit(
    live: LivePolls | None, poll_id: int, changed: list[tuple[int, int, list[int]]]
) -> None:
    if live is None or not changed:
        return
    tallies = live

    async def apply() -> None:
        for user_id, version, picks in changed:
            await tallies.apply_vote(poll_id, user_id, version, picks)

    jobs.after_commit(apply)
