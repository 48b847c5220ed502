"""Work that must happen only after the unit of work commits.

* :func:`enqueue` queues a background job (pushed to the queue after the commit).
* :func:`after_commit` registers a coroutine to run in-process right after the commit (for
  example moving a live Redis tally); on rollback both are dropped.

Job names read ``context.event`` and payloads carry ids only: a job re-reads its rows.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Job:
    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Pending:
    jobs: list[Job] = field(default_factory=list)
    hooks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


_buffer: contextvars.ContextVar[Pending | None] = contextvars.ContextVar(
    "c2m_pending_work", default=None
)


def _current() -> Pending:
    buf = _buffer.get()
    if buf is None:
        raise RuntimeError("called outside a unit of work")
    return buf


def enqueue(name: str, **kwargs: Any) -> None:
    _current().jobs.append(Job(name, kwargs))


def after_commit(hook: Callable[[], Awaitable[None]]) -> None:
    _current().hooks.append(hook)


def begin() -> contextvars.Token[Pending | None]:
    return _buffer.set(Pending())


def end(token: contextvars.Token[Pending | None]) -> Pending:
    pending = _buffer.get() or Pending()
    _buffer.reset(token)
    return pending
