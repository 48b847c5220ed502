"""What counts as an outage of PostgreSQL or Redis (the client should retry: ``UNAVAILABLE``),
and logging it once per outage rather than once per failed request."""

from __future__ import annotations

import asyncio
import logging
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# SQLSTATE classes of a server that cannot serve now: 08 connection exception, 53 insufficient
# resources (too many connections), 57P operator intervention (shutting down, starting up).
_OUTAGE_SQLSTATES = ("08", "53", "57P")
LOG_EVERY_SECONDS = 30.0


def is_outage(error: BaseException) -> bool:
    """A lost or refused connection to PostgreSQL or Redis, a full pool, a server starting up
    or shutting down."""
    if isinstance(
        error,
        (
            RedisConnectionError,
            RedisTimeoutError,
            PoolTimeout,
            OperationalError,
            InterfaceError,
            ConnectionError,
            TimeoutError,
            asyncio.TimeoutError,
            OSError,
        ),
    ):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        sqlstate = str(getattr(error.orig, "sqlstate", "") or "")
        return sqlstate.startswith(_OUTAGE_SQLSTATES)
    return False


class OutageLog:
    """One warning when an outage of a kind starts, then at most one every LOG_EVERY_SECONDS
    with how many were left out, instead of a line (or a trace) per failed request."""

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def report(self, where: str, error: BaseException) -> None:
        kind = type(error).__name__
        now = time.monotonic()
        last = self._last.get(kind)
        if last is not None and now - last < LOG_EVERY_SECONDS:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            return
        self._last[kind] = now
        left_out = self._suppressed.pop(kind, 0)
        more = f" ({left_out} more since the last report)" if left_out else ""
        self._log.warning("dependency unavailable in %s: %s: %s%s", where, kind, error, more)
