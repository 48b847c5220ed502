"""Jobs queued by domain services, pushed to the queue only after the unit of work commits.

Services call :func:`enqueue`; the unit of work collects the buffer and, after a successful
commit, hands the jobs to the queue. On rollback they are dropped. Job names read
``context.event`` and payloads carry ids only: a job re-reads its rows.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Job:
    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)


_buffer: contextvars.ContextVar[list[Job] | None] = contextvars.ContextVar(
    "c2m_job_buffer", default=None
)


def enqueue(name: str, **kwargs: Any) -> None:
    buf = _buffer.get()
    if buf is None:
        raise RuntimeError("enqueue() called outside a unit of work")
    buf.append(Job(name, kwargs))


def begin() -> contextvars.Token[list[Job] | None]:
    return _buffer.set([])


def end(token: contextvars.Token[list[Job] | None]) -> list[Job]:
    jobs = _buffer.get() or []
    _buffer.reset(token)
    return jobs
