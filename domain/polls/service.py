"""Style polls: KOCs create them for their communities, members vote, the top options advance.

States: DRAFT -> OPEN -> CLOSED, and DRAFT/OPEN -> CANCELLED. Options are frozen once OPEN.
Voting is allowed while OPEN and ``opens_at <= now < closes_at``.

Final ranking (at close, from PostgreSQL ballots): more votes first; ties go to the option listed
earlier in the poll (lower position), which the KOC controls and every member can see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from domain import jobs
from domain import validation as v
from domain.base import utcnow
from domain.community import repository as community_repo
from domain.community import service as community_service
from domain.errors import (
    Conflict,
    ErrorCode,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from domain.identity import service as identity
from domain.identity.actor import Actor
from domain.polls import repository as repo
from domain.polls.live import LivePolls
from domain.polls.models import Poll, PollOption, PollStatus

MIN_OPTIONS, MAX_OPTIONS = 2, 50
MAX_PRICE_FEN = 100_000_000  # 1,000,000 yuan: anything above is a typo
MAX_POLL_DURATION = timedelta(days=90)
RESULTS_TTL_AFTER_CLOSE = 7 * 24 * 3600


@dataclass
class OptionInput:
    title: str
    image_urls: list[str]
    designer_notes: str = ""
    reference_price_fen: int | None = None


@dataclass
class PollInput:
    title: str
    community_ids: list[int]
    options: list[OptionInput]
    opens_at: datetime
    closes_at: datetime
    max_choices: int = 1
    advance_count: int = 1
    description: str = ""


@dataclass(frozen=True)
class RankedOption:
    option: PollOption
    votes: int
    rank: int
    advanced: bool


@dataclass(frozen=True)
class Results:
    poll: Poll
    options: list[RankedOption]
    total_voters: int
    final: bool


@dataclass(frozen=True)
class VoteOutcome:
    poll_id: int
    option_ids: list[int]
    version: int
    changed: bool


@dataclass
class _Checked:
    values: dict[str, object] = field(default_factory=dict)
    options: list[OptionInput] = field(default_factory=list)
    community_ids: list[int] = field(default_factory=list)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValidationFailed(f"{name} needs a timezone (UTC recommended).", field=name)
    return value


async def _check_input(session: AsyncSession, koc_id: int, is_operator: bool,
                       data: PollInput) -> _Checked:
    title = v.text(data.title, "title", min_len=1, max_len=100)
    description = v.text(data.description, "description", max_len=5000)
    opens_at = _aware(data.opens_at, "opensAt")
    closes_at = _aware(data.closes_at, "closesAt")
    if closes_at <= opens_at:
        raise ValidationFailed("closesAt must be after opensAt.", field="closesAt")
    if closes_at - opens_at > MAX_POLL_DURATION:
        raise ValidationFailed("A poll runs at most 90 days.", field="closesAt")
    if not MIN_OPTIONS <= len(data.options) <= MAX_OPTIONS:
        raise ValidationFailed(f"A poll has {MIN_OPTIONS} to {MAX_OPTIONS} options.",
                               field="options")
    for i, opt in enumerate(data.options):
        prefix = f"options[{i}]"
        v.text(opt.title, f"{prefix}.title", min_len=1, max_len=100)
        v.https_urls(opt.image_urls, f"{prefix}.imageUrls", min_count=1, max_count=9)
        v.text(opt.designer_notes, f"{prefix}.designerNotes", max_len=2000)
        price = opt.reference_price_fen
        if price is not None and not 0 <= price <= MAX_PRICE_FEN:
            raise ValidationFailed(f"referencePriceFen must be 0 to {MAX_PRICE_FEN}.",
                                   field=f"{prefix}.referencePriceFen")
    if not 1 <= data.max_choices <= len(data.options):
        raise ValidationFailed("maxChoices must be between 1 and the number of options.",
                               field="maxChoices")
    if not 1 <= data.advance_count <= len(data.options):
        raise ValidationFailed("advanceCount must be between 1 and the number of options.",
                               field="advanceCount")
    ids = await community_service.require_own_communities(session, koc_id, is_operator,
                                                          data.community_ids, "poll")
    return _Checked(
        values={"title": title, "description": description, "opens_at": opens_at,
                "closes_at": closes_at, "max_choices": data.max_choices,
                "advance_count": data.advance_count},
        options=data.options,
        community_ids=ids,
    )


def _option_rows(poll_id: int, options: list[OptionInput]) -> list[PollOption]:
    return [
        PollOption(poll_id=poll_id, position=i, title=o.title.strip(),
                   image_urls=[u.strip() for u in o.image_urls],
                   designer_notes=o.designer_notes.strip(),
                   reference_price_fen=o.reference_price_fen, currency="CNY")
        for i, o in enumerate(options)
    ]


async def create_poll(session: AsyncSession, actor: Actor, data: PollInput,
                      idempotency_key: str | None = None) -> Poll:
    koc = await identity.require_koc(session, actor)
    key = v.idempotency_key(idempotency_key)
    if key is not None:
        existing = await repo.find_by_idempotency_key(session, koc.id, key)
        if existing is not None:
            return existing
    checked = await _check_input(session, koc.id, koc.is_operator, data)
    poll = await repo.add(session, Poll(owner_id=koc.id, status=PollStatus.DRAFT,
                                        idempotency_key=key, **checked.values))
    await repo.replace_options(session, poll.id, _option_rows(poll.id, checked.options))
    await repo.replace_communities(session, poll.id, checked.community_ids)
    return poll


async def _owned_for_update(session: AsyncSession, actor: Actor, poll_id: int) -> Poll:
    user = await identity.require_user(session, actor)
    poll = await repo.get_for_update(session, poll_id)
    if poll is None or (poll.owner_id != user.id and not user.is_operator):
        if poll is not None and poll.status is not PollStatus.DRAFT and await repo.is_eligible(
            session, poll_id, user.id
        ):
            raise PermissionDenied("Only the poll's KOC can do that.")
        raise NotFound("No such poll.", field="pollId")
    return poll


async def update_poll(session: AsyncSession, actor: Actor, poll_id: int, data: PollInput) -> Poll:
    poll = await _owned_for_update(session, actor, poll_id)
    if poll.status is not PollStatus.DRAFT:
        raise InvalidTransition("Only a draft poll can be edited; its options are frozen once "
                                "it opens.", code=ErrorCode.POLL_NOT_EDITABLE)
    owner = await identity.require_user(session, actor)
    checked = await _check_input(session, poll.owner_id, owner.is_operator, data)
    for key, value in checked.values.items():
        setattr(poll, key, value)
    await repo.replace_options(session, poll.id, _option_rows(poll.id, checked.options))
    await repo.replace_communities(session, poll.id, checked.community_ids)
    return poll


async def publish_poll(session: AsyncSession, actor: Actor, poll_id: int) -> Poll:
    poll = await _owned_for_update(session, actor, poll_id)
    if poll.status is PollStatus.OPEN:
        return poll  # publishing twice changes nothing
    if poll.status is not PollStatus.DRAFT:
        raise InvalidTransition(f"A {poll.status.value.lower()} poll cannot be published.")
    if poll.closes_at <= utcnow():
        raise ValidationFailed("closesAt has passed; move it before publishing.",
                               field="closesAt")
    poll.status = PollStatus.OPEN
    poll.published_at = utcnow()
    await session.flush()
    return poll


async def cancel_poll(session: AsyncSession, actor: Actor, poll_id: int) -> Poll:
    await repo.lock_exclusive(session, poll_id)  # same lock order as close_poll
    poll = await _owned_for_update(session, actor, poll_id)
    if poll.status is PollStatus.CANCELLED:
        return poll
    if poll.status is PollStatus.CLOSED:
        raise InvalidTransition("A closed poll cannot be cancelled.")
    poll.status = PollStatus.CANCELLED
    poll.closed_at = utcnow()
    await session.flush()
    return poll


def rank(options: list[PollOption], votes: dict[int, int], advance_count: int) -> list[RankedOption]:
    ordered = sorted(options, key=lambda o: (-votes.get(o.id, 0), o.position, o.id))
    return [
        RankedOption(option=o, votes=votes.get(o.id, 0), rank=i + 1, advanced=i < advance_count)
        for i, o in enumerate(ordered)
    ]


async def close_poll(session: AsyncSession, poll_id: int, *, actor: Actor | None = None,
                     live: LivePolls | None = None) -> tuple[Poll, bool]:
    """Close a poll exactly once; returns the poll and whether this call closed it.

    ``actor`` is the KOC closing early; None is the worker, which only closes polls whose time has
    come. Safe to run twice or after a crash: everything is one transaction guarded by the poll's
    status (read under a row lock).

    Lock order, always: the poll's advisory lock, then its row. The exclusive advisory lock waits
    for the votes in flight (they hold it shared until they commit), so the count below sees them
    all; votes that start after our commit see CLOSED and are refused."""
    await repo.lock_exclusive(session, poll_id)
    if actor is not None:
        poll = await _owned_for_update(session, actor, poll_id)
    else:
        found = await repo.get_for_update(session, poll_id)
        if found is None:
            raise NotFound("No such poll.", field="pollId")
        poll = found
    if poll.status is PollStatus.CLOSED:
        return poll, False
    if poll.status is not PollStatus.OPEN:
        raise InvalidTransition(f"A {poll.status.value.lower()} poll cannot be closed.")
    if actor is None and poll.closes_at > utcnow():
        raise Conflict("The poll is not due to close yet.")
    votes, voters = await repo.counts(session, poll_id)
    options = await repo.options(session, poll_id)
    for r in rank(options, votes, poll.advance_count):
        r.option.final_votes = r.votes
        r.option.final_rank = r.rank
        r.option.advanced = r.advanced
    poll.status = PollStatus.CLOSED
    poll.closed_at = utcnow()
    poll.final_voters = voters
    await session.flush()
    if live is not None:
        jobs.after_commit(lambda: live.store.expire(poll_id, RESULTS_TTL_AFTER_CLOSE))
    return poll, True


async def _require_visible(session: AsyncSession, actor: Actor, poll_id: int) -> Poll:
    user = await identity.require_user(session, actor)
    poll = await repo.get(session, poll_id)
    if poll is None or not await community_service.audience_can_see(
        user, poll.owner_id, poll.status is PollStatus.DRAFT,
        lambda: repo.is_eligible(session, poll_id, user.id),
    ):
        raise NotFound("No such poll.", field="pollId")
    return poll


async def get_poll(session: AsyncSession, actor: Actor, poll_id: int) -> Poll:
    return await _require_visible(session, actor, poll_id)


def _normalise_choice(option_ids: list[int]) -> list[int]:
    if not option_ids:
        raise ValidationFailed("Pick at least one option.", field="optionIds")
    if len(option_ids) > MAX_OPTIONS:
        raise ValidationFailed("Too many options.", field="optionIds",
                               code=ErrorCode.TOO_MANY_CHOICES)
    if len(set(option_ids)) != len(option_ids):
        raise ValidationFailed("An option is listed twice.", field="optionIds",
                               code=ErrorCode.DUPLICATE_OPTION)
    return sorted(option_ids)


async def cast_vote(session: AsyncSession, live: LivePolls, actor: Actor, poll_id: int,
                    option_ids: list[int]) -> VoteOutcome:
    """Insert or replace the member's ballot; move the live tally after the commit."""
    if actor.user_id is None:
        raise identity.Unauthenticated()
    user_id = actor.user_id
    picks = _normalise_choice(option_ids)
    await repo.lock_shared(session, poll_id)
    version = await repo.cast_vote(session, poll_id, user_id, picks)
    if version is None:
        return await _refused_or_unchanged(session, poll_id, user_id, picks)
    jobs.after_commit(lambda: live.apply_vote(poll_id, user_id, version, picks))
    return VoteOutcome(poll_id, picks, version, changed=True)


async def _refused_or_unchanged(session: AsyncSession, poll_id: int, user_id: int,
                                picks: list[int]) -> VoteOutcome:
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
        raise PermissionDenied("Join one of this poll's communities to vote.",
                               code=ErrorCode.NOT_A_MEMBER)
    now = utcnow()
    if poll.status in (PollStatus.CLOSED, PollStatus.CANCELLED) or poll.closes_at <= now:
        raise Conflict("This poll is closed.", code=ErrorCode.POLL_CLOSED)
    if poll.opens_at > now:
        raise Conflict(f"Voting opens at {poll.opens_at.isoformat()}.",
                       code=ErrorCode.POLL_NOT_OPEN)
    if len(picks) > poll.max_choices:
        raise ValidationFailed(f"Pick at most {poll.max_choices} options.", field="optionIds",
                               code=ErrorCode.TOO_MANY_CHOICES)
    known = {o.id for o in await repo.options(session, poll_id)}
    if any(p not in known for p in picks):
        raise ValidationFailed("An option does not belong to this poll.", field="optionIds",
                               code=ErrorCode.OPTION_NOT_IN_POLL)
    ballot = await repo.ballot(session, poll_id, user_id)
    if ballot is not None and sorted(ballot.option_ids) == picks:
        return VoteOutcome(poll_id, picks, ballot.version, changed=False)
    raise Conflict("The vote could not be recorded; try again.")  # pragma: no cover - a race


async def results(session: AsyncSession, live: LivePolls, actor: Actor, poll_id: int) -> Results:
    poll = await _require_visible(session, actor, poll_id)
    options = await repo.options(session, poll_id)
    if poll.status is PollStatus.CLOSED:
        final = {o.id: o.final_votes or 0 for o in options}
        ranked = sorted(options, key=lambda o: (o.final_rank or 0, o.position))
        return Results(
            poll=poll,
            options=[RankedOption(o, final[o.id], o.final_rank or 0, o.advanced) for o in ranked],
            total_voters=poll.final_voters or 0,
            final=True,
        )
    if poll.status is PollStatus.OPEN:
        tally = await live.read(poll_id)
        return Results(poll, rank(options, tally.counts, poll.advance_count), tally.voters,
                       final=False)
    return Results(poll, rank(options, {}, poll.advance_count), 0, final=False)


async def my_ballot(session: AsyncSession, actor: Actor, poll_id: int) -> list[int] | None:
    if actor.user_id is None:
        return None
    ballot = await repo.ballot(session, poll_id, actor.user_id)
    return sorted(ballot.option_ids) if ballot else None


async def voters_of_option(session: AsyncSession, actor: Actor, option_id: int,
                           after_user_id: int, limit: int) -> list[int]:
    """Who voted for an option: the poll's KOC (and operators) only."""
    option = await repo.get_option(session, option_id)
    if option is None:
        raise NotFound("No such option.", field="optionId")
    user = await identity.require_user(session, actor)
    poll = await repo.get(session, option.poll_id)
    assert poll is not None
    if poll.owner_id != user.id and not user.is_operator:
        raise NotFound("No such option.", field="optionId")
    return await repo.voters_of_option(session, option.poll_id, option_id, after_user_id, limit)


async def polls_for_member(session: AsyncSession, actor: Actor, statuses: list[PollStatus],
                           after_id: int, limit: int, community_id: int | None) -> list[Poll]:
    user = await identity.require_user(session, actor)
    if community_id is not None:
        community = await community_repo.get(session, community_id)
        if community is None or (community.owner_id != user.id and not await
                                 community_repo.is_active_member(session, community_id, user.id)):
            raise NotFound("No such community.", field="communityId")
    return await repo.polls_for_member(session, user.id, statuses, after_id, limit, community_id)
