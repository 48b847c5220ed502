"""A poll's life: DRAFT -> OPEN -> CLOSED, and DRAFT/OPEN -> CANCELLED. Options are frozen
once OPEN. Closing (on time by the worker, or early by the KOC) happens exactly once and counts
from the PostgreSQL ballots."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from domain import jobs
from domain import validation as v
from domain.base import utcnow
from domain.drops import drafts
from domain.errors import (
    Conflict,
    ErrorCode,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from domain.identity import roles
from domain.identity.actor import Actor
from domain.polls import repository as repo
from domain.polls.inputs import PollInput, check_input, option_rows, payload_of
from domain.polls.live import LivePolls
from domain.polls.models import Poll, PollStatus
from domain.polls.ranking import rank

RESULTS_TTL_AFTER_CLOSE = 7 * 24 * 3600


async def create_poll(
    session: AsyncSession, actor: Actor, data: PollInput, idempotency_key: str | None = None
) -> Poll:
    koc = await roles.require_koc(session, actor)
    key = v.idempotency_key(idempotency_key)
    digest = v.payload_hash(payload_of(data))
    if key is not None:
        existing = await repo.find_by_idempotency_key(session, koc.id, key)
        if existing is not None:
            v.same_request(existing.request_hash, digest)
            return existing
    checked = await check_input(session, koc.id, koc.is_operator, data)
    poll = await repo.add(
        session,
        Poll(
            owner_id=koc.id,
            status=PollStatus.DRAFT,
            idempotency_key=key,
            request_hash=digest,
            **checked.values,
        ),
    )
    await repo.replace_options(session, poll.id, option_rows(poll.id, checked.options))
    await repo.replace_communities(session, poll.id, checked.community_ids)
    return poll


async def _owned_for_update(session: AsyncSession, actor: Actor, poll_id: int) -> Poll:
    user = await roles.require_user(session, actor)
    poll = await repo.get_for_update(session, poll_id)
    if poll is None or not roles.manages(user, poll.owner_id):
        if (
            poll is not None
            and poll.status is not PollStatus.DRAFT
            and await repo.is_eligible(session, poll_id, user.id)
        ):
            raise PermissionDenied("Only the poll's KOC can do that.")
        raise NotFound("No such poll.", field="pollId")
    return poll


async def update_poll(session: AsyncSession, actor: Actor, poll_id: int, data: PollInput) -> Poll:
    poll = await _owned_for_update(session, actor, poll_id)
    if poll.status is not PollStatus.DRAFT:
        raise InvalidTransition(
            "Only a draft poll can be edited; its options are frozen once it opens.",
            code=ErrorCode.POLL_NOT_EDITABLE,
        )
    owner = await roles.require_user(session, actor)
    checked = await check_input(session, poll.owner_id, owner.is_operator, data)
    for key, value in checked.values.items():
        setattr(poll, key, value)
    await repo.replace_options(session, poll.id, option_rows(poll.id, checked.options))
    await repo.replace_communities(session, poll.id, checked.community_ids)
    return poll


async def publish_poll(session: AsyncSession, actor: Actor, poll_id: int) -> Poll:
    poll = await _owned_for_update(session, actor, poll_id)
    if poll.status is PollStatus.OPEN:
        return poll  # publishing twice changes nothing
    if poll.status is not PollStatus.DRAFT:
        raise InvalidTransition(f"A {poll.status.value.lower()} poll cannot be published.")
    if poll.closes_at <= utcnow():
        raise ValidationFailed("closesAt has passed; move it before publishing.", field="closesAt")
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


async def close_poll(
    session: AsyncSession,
    poll_id: int,
    *,
    actor: Actor | None = None,
    live: LivePolls | None = None,
) -> tuple[Poll, bool]:
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
    ranked = rank(options, votes, poll.advance_count)
    for r in ranked:
        r.option.final_votes = r.votes
        r.option.final_rank = r.rank
        r.option.advanced = r.advanced
    poll.status = PollStatus.CLOSED
    poll.closed_at = utcnow()
    poll.final_voters = voters
    await session.flush()
    # Every option that advanced becomes a draft drop, in this transaction: exactly once.
    await drafts.draft_advanced(
        session,
        poll.owner_id,
        await repo.community_ids(session, poll_id),
        [
            (o.id, o.title, o.designer_notes, list(o.image_urls), o.reference_price_fen, o.currency)
            for o in (r.option for r in ranked if r.advanced)
        ],
    )
    if live is not None:
        jobs.after_commit(lambda: live.store.expire(poll_id, RESULTS_TTL_AFTER_CLOSE))
    return poll, True


async def due_to_close(session: AsyncSession) -> list[int]:
    return await repo.due_for_closing(session, utcnow())
