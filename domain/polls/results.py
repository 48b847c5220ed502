"""Results: live from Redis while a poll is open, final from PostgreSQL once closed; who voted
for an option."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import NotFound
from domain.identity import repository as identity_repo
from domain.identity import roles
from domain.identity.actor import Actor
from domain.identity.models import User
from domain.polls import repository as repo
from domain.polls.live import LivePolls
from domain.polls.models import Poll, PollStatus
from domain.polls.ranking import RankedOption, rank
from domain.polls.visibility import get_visible


@dataclass(frozen=True)
class Results:
    poll: Poll
    options: list[RankedOption]
    total_voters: int
    final: bool


async def results(session: AsyncSession, live: LivePolls, actor: Actor, poll_id: int) -> Results:
    return await _results_of(session, live, await get_visible(session, actor, poll_id))


async def current_results(session: AsyncSession, live: LivePolls, poll_id: int) -> Results | None:
    """The same results with no viewer: for a live feed whose followers were each authorized
    (with ``results``) before they joined. None once the poll is gone."""
    poll = await repo.get(session, poll_id)
    return None if poll is None else await _results_of(session, live, poll)


async def _results_of(session: AsyncSession, live: LivePolls, poll: Poll) -> Results:
    poll_id = poll.id
    options = await repo.options(session, poll_id)
    if poll.status is PollStatus.CLOSED:
        final = {o.id: o.final_votes or 0 for o in options}
        ranked = sorted(options, key=lambda o: (o.final_rank or 0, o.position))
        return Results(
            poll=poll,
            options=[RankedOption(o, final[o.id], o.final_rank or 0, o.advanced) for o in ranked],
            total_voters=poll.final_voters or 0,
            final=True,
        )
    if poll.status is PollStatus.OPEN:
        # Hand the connection back before Redis: a read that finds the tallies missing waits for
        # a rebuild, which needs a connection of its own (a crowd holding theirs would starve it).
        await session.close()
        tally = await live.read(poll_id)
        return Results(
            poll, rank(options, tally.counts, poll.advance_count), tally.voters, final=False
        )
    return Results(poll, rank(options, {}, poll.advance_count), 0, final=False)


async def voters_of_option(
    session: AsyncSession, actor: Actor, option_id: int, after_user_id: int, limit: int
) -> list[User]:
    """Who voted for an option: the poll's KOC (and operators) only."""
    option = await repo.get_option(session, option_id)
    if option is None:
        raise NotFound("No such option.", field="optionId")
    user = await roles.require_user(session, actor)
    poll = await repo.get(session, option.poll_id)
    if poll is None or not roles.manages(user, poll.owner_id):
        raise NotFound("No such option.", field="optionId")
    ids = await repo.voters_of_option(session, option.poll_id, option_id, after_user_id, limit)
    users = {u.id: u for u in await identity_repo.get_users(session, ids)}
    return [users[i] for i in ids if i in users]
