"""Community rules: KOCs own communities; members join through invite codes that record who
invited them; KOCs remove members; members leave; profiles are private to the member and the
KOCs of their communities."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from domain import validation as v
from domain.community import repository as repo
from domain.community.models import Community, CommunityMember, MemberProfile, MembershipStatus
from domain.errors import ErrorCode, NotFound, PermissionDenied, ValidationFailed
from domain.identity import service as identity
from domain.identity.actor import Actor
from domain.identity.models import User

INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud in a group chat


def _new_invite_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(10))


@dataclass
class CommunityInput:
    name: str
    description: str = ""
    cover_image_url: str | None = None


def _clean(data: CommunityInput) -> dict[str, object]:
    return {
        "name": v.text(data.name, "name", min_len=1, max_len=64),
        "description": v.text(data.description, "description", max_len=2000),
        "cover_image_url": v.https_url(data.cover_image_url, "coverImageUrl"),
    }


async def create_community(
    session: AsyncSession, actor: Actor, data: CommunityInput, idempotency_key: str | None = None
) -> Community:
    koc = await identity.require_koc(session, actor)
    key = v.idempotency_key(idempotency_key)
    values = _clean(data)
    if key is not None:
        existing = await repo.find_by_idempotency_key(session, koc.id, key)
        if existing is not None:
            return existing
    community = await repo.add(session, Community(owner_id=koc.id, idempotency_key=key, **values))
    await repo.insert_invite(session, _new_invite_code(), community.id, koc.id)
    return community


async def require_owned(session: AsyncSession, actor: Actor, community_id: int) -> Community:
    """The community, if the actor is its KOC (or an operator); otherwise not found/forbidden."""
    user = await identity.require_user(session, actor)
    community = await repo.get(session, community_id)
    if community is None:
        raise NotFound("No such community.", field="communityId")
    if community.owner_id != user.id and not user.is_operator:
        if await repo.is_active_member(session, community_id, user.id):
            raise PermissionDenied("Only the community's KOC can do that.")
        raise NotFound("No such community.", field="communityId")
    return community


async def require_own_communities(session: AsyncSession, owner_id: int, is_operator: bool,
                                  ids: list[int], what: str) -> list[int]:
    """1 to 20 distinct communities that ``owner_id`` runs (operators may use any): the
    audience of a poll or a drop."""
    ids = list(dict.fromkeys(ids))
    if not 1 <= len(ids) <= 20:
        raise ValidationFailed("Choose 1 to 20 communities.", field="communityIds")
    found = {c.id: c for c in await repo.get_many(session, ids)}
    for cid in ids:
        c = found.get(cid)
        if c is None:
            raise NotFound("No such community.", field="communityIds")
        if c.owner_id != owner_id and not is_operator:
            raise PermissionDenied(f"A {what} can only go to your own communities.",
                                   field="communityIds")
    return ids


async def audience_can_see(user: User, owner_id: int, is_draft: bool,
                           is_eligible: Callable[[], Awaitable[bool]]) -> bool:
    """What a poll or drop shows to whom: its KOC and operators see it always; members of one of
    its communities once it is no longer a draft; nobody else (to them it does not exist)."""
    if owner_id == user.id or user.is_operator:
        return True
    return not is_draft and await is_eligible()


async def update_community(
    session: AsyncSession, actor: Actor, community_id: int, data: CommunityInput
) -> Community:
    community = await require_owned(session, actor, community_id)
    for key, value in _clean(data).items():
        setattr(community, key, value)
    await session.flush()
    return community


async def get_visible(session: AsyncSession, actor: Actor, community_id: int) -> Community:
    """Members, the KOC and operators see a community; to anyone else it does not exist."""
    user = await identity.require_user(session, actor)
    community = await repo.get(session, community_id)
    if community is None or not (
        community.owner_id == user.id
        or user.is_operator
        or await repo.is_active_member(session, community_id, user.id)
    ):
        raise NotFound("No such community.", field="communityId")
    return community


async def invite_code(session: AsyncSession, actor: Actor, community_id: int) -> str:
    """The caller's own invite code for a community they belong to (made on first ask)."""
    community = await get_visible(session, actor, community_id)
    assert actor.user_id is not None
    existing = await repo.invite_for(session, community.id, actor.user_id)
    if existing is not None:
        return existing.code
    await repo.insert_invite(session, _new_invite_code(), community.id, actor.user_id)
    made = await repo.invite_for(session, community.id, actor.user_id)
    assert made is not None
    return made.code


async def join(session: AsyncSession, actor: Actor, code: str) -> Community:
    user = await identity.require_user(session, actor)
    invite = await repo.invite_by_code(session, code.strip().upper()) if code else None
    if invite is None:
        raise ValidationFailed("That invite code is not valid.", field="inviteCode",
                               code=ErrorCode.INVALID_INVITE)
    community = await repo.get(session, invite.community_id)
    assert community is not None
    if community.owner_id == user.id:
        return community
    inviter = invite.inviter_id if invite.inviter_id != user.id else None
    if await repo.insert_membership(session, community.id, user.id, inviter):
        return community
    member = await repo.membership_for_update(session, community.id, user.id)
    assert member is not None
    if member.status is MembershipStatus.REMOVED:
        raise PermissionDenied("The KOC removed you from this community.", field="inviteCode")
    if member.status is MembershipStatus.LEFT:
        member.status = MembershipStatus.ACTIVE
        member.updated_at = func.now()  # type: ignore[assignment]
        await session.flush()
    return community  # already a member: joining again changes nothing


async def leave(session: AsyncSession, actor: Actor, community_id: int) -> None:
    user = await identity.require_user(session, actor)
    member = await repo.membership_for_update(session, community_id, user.id)
    if member is None:
        community = await repo.get(session, community_id)
        if community is not None and community.owner_id == user.id:
            raise ValidationFailed("A KOC cannot leave their own community.", field="communityId")
        raise NotFound("No such community.", field="communityId")
    if member.status is MembershipStatus.ACTIVE:
        member.status = MembershipStatus.LEFT
        member.updated_at = func.now()  # type: ignore[assignment]
        await session.flush()


async def remove_member(session: AsyncSession, actor: Actor, community_id: int, user_id: int) -> None:
    await require_owned(session, actor, community_id)
    member = await repo.membership_for_update(session, community_id, user_id)
    if member is None:
        raise NotFound("That person is not in this community.", field="userId")
    if member.status is not MembershipStatus.REMOVED:
        member.status = MembershipStatus.REMOVED
        member.updated_at = func.now()  # type: ignore[assignment]
        await session.flush()


async def members(
    session: AsyncSession, actor: Actor, community_id: int, after_user_id: int, limit: int,
    *, tag: str | None = None, size: str | None = None, search: str | None = None,
) -> list[tuple[CommunityMember, User, MemberProfile | None]]:
    await require_owned(session, actor, community_id)
    if search is not None and len(search) > 64:
        raise ValidationFailed("search must be at most 64 characters.", field="search")
    return await repo.members_page(session, community_id, after_user_id, limit, tag=tag,
                                   size=size, search=search)


@dataclass
class ProfileInput:
    height_cm: int | None = None
    weight_kg: int | None = None
    usual_sizes: list[str] | None = None
    body_notes: str | None = None
    style_tags: list[str] | None = None


async def update_profile(session: AsyncSession, actor: Actor, data: ProfileInput) -> MemberProfile:
    user = await identity.require_user(session, actor)
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


async def profile_for(session: AsyncSession, actor: Actor, user_id: int) -> MemberProfile | None:
    """The member themself, or a KOC of one of their communities; nobody else."""
    viewer = await identity.require_user(session, actor)
    if viewer.id != user_id and not await repo.koc_shares_community_with(session, viewer.id, user_id):
        raise NotFound("No such profile.")
    return await repo.get_profile(session, user_id)
