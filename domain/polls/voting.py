"""Voting: one ballot per member per poll, replaced by a re-vote; the live tally moves after the
commit (``domain/polls/tally.py``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import jobs
from domain.base import utcnow
from domain.batching import GroupCommit
from domain.errors import (
    Conflict,
    DomainError,
    ErrorCode,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
)
from domain.identity.actor import Actor
from domain.polls import repository as repo
from domain.polls.inputs import MAX_OPTIONS
from domain.polls.live import LivePolls
from domain.polls.models import PollStatus
from domain.throttle import VoteLimiter

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class VoteRequest:
    """One member's ballot waiting for its batch (``domain/batching.py``)."""

    user_id: int
    poll_id: int
    option_ids: tuple[int, ...]


def vote_key(request: VoteRequest) -> tuple[int, int]:
    """One ballot per (poll, member) in a batch: the statement cannot touch a row twice."""
    return request.poll_id, request.user_id


async def cast_votes(
    sessionmaker: async_sessionmaker[AsyncSession],
    live: LivePolls,
    requests: Sequence[VoteRequest],
    limiter: VoteLimiter | None = None,
) -> list[VoteOutcome | BaseException]:
    """``cast_vote`` for a batch: one transaction (the polls' locks shared, in id order; one
    statement for every ballot), then the live tallies in one Redis round trip. A ballot the
    statement did not write is refused or unchanged: each is told which, off the hot path."""
    results: list[VoteOutcome | BaseException | None] = [None] * len(requests)
    todo: list[tuple[int, VoteRequest, list[int]]] = []
    for i, r in enumerate(requests):
        try:
            todo.append((i, r, _normalise_choice(list(r.option_ids))))
        except DomainError as e:
            results[i] = e
    if todo and limiter is not None:  # a member votes at most so often in a poll
        waits = await limiter.admit([(r.poll_id, r.user_id) for _, r, _ in todo])
        kept = []
        for (i, r, picks), wait in zip(todo, waits, strict=True):
            if wait is None:
                kept.append((i, r, picks))
            else:
                results[i] = RateLimited(
                    f"Too many votes; try again in {wait} s.", retry_after_seconds=wait
                )
        todo = kept
    if todo:
        async with sessionmaker() as session, session.begin():
            await repo.plan_each_time(session)
            for poll_id in sorted({r.poll_id for _, r, _ in todo}):
                await repo.lock_shared(session, poll_id)
            written = await repo.cast_votes(
                session, [(r.poll_id, r.user_id, picks) for _, r, picks in todo]
            )
        # Committed: from here on nothing may turn these votes into failures.
        applied = []
        for i, r, picks in todo:
            version = written.get((r.poll_id, r.user_id))
            if version is not None:
                results[i] = VoteOutcome(r.poll_id, picks, version, changed=True)
                applied.append((r.poll_id, r.user_id, version, picks))
        if applied:
            try:
                await live.apply_votes(applied)
            except Exception:  # the reconciler repairs the tallies
                log.exception("could not move the live tallies of %s votes", len(applied))
        slow = [(i, r, picks) for i, r, picks in todo if results[i] is None]
        if slow:
            async with sessionmaker() as session:
                for i, r, picks in slow:
                    try:
                        results[i] = await _refused_or_unchanged(
                            session, r.poll_id, r.user_id, picks
                        )
                    except DomainError as e:
                        results[i] = e
    return [r if r is not None else Conflict("The vote could not be recorded.") for r in results]


async def vote(
    batcher: GroupCommit[VoteRequest, VoteOutcome],
    actor: Actor,
    poll_id: int,
    option_ids: list[int],
) -> VoteOutcome:
    """Cast the member's ballot through the group commit (answered once its batch committed)."""
    if actor.user_id is None:
        raise Unauthenticated()
    return await batcher.submit(VoteRequest(actor.user_id, poll_id, tuple(option_ids)))


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
    if await repo.is_voided(session, poll_id, user_id):
        raise PermissionDenied(
            "The poll's KOC voided your ballot; it cannot be cast again.",
            code=ErrorCode.BALLOT_VOIDED,
        )
    if poll.min_member_age_hours:
        joined = await repo.joined_at(session, poll_id, user_id)
        may_vote = joined + timedelta(hours=poll.min_member_age_hours) if joined else None
        if may_vote is not None and may_vote > now:
            raise PermissionDenied(
                f"This poll counts members of at least {poll.min_member_age_hours} h: "
                f"you may vote from {may_vote.isoformat()}.",
                code=ErrorCode.MEMBER_TOO_NEW,
            )
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
