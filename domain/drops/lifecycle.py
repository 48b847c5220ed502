"""A drop's life: DRAFT -> SCHEDULED -> OPEN -> CLOSED -> SUCCEEDED | FAILED, CANCELLED before
settlement. Every transition lives here, used by the KOC's mutations and the worker alike.

Selling is allowed while SCHEDULED or OPEN and ``opens_at <= now < closes_at``. Opening writes the
DROP_OPENED outbox row in the same transaction (the voters hear about it for sure); closing queues
the settlement. Each transition runs under the drop's exclusive advisory lock and its row lock,
guarded by the status it leaves, so racing callers change it once."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from domain import jobs
from domain import validation as v
from domain.base import utcnow
from domain.community import communities as community
from domain.drops import repository as repo
from domain.drops.inputs import DropInput, VariantInput, check_drop, payload_of
from domain.drops.models import SELLING, Drop, DropStatus, DropVariant
from domain.errors import ErrorCode, InvalidTransition, NotFound, ValidationFailed
from domain.identity import roles
from domain.identity.actor import Actor
from domain.identity.models import User
from domain.notifications import outbox
from domain.notifications.models import NotificationKind
from domain.polls import repository as poll_repo


async def _check_poll_option(
    session: AsyncSession, owner_id: int, is_operator: bool, option_id: int | None
) -> None:
    if option_id is None:
        return
    option = await poll_repo.get_option(session, option_id)
    poll = await poll_repo.get(session, option.poll_id) if option else None
    if option is None or poll is None or (poll.owner_id != owner_id and not is_operator):
        raise NotFound("No such poll option.", field="pollOptionId")
    if not option.advanced:
        raise ValidationFailed(
            "Only an option that advanced in its poll can open as a drop.", field="pollOptionId"
        )


def _variant_rows(drop_id: int, variants: list[VariantInput]) -> list[DropVariant]:
    return [
        DropVariant(drop_id=drop_id, position=i, size=x.size, color=x.color, cap=x.cap)
        for i, x in enumerate(variants)
    ]


async def create_drop(
    session: AsyncSession, actor: Actor, data: DropInput, idempotency_key: str | None = None
) -> Drop:
    koc = await roles.require_koc(session, actor)
    key = v.idempotency_key(idempotency_key)
    digest = v.payload_hash(payload_of(data))
    if key is not None:
        existing = await repo.find_by_idempotency_key(session, koc.id, key)
        if existing is not None:
            v.same_request(existing.request_hash, digest)
            return existing
    checked = check_drop(data)
    communities = await community.require_own_communities(
        session, koc.id, koc.is_operator, data.community_ids, "drop"
    )
    await _check_poll_option(session, koc.id, koc.is_operator, data.poll_option_id)
    drop = await repo.add(
        session,
        Drop(
            owner_id=koc.id,
            status=DropStatus.DRAFT,
            idempotency_key=key,
            request_hash=digest,
            **checked.values,
        ),
    )
    await repo.replace_variants(session, drop.id, _variant_rows(drop.id, checked.variants))
    await repo.replace_communities(session, drop.id, communities)
    return drop


async def owned_for_update(session: AsyncSession, actor: Actor, drop_id: int) -> tuple[Drop, User]:
    """The drop, locked, if the actor may manage it (its KOC, or an operator)."""
    user = await roles.require_user(session, actor)
    drop = await repo.get_for_update(session, drop_id)
    if drop is None or not roles.manages(user, drop.owner_id):
        raise NotFound("No such drop.", field="dropId")
    return drop, user


async def update_drop(session: AsyncSession, actor: Actor, drop_id: int, data: DropInput) -> Drop:
    drop, user = await owned_for_update(session, actor, drop_id)
    if drop.status is not DropStatus.DRAFT:
        raise InvalidTransition(
            "Only a draft drop can be edited.", code=ErrorCode.DROP_NOT_EDITABLE
        )
    checked = check_drop(data)
    communities = await community.require_own_communities(
        session, drop.owner_id, user.is_operator, data.community_ids, "drop"
    )
    await _check_poll_option(session, drop.owner_id, user.is_operator, data.poll_option_id)
    for k, val in checked.values.items():
        setattr(drop, k, val)
    drop.needs_review = False  # its KOC has set prices, variants and dates
    await repo.replace_variants(session, drop.id, _variant_rows(drop.id, checked.variants))
    await repo.replace_communities(session, drop.id, communities)
    return drop


async def _open(session: AsyncSession, drop: Drop) -> None:
    drop.status = DropStatus.OPEN
    await session.flush()
    # The outbox row commits with the status change: the voters hear about it for sure.
    await outbox.record_event(session, NotificationKind.DROP_OPENED, drop.id)
    jobs.enqueue("drop.rebuild_counters", drop_id=drop.id)


async def _close(session: AsyncSession, drop: Drop) -> None:
    drop.status = DropStatus.CLOSED
    drop.closed_at = utcnow()
    await session.flush()
    jobs.enqueue("drop.rebuild_counters", drop_id=drop.id)
    jobs.enqueue("drop.settle", drop_id=drop.id)


async def publish_drop(session: AsyncSession, actor: Actor, drop_id: int) -> Drop:
    await repo.lock_exclusive(session, drop_id)
    drop, _ = await owned_for_update(session, actor, drop_id)
    if drop.status in SELLING:
        return drop
    if drop.status is not DropStatus.DRAFT:
        raise InvalidTransition(f"A {drop.status.value.lower()} drop cannot be published.")
    if drop.needs_review:
        raise InvalidTransition(
            "This draft was made from a poll: set its prices, variants and dates "
            "(updateDrop) before publishing.",
            code=ErrorCode.DRAFT_NEEDS_REVIEW,
        )
    now = utcnow()
    if drop.closes_at <= now:
        raise ValidationFailed("closesAt has passed; move it before publishing.", field="closesAt")
    drop.published_at = now
    if drop.opens_at <= now:
        await _open(session, drop)
    else:
        drop.status = DropStatus.SCHEDULED
        await session.flush()
        if drop.voter_head_start_minutes and drop.early_opens_at <= now:
            await outbox.record_event(session, NotificationKind.DROP_EARLY_ACCESS, drop.id)
        # The counters follow the drop's state: rebuilt once the change is committed (and
        # lazily by the first order if no worker got to it first).
        jobs.enqueue("drop.rebuild_counters", drop_id=drop.id)
    return drop


async def open_if_due(session: AsyncSession, drop_id: int) -> bool:
    """The worker: SCHEDULED -> OPEN once ``opens_at`` has come. Idempotent."""
    await repo.lock_exclusive(session, drop_id)
    drop = await repo.get_for_update(session, drop_id)
    if drop is None or drop.status is not DropStatus.SCHEDULED or drop.opens_at > utcnow():
        return False
    await _open(session, drop)
    return True


async def early_access_if_due(session: AsyncSession, drop_id: int) -> bool:
    """The worker: a scheduled drop's voters' head start began: tell them (once: the event is
    unique per drop). Selling to them needs nothing more: the window is in the counters."""
    await repo.lock_exclusive(session, drop_id)
    drop = await repo.get_for_update(session, drop_id)
    now = utcnow()
    if (
        drop is None
        or drop.status is not DropStatus.SCHEDULED
        or not drop.voter_head_start_minutes
        or drop.early_opens_at > now
    ):
        return False
    return await outbox.record_event_once(session, NotificationKind.DROP_EARLY_ACCESS, drop.id)


async def due_for_early_access(session: AsyncSession) -> list[int]:
    return await repo.drops_early_due(session, utcnow())


async def close_drop(session: AsyncSession, actor: Actor, drop_id: int) -> Drop:
    """The KOC closes early; settlement follows (a job, exactly once)."""
    await repo.lock_exclusive(session, drop_id)
    drop, _ = await owned_for_update(session, actor, drop_id)
    if drop.status is not DropStatus.OPEN:
        if drop.status in (DropStatus.CLOSED, DropStatus.SUCCEEDED, DropStatus.FAILED):
            return drop
        raise InvalidTransition(f"A {drop.status.value.lower()} drop cannot be closed.")
    await _close(session, drop)
    return drop


async def close_if_due(session: AsyncSession, drop_id: int) -> bool:
    """The worker: a selling drop whose ``closes_at`` has passed closes. Idempotent."""
    await repo.lock_exclusive(session, drop_id)
    drop = await repo.get_for_update(session, drop_id)
    if drop is None or drop.status not in SELLING or drop.closes_at > utcnow():
        return False
    await _close(session, drop)
    return True


async def cancel_drop(session: AsyncSession, actor: Actor, drop_id: int) -> Drop:
    """Cancel before settlement: every live order is cancelled (paid ones refunded by a job)."""
    await repo.lock_exclusive(session, drop_id)
    drop, _ = await owned_for_update(session, actor, drop_id)
    if drop.status is DropStatus.CANCELLED:
        return drop
    if drop.status in (DropStatus.SUCCEEDED, DropStatus.FAILED):
        raise InvalidTransition("A settled drop cannot be cancelled.")
    drop.status = DropStatus.CANCELLED
    drop.closed_at = utcnow()
    await session.flush()
    jobs.enqueue("drop.cancelled", drop_id=drop_id)
    jobs.enqueue("drop.rebuild_counters", drop_id=drop_id)
    return drop


async def due_to_open(session: AsyncSession) -> list[int]:
    return await repo.drops_due(session, [DropStatus.SCHEDULED], "opens_at", utcnow())


async def due_to_close(session: AsyncSession) -> list[int]:
    return await repo.drops_due(session, list(SELLING), "closes_at", utcnow())
