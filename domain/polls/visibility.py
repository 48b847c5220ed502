"""Who sees which poll: its KOC and operators always; members of one of its communities once it
is published; nobody else (to them it does not exist)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from domain.community import communities
from domain.community import repository as community_repo
from domain.errors import NotFound, Unauthenticated
from domain.identity import roles
from domain.identity.actor import Actor
from domain.polls import repository as repo
from domain.polls.models import Poll, PollOption, PollStatus


async def get_visible(session: AsyncSession, actor: Actor, poll_id: int) -> Poll:
    user = await roles.require_user(session, actor)
    poll = await repo.get(session, poll_id)
    if poll is None or not await communities.audience_can_see(
        user,
        poll.owner_id,
        poll.status is PollStatus.DRAFT,
        lambda: repo.is_eligible(session, poll_id, user.id),
    ):
        raise NotFound("No such poll.", field="pollId")
    return poll


async def polls_for_member(
    session: AsyncSession,
    actor: Actor,
    statuses: list[PollStatus],
    after_id: int,
    limit: int,
    community_id: int | None,
) -> list[Poll]:
    user = await roles.require_user(session, actor)
    if community_id is not None:
        community = await community_repo.get(session, community_id)
        if community is None or (
            not roles.manages(user, community.owner_id)
            and not await community_repo.is_active_member(session, community_id, user.id)
        ):
            raise NotFound("No such community.", field="communityId")
    return await repo.polls_for_member(
        session, user.id, statuses, after_id, limit, community_id, owns=user.is_koc
    )


async def visible_polls(
    session: AsyncSession, actor: Actor, poll_ids: Sequence[int]
) -> dict[int, Poll]:
    out: dict[int, Poll] = {}
    for poll_id in poll_ids:
        try:
            out[poll_id] = await get_visible(session, actor, poll_id)
        except (NotFound, Unauthenticated):
            continue
    return out


async def visible_option(session: AsyncSession, actor: Actor, option_id: int) -> PollOption | None:
    option = await repo.get_option(session, option_id)
    if option is None:
        return None
    try:
        await get_visible(session, actor, option.poll_id)
    except (NotFound, Unauthenticated):
        return None
    return option


async def options_of(session: AsyncSession, poll_ids: Sequence[int]) -> list[PollOption]:
    """Options of polls the caller already sees (the DataLoader behind ``Poll.options``)."""
    return await repo.options_of_polls(session, poll_ids)


async def community_ids(session: AsyncSession, poll_id: int) -> list[int]:
    """The audience of a poll the caller already sees."""
    return await repo.community_ids(session, poll_id)
