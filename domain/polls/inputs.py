"""What a KOC may put in a poll: every check, with the field at fault."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain import validation as v
from domain.community import communities
from domain.errors import ValidationFailed
from domain.polls.models import PollOption

MIN_OPTIONS, MAX_OPTIONS = 2, 50
MAX_PRICE_FEN = 100_000_000  # 1,000,000 yuan: anything above is a typo
MAX_POLL_DURATION = timedelta(days=90)


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
    min_member_age_hours: int = 0


MAX_MEMBER_AGE_HOURS = 365 * 24


def payload_of(data: PollInput) -> Any:
    """The canonical form of a poll request, for its idempotency key."""
    return [
        data.title,
        data.description,
        sorted(data.community_ids),
        [
            [o.title, list(o.image_urls), o.designer_notes, o.reference_price_fen]
            for o in data.options
        ],
        data.opens_at.isoformat(),
        data.closes_at.isoformat(),
        data.max_choices,
        data.advance_count,
        *([["member age", data.min_member_age_hours]] if data.min_member_age_hours else []),
    ]


@dataclass
class Checked:
    values: dict[str, object] = field(default_factory=dict)
    options: list[OptionInput] = field(default_factory=list)
    community_ids: list[int] = field(default_factory=list)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValidationFailed(f"{name} needs a timezone (UTC recommended).", field=name)
    return value


async def check_input(
    session: AsyncSession, koc_id: int, is_operator: bool, data: PollInput
) -> Checked:
    title = v.text(data.title, "title", min_len=1, max_len=100)
    description = v.text(data.description, "description", max_len=5000)
    opens_at = _aware(data.opens_at, "opensAt")
    closes_at = _aware(data.closes_at, "closesAt")
    if closes_at <= opens_at:
        raise ValidationFailed("closesAt must be after opensAt.", field="closesAt")
    if closes_at - opens_at > MAX_POLL_DURATION:
        raise ValidationFailed("A poll runs at most 90 days.", field="closesAt")
    if not MIN_OPTIONS <= len(data.options) <= MAX_OPTIONS:
        raise ValidationFailed(
            f"A poll has {MIN_OPTIONS} to {MAX_OPTIONS} options.", field="options"
        )
    for i, opt in enumerate(data.options):
        prefix = f"options[{i}]"
        v.text(opt.title, f"{prefix}.title", min_len=1, max_len=100)
        v.https_urls(opt.image_urls, f"{prefix}.imageUrls", min_count=1, max_count=9)
        v.text(opt.designer_notes, f"{prefix}.designerNotes", max_len=2000)
        price = opt.reference_price_fen
        if price is not None and not 0 <= price <= MAX_PRICE_FEN:
            raise ValidationFailed(
                f"referencePriceFen must be 0 to {MAX_PRICE_FEN}.",
                field=f"{prefix}.referencePriceFen",
            )
    if not 1 <= data.max_choices <= len(data.options):
        raise ValidationFailed(
            "maxChoices must be between 1 and the number of options.", field="maxChoices"
        )
    if not 1 <= data.advance_count <= len(data.options):
        raise ValidationFailed(
            "advanceCount must be between 1 and the number of options.", field="advanceCount"
        )
    if not 0 <= data.min_member_age_hours <= MAX_MEMBER_AGE_HOURS:
        raise ValidationFailed(
            f"minMemberAgeHours must be 0 to {MAX_MEMBER_AGE_HOURS}.", field="minMemberAgeHours"
        )
    ids = await communities.require_own_communities(
        session, koc_id, is_operator, data.community_ids, "poll"
    )
    return Checked(
        values={
            "title": title,
            "description": description,
            "opens_at": opens_at,
            "closes_at": closes_at,
            "max_choices": data.max_choices,
            "advance_count": data.advance_count,
            "min_member_age_hours": data.min_member_age_hours,
        },
        options=[
            OptionInput(
                o.title.strip(),
                [u.strip() for u in o.image_urls],
                o.designer_notes.strip(),
                o.reference_price_fen,
            )
            for o in data.options
        ],
        community_ids=ids,
    )


def option_rows(poll_id: int, options: list[OptionInput]) -> list[PollOption]:
    return [
        PollOption(
            poll_id=poll_id,
            position=i,
            title=o.title,
            image_urls=o.image_urls,
            designer_notes=o.designer_notes,
            reference_price_fen=o.reference_price_fen,
            currency="CNY",
        )
        for i, o in enumerate(options)
    ]
