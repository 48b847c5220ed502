"""Live poll tallies in Redis, kept equal to the PostgreSQL ballots.

Keys of one poll share the hash tag ``{poll:<id>}`` (one Redis Cluster slot):

* ``c2m:{poll:<id>}:ballots`` hash member -> ``"<version>:<opt>,<opt>"``: each member's current
  picks as Redis last applied them;
* ``c2m:{poll:<id>}:tally`` hash option -> number of ballots containing it, and ``_empty`` ->
  the number of ballots with no picks (withdrawn: a member removed from the community), which
  are not voters;
* ``c2m:{poll:<id>}:ready`` the marker (``domain/marker.py``) written by a rebuild. No marker,
  or one written on another Redis process (a restart from files, a promoted replica: possibly
  behind), means the scripts refuse and the caller rebuilds first.

A vote is applied by one script that moves the member's picks. The ballot ``version`` comes from
PostgreSQL (bumped by every re-vote under the row lock), so two re-votes racing from two devices
end the same way in both stores: an older version arriving late is ignored. A rebuild merges a
PostgreSQL snapshot by the same max-version rule, then recomputes the tally from the ballots hash
in one script, so it never undoes a vote that landed while it ran.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from domain.marker import RUN_ID, VOUCHED

VOTE = (
    "if not "
    + VOUCHED
    + """ then return -1 end
local cur = redis.call('HGET', KEYS[2], ARGV[1])
local ver = tonumber(ARGV[2])
local was_empty = false
if cur then
  local sep = string.find(cur, ':', 1, true)
  if tonumber(string.sub(cur, 1, sep - 1)) >= ver then return 0 end
  was_empty = sep == #cur
  for opt in string.gmatch(string.sub(cur, sep + 1), '[^,]+') do
    redis.call('HINCRBY', KEYS[3], opt, -1)
  end
end
local empty = ARGV[3] == ''
if empty and not was_empty then redis.call('HINCRBY', KEYS[3], '_empty', 1) end
if was_empty and not empty then redis.call('HINCRBY', KEYS[3], '_empty', -1) end
for opt in string.gmatch(ARGV[3], '[^,]+') do redis.call('HINCRBY', KEYS[3], opt, 1) end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ':' .. ARGV[3])
redis.call('PUBLISH', ARGV[4], '1')
return 1
"""
)

MERGE = """
local n = 0
for i = 1, #ARGV, 3 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  local newer = true
  if cur then
    local sep = string.find(cur, ':', 1, true)
    newer = tonumber(string.sub(cur, 1, sep - 1)) < tonumber(ARGV[i + 1])
  end
  if newer then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1] .. ':' .. ARGV[i + 2])
    n = n + 1
  end
end
return n
"""

RECOMPUTE = (
    """
local counts = {}
local all = redis.call('HGETALL', KEYS[2])
for i = 2, #all, 2 do
  local v = all[i]
  local sep = string.find(v, ':', 1, true)
  if sep == #v then counts['_empty'] = (counts['_empty'] or 0) + 1 end
  for opt in string.gmatch(string.sub(v, sep + 1), '[^,]+') do
    counts[opt] = (counts[opt] or 0) + 1
  end
end
redis.call('DEL', KEYS[3])
for opt, c in pairs(counts) do redis.call('HSET', KEYS[3], opt, c) end
redis.call('SET', KEYS[1], """
    + RUN_ID
    + """)
redis.call('PUBLISH', ARGV[1], '1')
return #all / 2
"""
)

READ = (
    "if not "
    + VOUCHED
    + """ then return {0} end
return {1, redis.call('HLEN', KEYS[2]), redis.call('HGETALL', KEYS[3])}
"""
)

MERGE_CHUNK = 500


def keys(poll_id: int) -> tuple[str, str, str]:
    tag = f"c2m:{{poll:{poll_id}}}"
    return f"{tag}:ready", f"{tag}:ballots", f"{tag}:tally"


def channel(poll_id: int) -> str:
    return f"c2m:{{poll:{poll_id}}}:changed"


def lock_name(poll_id: int) -> str:
    return f"c2m:{{poll:{poll_id}}}:rebuild-lock"


@dataclass(frozen=True)
class LiveTally:
    counts: dict[int, int]
    voters: int


class NotReady(Exception):
    """The poll's keys were never built or were lost: rebuild from PostgreSQL first."""


class TallyStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._vote = redis.register_script(VOTE)
        self._merge = redis.register_script(MERGE)
        self._recompute = redis.register_script(RECOMPUTE)
        self._read = redis.register_script(READ)
        self._vouched = redis.register_script(f"return {VOUCHED} and 1 or 0")

    async def apply_vote(
        self, poll_id: int, user_id: int, version: int, option_ids: Sequence[int]
    ) -> bool:
        """True if applied, False if a newer ballot was already applied; NotReady if unbuilt."""
        picks = ",".join(str(o) for o in option_ids)
        result = await self._vote(
            keys=list(keys(poll_id)), args=[user_id, version, picks, channel(poll_id)]
        )
        if int(result) == -1:
            raise NotReady(poll_id)
        return int(result) == 1

    async def apply_votes(self, votes: Sequence[tuple[int, int, int, Sequence[int]]]) -> list[int]:
        """Many (poll, user, version, picks) in one round trip; per vote 1 applied, 0 older,
        -1 not ready (that poll needs a rebuild)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for poll_id, user_id, version, option_ids in votes:
                picks = ",".join(str(o) for o in option_ids)
                await self._vote(
                    keys=list(keys(poll_id)),
                    args=[user_id, version, picks, channel(poll_id)],
                    client=pipe,
                )
            return [int(r) for r in await pipe.execute()]

    async def read(self, poll_id: int) -> LiveTally:
        out = await self._read(keys=list(keys(poll_id)))
        if int(out[0]) != 1:
            raise NotReady(poll_id)
        pairs = out[2]
        counts: dict[int, int] = {}
        withdrawn = 0
        for i in range(0, len(pairs), 2):
            field = pairs[i].decode() if isinstance(pairs[i], bytes) else str(pairs[i])
            if field == "_empty":
                withdrawn = int(pairs[i + 1])
            else:
                counts[int(field)] = int(pairs[i + 1])
        return LiveTally(counts, int(out[1]) - withdrawn)

    async def rebuild(self, poll_id: int, ballots: Iterable[tuple[int, int, Sequence[int]]]) -> int:
        """Merge a PostgreSQL snapshot (user, version, picks) and recompute; returns voters."""
        ready, ballots_key, tally = keys(poll_id)
        chunk: list[str | int] = []
        for user_id, version, option_ids in ballots:
            chunk += [user_id, version, ",".join(str(o) for o in option_ids)]
            if len(chunk) >= MERGE_CHUNK * 3:
                await self._merge(keys=[ballots_key], args=chunk)
                chunk = []
        if chunk:
            await self._merge(keys=[ballots_key], args=chunk)
        return int(await self._recompute(keys=[ready, ballots_key, tally], args=[channel(poll_id)]))

    async def is_ready(self, poll_id: int) -> bool:
        return bool(await self._vouched(keys=list(keys(poll_id))[:1]))

    async def forget(self, poll_id: int) -> None:
        await self.redis.delete(*keys(poll_id))

    async def expire(self, poll_id: int, seconds: int) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys(poll_id):
                pipe.expire(key, seconds)
            pipe.publish(channel(poll_id), "1")
            await pipe.execute()
