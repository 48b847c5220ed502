"""Rate limits on Redis with ``limits`` (maintained, used by slowapi and Flask-Limiter): the
moving-window strategy, one Lua script per attempt, keys under ``c2m:rl`` (each key alone, so
Redis Cluster is fine). Rules come from settings (``"30/minute"``; empty: no limit). A Redis
that cannot be reached lets the attempt through (logged): a brake, not a lock."""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Sequence

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis

from domain import throttle
from domain.errors import RateLimited
from infra.config import Settings
from infra.outages import is_outage

log = logging.getLogger(__name__)


class RedisThrottle:
    def __init__(self, redis_url: str, rules: dict[str, str]) -> None:
        self._storage = RedisStorage(redis_url, implementation="redispy", key_prefix="c2m:rl")
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._rules: dict[str, RateLimitItem] = {
            name: parse(rule) for name, rule in rules.items() if rule
        }

    @classmethod
    def from_settings(cls, settings: Settings, redis_url: str) -> RedisThrottle:
        return cls(
            redis_url,
            {
                throttle.LOGIN_PER_MEMBER: settings.login_rate_per_member,
                throttle.LOGIN_PER_ADDRESS: settings.login_rate_per_address_rule(),
            },
        )

    async def check(self, rule: str, key: str) -> None:
        item = self._rules.get(rule)
        if item is None:
            return
        try:
            if await self._limiter.hit(item, rule, key):
                return
            reset, _ = await self._limiter.get_window_stats(item, rule, key)
        except Exception as e:  # noqa: BLE001 - a brake, not a lock: let the attempt through
            if not is_outage(e):
                log.exception("rate limit %s: check failed; let through", rule)
            return
        wait = max(1, math.ceil(reset - time.time()))
        raise RateLimited(f"Too many attempts; try again in {wait} s.", retry_after_seconds=wait)


# A sliding window per (poll, member) for many members at once: one script per poll and batch
# (the keys share the poll's hash tag), in the vote batch's own Redis round trip. ``limits``
# checks one key per call; a third of the vote path went to that (docs/benchmarks.md), so the
# batch form is ours. KEYS: the members' windows; ARGV: window ms, limit, then one unique id per
# attempt. Returns per attempt 0 (admitted) or the ms until the window frees a slot.
ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, 0, now - window)
  if redis.call('ZCARD', key) < limit then
    redis.call('ZADD', key, now, ARGV[2 + i])
    redis.call('PEXPIRE', key, window)
    out[i] = 0
  else
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    out[i] = math.max(1, tonumber(oldest[2]) + window - now)
  end
end
return out
"""


class RedisVoteLimiter:
    def __init__(self, redis: Redis, rule: str) -> None:
        item = parse(rule) if rule else None
        self._limit = item.amount if item else 0
        self._window_ms = item.get_expiry() * 1000 if item else 0
        self._redis = redis
        self._admit = redis.register_script(ADMIT)
        self._seq = 0

    async def admit(self, attempts: Sequence[tuple[int, int]]) -> list[int | None]:
        if not self._limit:
            return [None] * len(attempts)
        by_poll: dict[int, list[int]] = defaultdict(list)
        for i, (poll_id, _) in enumerate(attempts):
            by_poll[poll_id].append(i)
        out: list[int | None] = [None] * len(attempts)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for poll_id, idx in by_poll.items():
                    keys = [f"c2m:{{poll:{poll_id}}}:votes:{attempts[i][1]}" for i in idx]
                    ids = [self._next_id() for _ in idx]
                    await self._admit(
                        keys=keys, args=[self._window_ms, self._limit, *ids], client=pipe
                    )
                answers = await pipe.execute()
        except Exception as e:  # noqa: BLE001 - a brake, not a lock: let the votes through
            if not is_outage(e):
                log.exception("vote rate limit: check failed; let through")
            return out
        for idx, waits in zip(by_poll.values(), answers, strict=True):
            for i, wait in zip(idx, waits, strict=True):
                if int(wait) > 0:
                    out[i] = max(1, math.ceil(int(wait) / 1000))
        return out

    def _next_id(self) -> str:
        self._seq += 1
        return f"{time.time_ns()}-{self._seq}"
