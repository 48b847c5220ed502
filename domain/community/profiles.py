"""Member profiles: long-tail needs, private to the member and the KOCs of their communities."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from domain import validation as v
from domain.community import repository as repo
from domain.community.models import MemberProfile
from domain.errors import ValidationFailed
from domain.identity import roles
from domain.identity.actor import Actor


@dataclass
class ProfileInput:
    height_cm: int | None = None
    weight_kg: int | None = None
    usual_sizes: list[str] | None = None
    body_notes: str | None = None
    style_tags: list[str] | None = None


async def update_profile(session: AsyncSession, actor: Actor, data: ProfileInput) -> MemberProfile:
    user = await roles.require_user(session, actor)
    if data.height_cm is not None and not 50 <= data.height_cm <= 260:
        raise ValidationFailed("heightCm must be between 50 and 260.", field="heightCm")
    if data.weight_kg is not None and not 10 <= data.weight_kg <= 400:
        raise ValidationFailed("weightKg must be between 10 and 400.", field="weightKg")
    values: dict[str, object] = {
        "height_cm": data.height_cm,
        "weight_kg": data.weight_kg,
        "usual_sizes": v.tags(data.usual_sizes or [], "usualSizes", max_count=10, max_len=16),
        "body_notes": v.text(data.body_notes or "", "bodyNotes", max_len=2000),
        "style_tags": v.tags(data.style_tags or [], "styleTags", max_count=20, max_len=32),
    }
    return await repo.upsert_profile(session, user.id, values)


async def my_profile(session: AsyncSession, actor: Actor) -> MemberProfile | None:
    user = await roles.require_user(session, actor)
    return await repo.get_profile(session, user.id)
