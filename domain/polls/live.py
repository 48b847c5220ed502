"""Live results: the Redis tallies, rebuilt from PostgreSQL whenever they are missing."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.errors import Unavailable
from domain.polls import repository as repo
from domain.polls.tally import LiveTally, NotReady, TallyStore, lock_name

log = logging.getLogger(__name__)


class LivePolls:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], redis: Redis) -> None:
        self.sessionmaker = sessionmaker
        self.store = TallyStore(redis)
        self.redis = redis

    async def apply_vote(
        self, poll_id: int, user_id: int, version: int, option_ids: Sequence[int]
    ) -> None:
        """Called after the ballot committed. If the keys are missing, rebuild from PostgreSQL
        and apply again: the rebuild may have snapshotted before our commit (then the script adds
        the ballot) or after it (then the script sees the same version and does nothing)."""
        try:
            await self.store.apply_vote(poll_id, user_id, version, option_ids)
        except NotReady:
            await self.rebuild(poll_id, force=False)
            await self.store.apply_vote(poll_id, user_id, version, option_ids)

    async def apply_votes(self, votes: Sequence[tuple[int, int, int, Sequence[int]]]) -> None:
        """``apply_vote`` for a committed batch, in one round trip; a poll whose keys are
        missing is rebuilt and its votes applied again."""
        results = await self.store.apply_votes(votes)
        for vote, result in zip(votes, results, strict=True):
            if result == -1:
                await self.apply_vote(*vote)

    async def read(self, poll_id: int) -> LiveTally:
        try:
            return await self.store.read(poll_id)
        except NotReady:
            await self.rebuild(poll_id, force=False)
            try:
                return await self.store.read(poll_id)
            except NotReady as exc:
                raise Unavailable("Live results are being rebuilt; retry shortly.") from exc

    async def rebuild(self, poll_id: int, *, force: bool = True) -> int:
        """Rebuild one poll's tallies from PostgreSQL under a per-poll lock.

        ``force=False`` skips the work when another process rebuilt while we waited."""
        lock = self.redis.lock(lock_name(poll_id), timeout=120, blocking_timeout=60)
        if not await lock.acquire():
            raise Unavailable("Live results are being rebuilt; retry shortly.")
        try:
            if not force and await self.store.is_ready(poll_id):
                return -1
            async with self.sessionmaker() as session:
                snapshot = await repo.ballots_snapshot(session, poll_id)
            voters = await self.store.rebuild(poll_id, snapshot)
            log.info("rebuilt tallies of poll %s from %s ballots", poll_id, voters)
            return voters
        finally:
            try:
                await lock.release()
            except Exception:  # noqa: BLE001 - the lock expired; nothing to release
                pass

    async def rebuild_open(self) -> int:
        """Rebuild every open poll (the reconciler); returns how many."""
        async with self.sessionmaker() as session:
            ids = await repo.open_poll_ids(session)
        for poll_id in ids:
            await self.rebuild(poll_id, force=True)
        if ids:
            log.info("rebuilt live tallies of %s open polls", len(ids))
        return len(ids)
