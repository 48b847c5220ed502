"""The port for rate limits: the domain says what is limited and for whom (a rule and a key),
infra says how (``infra/ratelimit.py``: sliding windows in Redis). Over the limit, ``check``
raises ``RateLimited`` with ``retry_after_seconds``."""

from __future__ import annotations

from typing import Protocol

LOGIN_PER_MEMBER = "login_member"
LOGIN_PER_ADDRESS = "login_address"


class Throttle(Protocol):
    async def check(self, rule: str, key: str) -> None:
        """Count one attempt of ``rule`` by ``key``; raise RateLimited when over the limit."""
        ...
