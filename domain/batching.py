"""Group commit: requests that arrive together share one transaction.

A request is queued and awaits its own outcome. One flush at a time takes what has queued (at
most ``max_batch``, at most one request per ``key``) and runs it as a whole: while a flush is in
the database, the next requests gather, so a quiet system answers each request at once (a batch
of one) and a storm pays one transaction, one multi-row statement and one Redis pipeline per
batch instead of per request. Each request gets its own result or its own exception; a flush that
fails as a whole fails each of its requests with that exception.

A request is acknowledged only after its batch committed: group commit changes what a request
costs, not what its success means.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

R = TypeVar("R")
T = TypeVar("T")

Flush = Callable[[Sequence[R]], Awaitable[Sequence[T | BaseException]]]


class GroupCommit(Generic[R, T]):
    def __init__(
        self,
        flush: Flush[R, T],
        *,
        key: Callable[[R], Hashable],
        max_batch: int = 256,
        name: str = "batch",
    ) -> None:
        self._flush = flush
        self._key = key
        self._max = max_batch
        self._name = name
        self._queue: deque[tuple[R, asyncio.Future[T]]] = deque()
        self._runner: asyncio.Task[None] | None = None
        self.batches = 0
        self.requests = 0

    async def submit(self, request: R) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._drain(), name=f"group-commit {self._name}")
        # The flush runs in its own task: a caller that gives up (a client gone) does not cancel
        # the batch the others are waiting for.
        return await future

    def _take(self) -> list[tuple[R, asyncio.Future[T]]]:
        batch: list[tuple[R, asyncio.Future[T]]] = []
        keys: set[Hashable] = set()
        later: list[tuple[R, asyncio.Future[T]]] = []
        while self._queue and len(batch) < self._max:
            request, future = self._queue.popleft()
            if future.done():  # its caller gave up before it ran
                continue
            key = self._key(request)
            if key in keys:
                later.append((request, future))  # the same key twice: the next batch
                continue
            keys.add(key)
            batch.append((request, future))
        self._queue.extendleft(reversed(later))
        return batch

    async def _drain(self) -> None:
        while batch := self._take():
            self.batches += 1
            self.requests += len(batch)
            try:
                results = await self._flush([r for r, _ in batch])
                if len(results) != len(batch):  # pragma: no cover - a flush's own bug
                    raise RuntimeError(f"{self._name}: {len(results)} results for {len(batch)}")
            except Exception as e:  # noqa: BLE001 - every request of the batch gets it
                results = [e] * len(batch)
            except BaseException:  # cancelled (shutdown): nobody may wait forever
                for _, future in batch:
                    future.cancel()
                raise
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def aclose(self) -> None:
        """Let the running flush finish (its requests are in the database already)."""
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await self._runner
