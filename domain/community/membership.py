"""Membership: invite codes that record who invited whom (the referral edge), joining, leaving,
removal by the KOC, and the KOC's member search."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from domain import jobs
from domain import validation as v
from domain.community import repository as repo
from domain.community.communities import get_visible, new_invite_code, require_owned
from domain.community.models import Community, CommunityMember, MemberProfile, MembershipStatus
from domain.errors import ErrorCode, NotFound, PermissionDenied, ValidationFailed
from domain.identity import roles
from domain.identity.actor import Actor
from domain.identity.models import User
from domain.polls import repository as poll_repo
from domain.polls.live import LivePolls


async def invite_code(session: AsyncSession, actor: Actor, community_id: int) -> str:
    """The caller's own invite code for a community they belong to (made on first ask)."""
    community = await get_visible(session, actor, community_id)
    user = await roles.require_user(session, actor)
    existing = await repo.invite_for(session, community.id, user.id)
    if existing is not None:
        return existing.code
    await repo.insert_invite(session, new_invite_code(), community.id, user.id)
    made = await repo.invite_for(session, community.id, user.id)
    assert made is not None
    return made.code


async def join(session: AsyncSession, actor: Actor, code: str) -> Community:
    user = await roles.require_user(session, actor)
    code = code.strip().upper()
    usable = 1 <= len(code) <= 32 and v.clean_text(code)
    invite = await repo.invite_by_code(session, code) if usable else None
    if invite is None:
        raise ValidationFailed(
            "That invite code is not valid.", field="inviteCode", code=ErrorCode.INVALID_INVITE
        )
    community = await repo.get(session, invite.community_id)
    assert community is not None
    if community.owner_id == user.id and user.is_koc:
        return community  # a KOC runs their community; a revoked one may join it as a member
    inviter = invite.inviter_id if invite.inviter_id != user.id else None
    if await repo.insert_membership(session, community.id, user.id, inviter):
        return community
    member = await repo.membership_for_update(session, community.id, user.id)
    assert member is not None
    if member.status is MembershipStatus.REMOVED:
        raise PermissionDenied("The KOC removed you from this community.", field="inviteCode")
    if member.status is MembershipStatus.LEFT:
        member.status = MembershipStatus.ACTIVE
        member.updated_at = func.now()
        await session.flush()
    return community  # already a member: joining again changes nothing


async def leave(session: AsyncSession, actor: Actor, community_id: int) -> None:
    user = await roles.require_user(session, actor)
    member = await repo.membership_for_update(session, community_id, user.id)
    if member is None:
        community = await repo.get(session, community_id)
        if community is not None and community.owner_id == user.id:
            raise ValidationFailed("A KOC cannot leave their own community.", field="communityId")
        raise NotFound("No such community.", field="communityId")
    if member.status is MembershipStatus.ACTIVE:
        member.status = MembershipStatus.LEFT
        member.updated_at = func.now()
        await session.flush()


async def remove_member(
    session: AsyncSession,
    actor: Actor,
    community_id: int,
    user_id: int,
    live: LivePolls | None = None,
) -> None:
    """The KOC removes a member: they cannot rejoin, and their ballots in the open polls of this
    community stop counting (unless another of the poll's communities still has them): withdrawn
    in PostgreSQL in this transaction, and in the live tallies after the commit, exactly."""
    await require_owned(session, actor, community_id)
    member = await repo.membership_for_update(session, community_id, user_id)
    if member is None:
        raise NotFound("That person is not in this community.", field="userId")
    if member.status is not MembershipStatus.REMOVED:
        member.status = MembershipStatus.REMOVED
        member.updated_at = func.now()
        await session.flush()
        withdrawn = await poll_repo.withdraw_ballots(session, user_id, community_id)
        if live is not None and withdrawn:
            tallies = live

            async def apply() -> None:
                for poll_id, version in withdrawn:
                    await tallies.apply_vote(poll_id, user_id, version, [])

            jobs.after_commit(apply)


async def members(
    session: AsyncSession,
    actor: Actor,
    community_id: int,
    after_user_id: int,
    limit: int,
    *,
    tag: str | None = None,
    size: str | None = None,
    search: str | None = None,
) -> list[tuple[CommunityMember, User, MemberProfile | None]]:
    await require_owned(session, actor, community_id)
    tag = v.text(tag, "tag", max_len=32) if tag is not None else None
    size = v.text(size, "size", max_len=16) if size is not None else None
    search = v.text(search, "search", max_len=64) if search is not None else None
    return await repo.members_page(
        session, community_id, after_user_id, limit, tag=tag, size=size, search=search
    )
