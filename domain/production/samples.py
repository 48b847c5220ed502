"""Samples (打样): before a drop is published its KOC may ask a factory for a sample. The factory
sees sample requests in its API feed (the same (updated_at, id) cursor as its batches), accepts
(REQUESTED -> SAMPLING) and ships it with tracking (SAMPLING -> SAMPLE_SHIPPED); the KOC confirms
receipt (SAMPLE_SHIPPED -> RECEIVED). Each step is a guarded transition: repeating it changes
nothing, skipping one is INVALID_TRANSITION. A drop may be published without a sample; its page
shows whether one was made."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import validation as v
from domain.base import utcnow
from domain.drops import repository as drop_repo
from domain.drops.models import DropStatus
from domain.errors import Conflict, InvalidTransition, NotFound, PermissionDenied
from domain.identity import roles
from domain.identity.actor import Actor
from domain.identity.models import Factory
from domain.production.models import Sample, SampleStatus


def _factory(actor: Actor) -> int:
    if actor.factory_id is None:
        raise PermissionDenied("Use a factory API key.")
    return actor.factory_id


async def request_sample(
    session: AsyncSession, actor: Actor, drop_id: int, factory_id: int, note: str
) -> Sample:
    """The drop's KOC asks ``factory_id`` for a sample of a draft drop (again: the same)."""
    user = await roles.require_user(session, actor)
    drop = await drop_repo.get_for_update(session, drop_id)
    if drop is None or not roles.manages(user, drop.owner_id):
        raise NotFound("No such drop.", field="dropId")
    text = v.text(note, "note", max_len=1000)
    existing = (
        await session.execute(select(Sample).where(Sample.drop_id == drop_id))
    ).scalar_one_or_none()
    if existing is not None:
        if existing.factory_id == factory_id:
            return existing
        raise Conflict("This drop has a sample requested already.", field="dropId")
    if drop.status is not DropStatus.DRAFT:
        raise InvalidTransition("Samples are requested for draft drops only.", field="dropId")
    if await session.get(Factory, factory_id) is None:
        raise NotFound("No such factory.", field="factoryId")
    sample = Sample(
        drop_id=drop_id, factory_id=factory_id, note=text, status=SampleStatus.REQUESTED
    )
    session.add(sample)
    await session.flush()
    await session.refresh(sample)
    return sample


async def _own(session: AsyncSession, actor: Actor, sample_id: int) -> Sample:
    factory_id = _factory(actor)
    sample = await session.get(Sample, sample_id, with_for_update=True)
    if sample is None or sample.factory_id != factory_id:
        raise NotFound("No such sample.", field="sampleId")
    return sample


async def accept_sample(session: AsyncSession, actor: Actor, sample_id: int) -> Sample:
    sample = await _own(session, actor, sample_id)
    if sample.status is SampleStatus.REQUESTED:
        sample.status = SampleStatus.SAMPLING
        sample.updated_at = utcnow()
    elif sample.status is not SampleStatus.SAMPLING:
        raise InvalidTransition("This sample was accepted already.")
    await session.flush()
    return sample


async def ship_sample(
    session: AsyncSession, actor: Actor, sample_id: int, carrier: str, tracking_number: str
) -> Sample:
    sample = await _own(session, actor, sample_id)
    carrier = v.text(carrier, "carrier", min_len=1, max_len=50)
    tracking = v.text(tracking_number, "trackingNumber", min_len=1, max_len=64)
    if sample.status is SampleStatus.SAMPLE_SHIPPED and sample.tracking_number == tracking:
        return sample
    if sample.status is not SampleStatus.SAMPLING:
        raise InvalidTransition("Accept the sample before shipping it.")
    sample.status = SampleStatus.SAMPLE_SHIPPED
    sample.carrier, sample.tracking_number = carrier, tracking
    sample.updated_at = utcnow()
    await session.flush()
    return sample


async def confirm_received(session: AsyncSession, actor: Actor, sample_id: int) -> Sample:
    """The drop's KOC has the sample."""
    user = await roles.require_user(session, actor)
    sample = await session.get(Sample, sample_id, with_for_update=True)
    drop = await drop_repo.get(session, sample.drop_id) if sample else None
    if sample is None or drop is None or not roles.manages(user, drop.owner_id):
        raise NotFound("No such sample.", field="sampleId")
    if sample.status is SampleStatus.RECEIVED:
        return sample
    if sample.status is not SampleStatus.SAMPLE_SHIPPED:
        raise InvalidTransition("The sample has not shipped yet.")
    now = utcnow()
    sample.status, sample.received_at, sample.updated_at = SampleStatus.RECEIVED, now, now
    await session.flush()
    return sample


async def feed(
    session: AsyncSession,
    actor: Actor,
    updated_since: datetime | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[Sample]:
    """The factory's sample requests by (updated_at, id): poll with the last cursor."""
    stmt = select(Sample).where(Sample.factory_id == _factory(actor))
    if updated_since is not None:
        stmt = stmt.where(Sample.updated_at >= updated_since)
    if after is not None:
        stmt = stmt.where(
            (Sample.updated_at > after[0])
            | ((Sample.updated_at == after[0]) & (Sample.id > after[1]))
        )
    stmt = stmt.order_by(Sample.updated_at, Sample.id).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def of_drops(session: AsyncSession, drop_ids: Sequence[int]) -> list[Sample]:
    """The samples of drops the caller already sees (one statement for any number)."""
    stmt = select(Sample).where(Sample.drop_id.in_(drop_ids))
    return list((await session.execute(stmt)).scalars())
