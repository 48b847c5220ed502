"""Every SQL query of the community context."""

from __future__ import annotations

from sqlalchemy import exists, false, func, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.community.models import (
    Community,
    CommunityInvite,
    CommunityMember,
    MemberProfile,
    MembershipStatus,
)
from domain.identity.models import User


async def get(session: AsyncSession, community_id: int) -> Community | None:
    return await session.get(Community, community_id)


async def get_many(session: AsyncSession, ids: list[int]) -> list[Community]:
    rows = await session.execute(select(Community).where(Community.id.in_(ids)))
    return list(rows.scalars())


async def find_by_idempotency_key(
    session: AsyncSession, owner_id: int, key: str
) -> Community | None:
    stmt = select(Community).where(Community.owner_id == owner_id, Community.idempotency_key == key)
    return (await session.execute(stmt)).scalar_one_or_none()


async def add(session: AsyncSession, community: Community) -> Community:
    session.add(community)
    await session.flush()
    return community


async def membership(
    session: AsyncSession, community_id: int, user_id: int
) -> CommunityMember | None:
    return await session.get(CommunityMember, (community_id, user_id))


async def membership_for_update(
    session: AsyncSession, community_id: int, user_id: int
) -> CommunityMember | None:
    stmt = (
        select(CommunityMember)
        .where(CommunityMember.community_id == community_id, CommunityMember.user_id == user_id)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def insert_membership(
    session: AsyncSession, community_id: int, user_id: int, invited_by_id: int | None
) -> bool:
    """Insert an ACTIVE membership; False if a row already existed (racing joins are safe)."""
    stmt = (
        insert(CommunityMember)
        .values(
            community_id=community_id,
            user_id=user_id,
            status=MembershipStatus.ACTIVE,
            invited_by_id=invited_by_id,
        )
        .on_conflict_do_nothing()
        .returning(CommunityMember.user_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def is_active_member(session: AsyncSession, community_id: int, user_id: int) -> bool:
    stmt = select(
        exists().where(
            CommunityMember.community_id == community_id,
            CommunityMember.user_id == user_id,
            CommunityMember.status == MembershipStatus.ACTIVE,
        )
    )
    return bool((await session.execute(stmt)).scalar())


async def invite_by_code(session: AsyncSession, code: str) -> CommunityInvite | None:
    return await session.get(CommunityInvite, code)


async def invite_for(
    session: AsyncSession, community_id: int, inviter_id: int
) -> CommunityInvite | None:
    stmt = select(CommunityInvite).where(
        CommunityInvite.community_id == community_id, CommunityInvite.inviter_id == inviter_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def insert_invite(
    session: AsyncSession, code: str, community_id: int, inviter_id: int
) -> None:
    stmt = (
        insert(CommunityInvite)
        .values(code=code, community_id=community_id, inviter_id=inviter_id)
        .on_conflict_do_nothing()
    )
    await session.execute(stmt)


async def my_communities(
    session: AsyncSession, user_id: int, after_id: int, limit: int, *, owns: bool = True
) -> list[tuple[Community, str]]:
    """Communities the user owns (while a KOC) or is an active member of, with the relation."""
    owned = select(Community.id.label("cid")).where(
        Community.owner_id == user_id, true() if owns else false()
    )
    member = select(CommunityMember.community_id.label("cid")).where(
        CommunityMember.user_id == user_id, CommunityMember.status == MembershipStatus.ACTIVE
    )
    ids = owned.union(member).subquery()
    stmt = (
        select(Community)
        .join(ids, ids.c.cid == Community.id)
        .where(Community.id > after_id)
        .order_by(Community.id)
        .limit(limit)
    )
    rows = list((await session.execute(stmt)).scalars())
    return [(c, "OWNER" if owns and c.owner_id == user_id else "MEMBER") for c in rows]


async def members_page(
    session: AsyncSession,
    community_id: int,
    after_user_id: int,
    limit: int,
    *,
    tag: str | None,
    size: str | None,
    search: str | None,
) -> list[tuple[CommunityMember, User, MemberProfile | None]]:
    stmt = (
        select(CommunityMember, User, MemberProfile)
        .join(User, User.id == CommunityMember.user_id)
        .outerjoin(MemberProfile, MemberProfile.user_id == CommunityMember.user_id)
        .where(
            CommunityMember.community_id == community_id,
            CommunityMember.status == MembershipStatus.ACTIVE,
            CommunityMember.user_id > after_user_id,
        )
        .order_by(CommunityMember.user_id)
        .limit(limit)
    )
    if tag:
        stmt = stmt.where(MemberProfile.style_tags.contains([tag]))
    if size:
        stmt = stmt.where(MemberProfile.usual_sizes.contains([size]))
    if search:
        stmt = stmt.where(User.display_name.ilike(f"%{_escape_like(search)}%", escape="\\"))
    return [(m, u, p) for m, u, p in (await session.execute(stmt)).all()]


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def member_count(session: AsyncSession, community_id: int) -> int:
    stmt = select(func.count()).where(
        CommunityMember.community_id == community_id,
        CommunityMember.status == MembershipStatus.ACTIVE,
    )
    return int((await session.execute(stmt)).scalar_one())


async def get_profile(session: AsyncSession, user_id: int) -> MemberProfile | None:
    return await session.get(MemberProfile, user_id)


async def upsert_profile(
    session: AsyncSession, user_id: int, values: dict[str, object]
) -> MemberProfile:
    ins = insert(MemberProfile).values(user_id=user_id, **values)
    stmt = ins.on_conflict_do_update(
        index_elements=[MemberProfile.user_id], set_={**values, "updated_at": func.now()}
    ).returning(MemberProfile)
    result = await session.execute(stmt.execution_options(populate_existing=True))
    profile: MemberProfile = result.scalar_one()
    return profile
