"""Drafts from a closed poll: every option that advanced becomes a draft drop owned by the
poll's KOC, prefilled from the option (title, images, description, the poll's communities, a
link back to the option), in the close's own transaction: the close happens once (guarded by the
poll's status under its locks), so the drafts are made once, whether the KOC closes early, the
worker closes on time, or either is retried; a unique index on the option backs it.

The prefilled price, variants and dates are placeholders (the option's reference price, one
"ONE SIZE" variant, a week starting tomorrow): the draft ``needs_review`` and cannot be published
until its KOC has edited it (``updateDrop``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from domain.base import utcnow
from domain.drops import repository as repo
from domain.drops.models import Drop, DropStatus, DropVariant, PaymentMode
from domain.identity import roles
from domain.identity.actor import Actor

PLACEHOLDER_PRICE_FEN = 9900
PLACEHOLDER_CAP = 100


async def draft_advanced(
    session: AsyncSession,
    owner_id: int,
    community_ids: Sequence[int],
    options: Sequence[tuple[int, str, str, list[str], int | None, str]],
) -> list[Drop]:
    """One draft per advanced option: (id, title, notes, image urls, reference price, currency).
    Called by the poll's close, in its transaction."""
    now = utcnow()
    made = []
    for option_id, title, notes, images, price, currency in options:
        drop = await repo.add(
            session,
            Drop(
                owner_id=owner_id,
                poll_option_id=option_id,
                title=title[:100],
                description=notes,
                image_urls=list(images),
                size_chart="",
                status=DropStatus.DRAFT,
                currency=currency,
                price_fen=price if price and price > 0 else PLACEHOLDER_PRICE_FEN,
                tiers=[],
                payment_mode=PaymentMode.FULL,
                moq=1,
                cap=PLACEHOLDER_CAP,
                per_member_limit=5,
                opens_at=now + timedelta(days=1),
                closes_at=now + timedelta(days=8),
                drafted_from_poll=True,
                needs_review=True,
            ),
        )
        await repo.replace_variants(
            session,
            drop.id,
            [DropVariant(drop_id=drop.id, position=0, size="ONE SIZE", color="DEFAULT")],
        )
        await repo.replace_communities(session, drop.id, list(community_ids))
        made.append(drop)
    return made


async def drafts_of_polls(
    session: AsyncSession, actor: Actor, poll_ids: Sequence[int]
) -> dict[int, list[Drop]]:
    """The drafts each poll's close made, by poll: for the polls the actor manages (its KOC,
    operators); nobody else sees drafts. Two statements for any number of polls."""
    if actor.user_id is None or not poll_ids:
        return {}
    user = await roles.require_user(session, actor)
    out: dict[int, list[Drop]] = {}
    for poll_id, owner_id, drop in await repo.poll_drafts(session, poll_ids):
        if roles.manages(user, owner_id):
            out.setdefault(poll_id, []).append(drop)
    return out
