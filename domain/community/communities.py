"""Communities: a KOC owns them; members, the KOC and operators see them; the audience rule that
polls and drops share."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from domain import validation as v
from domain.community import repository as repo
from domain.community.models import Community
from domain.errors import NotFound, PermissionDenied, Unauthenticated, ValidationFailed
from domain.identity import roles
from domain.identity.actor import Actor
from domain.identity.models import User

INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud in a group chat
MAX_AUDIENCE = 20


def new_invite_code() -> str:
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
    koc = await roles.require_koc(session, actor)
    key = v.idempotency_key(idempotency_key)
    digest = v.payload_hash([data.name, data.description, data.cover_image_url])
    if key is not None:
        existing = await repo.find_by_idempotency_key(session, koc.id, key)
        if existing is not None:
            v.same_request(existing.request_hash, digest)
            return existing
    values = _clean(data)
    community = await repo.add(
        session, Community(owner_id=koc.id, idempotency_key=key, request_hash=digest, **values)
    )
    await repo.insert_invite(session, new_invite_code(), community.id, koc.id)
    return community


async def require_owned(session: AsyncSession, actor: Actor, community_id: int) -> Community:
    """The community, if the actor is its KOC (or an operator); otherwise not found/forbidden."""
    user = await roles.require_user(session, actor)
    community = await repo.get(session, community_id)
    if community is None:
        raise NotFound("No such community.", field="communityId")
    if not roles.manages(user, community.owner_id):
        if await repo.is_active_member(session, community_id, user.id):
            raise PermissionDenied("Only the community's KOC can do that.")
        raise NotFound("No such community.", field="communityId")
    return community


async def require_own_communities(
    session: AsyncSession, owner_id: int, is_operator: bool, ids: list[int], what: str
) -> list[int]:
    """1 to 20 distinct communities that ``owner_id`` runs (operators may use any): the
    audience of a poll or a drop."""
    ids = list(dict.fromkeys(ids))
    if not 1 <= len(ids) <= MAX_AUDIENCE:
        raise ValidationFailed(f"Choose 1 to {MAX_AUDIENCE} communities.", field="communityIds")
    found = {c.id: c for c in await repo.get_many(session, ids)}
    for cid in ids:
        c = found.get(cid)
        if c is None:
            raise NotFound("No such community.", field="communityIds")
        if c.owner_id != owner_id and not is_operator:
            raise PermissionDenied(
                f"A {what} can only go to your own communities.", field="communityIds"
            )
    return ids


async def audience_can_see(
    user: User, owner_id: int, is_draft: bool, is_eligible: Callable[[], Awaitable[bool]]
) -> bool:
    """What a poll or drop shows to whom: its KOC and operators see it always; members of one of
    its communities once it is no longer a draft; nobody else (to them it does not exist)."""
    if roles.manages(user, owner_id):
        return True
    return not is_draft and await is_eligible()


def audience_sees(user: User, owner_id: int, is_draft: bool, eligible: bool) -> bool:
    """``audience_can_see`` when whether the user is in one of its communities is known."""
    return roles.manages(user, owner_id) or (not is_draft and eligible)


async def runs(session: AsyncSession, actor: Actor, owner_id: int) -> bool:
    """Whether the caller is the KOC who runs what ``owner_id`` owns (a revoked KOC does not)."""
    user = await roles.viewer(session, actor)
    return user is not None and user.is_koc and user.id == owner_id


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
    user = await roles.require_user(session, actor)
    community = await repo.get(session, community_id)
    if community is None or not (
        roles.manages(user, community.owner_id)
        or await repo.is_active_member(session, community_id, user.id)
    ):
        raise NotFound("No such community.", field="communityId")
    return community


async def visible_communities(
    session: AsyncSession, actor: Actor, community_ids: list[int]
) -> dict[int, Community]:
    out: dict[int, Community] = {}
    for cid in community_ids:
        try:
            out[cid] = await get_visible(session, actor, cid)
        except (NotFound, Unauthenticated):
            continue
    return out


async def my_communities(
    session: AsyncSession, actor: Actor, after_id: int, limit: int
) -> list[tuple[Community, str]]:
    """Communities the viewer runs or belongs to, with the viewer's relation."""
    user = await roles.require_user(session, actor)
    return await repo.my_communities(session, user.id, after_id, limit, owns=user.is_koc)


async def member_count(session: AsyncSession, community_id: int) -> int:
    return await repo.member_count(session, community_id)
