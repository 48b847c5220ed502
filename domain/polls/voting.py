"""Voting: one ballot per member per poll, replaced by a re-vote; the live tally moves after the
commit (``domain/polls/tally.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from domain import jobs
from domain.base import utcnow
from domain.errors import (
    Conflict,
    ErrorCode,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    ValidationFailed,
)
from domain.identity.actor import Actor
from domain.polls import repository as repo
from domain.polls.inputs import MAX_OPTIONS
from domain.polls.live import LivePolls
from domain.polls.models import PollStatus


@dataclass(frozen=True)
class VoteOutcome:
    poll_id: int
    option_ids: list[int]
    version: int
    changed: bool


def _normalise_choice(option_ids: list[int]) -> list[int]:
    if not option_ids:
        raise ValidationFailed("Pick at least one option.", field="optionIds")
    if len(option_ids) > MAX_OPTIONS:
        raise ValidationFailed(
            "Too many options.", field="optionIds", code=ErrorCode.TOO_MANY_CHOICES
        )
    if len(set(option_ids)) != len(option_ids):
        raise ValidationFailed(
            "An option is listed twice.", field="optionIds", code=ErrorCode.DUPLICATE_OPTION
        )
    return sorted(option_ids)


async def cast_vote(
    session: AsyncSession, live: LivePolls, actor: Actor, poll_id: int, option_ids: list[int]
) -> VoteOutcome:
    """Insert or replace the member's ballot; move the live tally after the commit."""
    if actor.user_id is None:
        raise Unauthenticated()
    user_id = actor.user_id
    picks = _normalise_choice(option_ids)
    await repo.lock_shared(session, poll_id)
    version = await repo.cast_vote(session, poll_id, user_id, picks)
    if version is None:
        return await _refused_or_unchanged(session, poll_id, user_id, picks)
    jobs.after_commit(lambda: live.apply_vote(poll_id, user_id, version, picks))
    return VoteOutcome(poll_id, picks, version, changed=True)


async def _refused_or_unchanged(
    session: AsyncSession, poll_id: int, user_id: int, picks: list[int]
) -> VoteOutcome:
    """The vote statement wrote nothing: say precisely why (off the hot path)."""
    poll = await repo.get(session, poll_id)
    if poll is None:
        raise NotFound("No such poll.", field="pollId")
    eligible = await repo.is_eligible(session, poll_id, user_id)
    if poll.status is PollStatus.DRAFT:
        if not eligible:
            raise NotFound("No such poll.", field="pollId")
        raise Conflict("This poll is not open for voting yet.", code=ErrorCode.POLL_NOT_OPEN)
    if not eligible:
        raise PermissionDenied(
            "Join one of this poll's communities to vote.", code=ErrorCode.NOT_A_MEMBER
        )
    now = utcnow()
    if poll.status in (PollStatus.CLOSED, PollStatus.CANCELLED) or poll.closes_at <= now:
        raise Conflict("This poll is closed.", code=ErrorCode.POLL_CLOSED)
    if poll.opens_at > now:
        raise Conflict(
            f"Voting opens at {poll.opens_at.isoformat()}.", code=ErrorCode.POLL_NOT_OPEN
        )
    if len(picks) > poll.max_choices:
        raise ValidationFailed(
            f"Pick at most {poll.max_choices} options.",
            field="optionIds",
            code=ErrorCode.TOO_MANY_CHOICES,
        )
    known = {o.id for o in await repo.options(session, poll_id)}
    if any(p not in known for p in picks):
        raise ValidationFailed(
            "An option does not belong to this poll.",
            field="optionIds",
            code=ErrorCode.OPTION_NOT_IN_POLL,
        )
    ballot = await repo.ballot(session, poll_id, user_id)
    if ballot is not None and sorted(ballot.option_ids) == picks:
        return VoteOutcome(poll_id, picks, ballot.version, changed=False)
    raise Conflict("The vote could not be recorded; try again.")  # pragma: no cover - a race


async def my_ballot(session: AsyncSession, actor: Actor, poll_id: int) -> list[int] | None:
    if actor.user_id is None:
        return None
    ballot = await repo.ballot(session, poll_id, actor.user_id)
    return sorted(ballot.option_ids) if ballot else None
