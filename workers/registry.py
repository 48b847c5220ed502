"""The job registry: name -> coroutine function. Each bounded context registers its jobs here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

JobFunc = Callable[..., Awaitable[Any]]
JOBS: dict[str, JobFunc] = {}
# Coroutines run once when a worker starts (for example reconcilers); they take the Runtime.
STARTUP: list[Callable[[Any], Awaitable[None]]] = []
# name -> interval in seconds, for jobs the worker's scheduler kicks periodically.
PERIODIC: dict[str, int] = {}


def job(name: str, *, every_seconds: int | None = None) -> Callable[[JobFunc], JobFunc]:
    def register(func: JobFunc) -> JobFunc:
        if name in JOBS and JOBS[name] is not func:
            raise RuntimeError(f"job {name!r} registered twice")
        JOBS[name] = func
        if every_seconds is not None:
            PERIODIC[name] = every_seconds
        return func

    return register


def on_worker_start(func: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
    STARTUP.append(func)
    return func


def load_all() -> None:
    """Import every module that registers jobs."""
    import workers.drops  # noqa: F401
    import workers.notifications  # noqa: F401
    import workers.payments  # noqa: F401
    import workers.polls  # noqa: F401
    import workers.production  # noqa: F401
    import workers.system  # noqa: F401
