"""The job registry: each job module registers its functions here by name (``context.event``).

A job is ``async def name(<ids>, services: Services = SERVICES) -> ...``: payloads carry ids only,
and the worker supplies the services (taskiq's dependency injection). Tests call the same
functions with the services passed in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from taskiq import TaskiqDepends

from infra.services import Services

JobFunc = Callable[..., Awaitable[Any]]
F = TypeVar("F", bound=JobFunc)
JOBS: dict[str, JobFunc] = {}
# name -> interval in seconds, for jobs the worker's scheduler kicks periodically.
PERIODIC: dict[str, int] = {}
# Coroutines run once when a worker starts (for example reconcilers).
STARTUP: list[Callable[[Services], Awaitable[Any]]] = []

# The default of every job's ``services`` parameter: filled in by the worker.
SERVICES: Any = TaskiqDepends()


def job(name: str, *, every_seconds: int | None = None) -> Callable[[F], F]:
    def register(func: F) -> F:
        if name in JOBS and JOBS[name] is not func:
            raise RuntimeError(f"job {name!r} registered twice")
        JOBS[name] = func
        if every_seconds is not None:
            PERIODIC[name] = every_seconds
        return func

    return register


def on_worker_start(
    func: Callable[[Services], Awaitable[Any]],
) -> Callable[[Services], Awaitable[Any]]:
    STARTUP.append(func)
    return func
