"""The port for rate limits: the domain says what is limited and for whom (a rule and a key),
infra says how (``infra/ratelimit.py``: sliding windows in Redis). Over the limit, ``check``
raises ``RateLimited`` with ``retry_after_seconds``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

LOGIN_PER_MEMBER = "login_member"
LOGIN_PER_ADDRESS = "login_address"


class VoteLimiter(Protocol):
    async def admit(self, attempts: Sequence[tuple[int, int]]) -> list[int | None]:
        """Count one vote of each (poll, member); per attempt None (admitted) or the seconds
        until that member may vote in that poll again (refused, not counted)."""
        ...


class Throttle(Protocol):
    async def check(self, rule: str, key: str) -> None:
        """Count one attempt of ``rule`` by ``key``; raise RateLimited when over the limit."""
        ...
