"""Rate limits on Redis with ``limits`` (maintained, used by slowapi and Flask-Limiter): the
moving-window strategy, one Lua script per attempt, keys under ``c2m:rl`` (each key alone, so
Redis Cluster is fine). Rules come from settings (``"30/minute"``; empty: no limit). A Redis
that cannot be reached lets the attempt through (logged): a brake, not a lock."""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

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
                throttle.LOGIN_PER_ADDRESS: settings.login_rate_per_address,
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
