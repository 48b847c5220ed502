"""Roles: every account is a member; KOC and operator are granted by operators. The one place
that answers "who may manage this" (``manages``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from domain import validation as v
from domain.errors import NotFound, PermissionDenied, Unauthenticated
from domain.identity import repository as repo
from domain.identity.actor import Actor
from domain.identity.models import User


async def require_user(session: AsyncSession, actor: Actor) -> User:
    if actor.user_id is None:
        raise Unauthenticated()
    user = await repo.get_user(session, actor.user_id)
    if user is None:
        raise Unauthenticated("The account no longer exists.")
    return user


async def viewer(session: AsyncSession, actor: Actor) -> User | None:
    """The signed-in member, or None when the request carries no member's token."""
    if actor.user_id is None:
        return None
    return await repo.get_user(session, actor.user_id)


async def visible_users(session: AsyncSession, actor: Actor, ids: list[int]) -> dict[int, User]:
    """Accounts by id as ``node`` shows them: a member sees only themself; operators see all."""
    if actor.user_id is None or not ids:
        return {}
    me = await repo.get_user(session, actor.user_id)
    if me is None:
        return {}
    if not me.is_operator:
        ids = [i for i in ids if i == me.id]
    return {u.id: u for u in await repo.get_users(session, ids)}


async def require_operator(session: AsyncSession, actor: Actor) -> User:
    user = await require_user(session, actor)
    if not user.is_operator:
        raise PermissionDenied("Only an operator can do that.")
    return user


async def require_koc(session: AsyncSession, actor: Actor) -> User:
    user = await require_user(session, actor)
    if not (user.is_koc or user.is_operator):
        raise PermissionDenied("Only a KOC can do that.")
    return user


async def set_koc_role(session: AsyncSession, actor: Actor, user_id: int, granted: bool) -> User:
    await require_operator(session, actor)
    user = await repo.get_user(session, user_id)
    if user is None:
        raise NotFound("No such user.", field="userId")
    user.is_koc = granted
    await session.flush()
    return user


async def ensure_operator(session: AsyncSession, openid: str, display_name: str) -> User:
    """Bootstrap (CLI): create or promote the account with this openid to operator."""
    openid = v.text(openid, "openid", min_len=1, max_len=128)
    user = await repo.upsert_user_by_openid(session, openid, None)
    user.is_operator = True
    if display_name:
        user.display_name = display_name
    await session.flush()
    return user


async def update_profile_name(
    session: AsyncSession, actor: Actor, display_name: str, avatar_url: str | None
) -> User:
    user = await require_user(session, actor)
    name = v.text(display_name, "displayName", min_len=1, max_len=64)
    avatar = v.https_url(avatar_url, "avatarUrl")
    user.display_name = name
    user.avatar_url = avatar
    await session.flush()
    return user


def manages(user: User, owner_id: int) -> bool:
    """Whether ``user`` may manage what ``owner_id`` owns (a community, poll or drop): operators
    everything, a KOC what they own **while they are a KOC**. Revoking the role takes every
    power away at once (roles are read from the database on each request); what the former KOC
    ran goes on (members keep their orders, the worker settles on time) and operators manage it
    (they can close, cancel or settle it)."""
    return user.is_operator or (user.is_koc and user.id == owner_id)
