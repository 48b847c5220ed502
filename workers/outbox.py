"""A job that ran deletes the outbox row it came from (domain/jobs.py)."""

from __future__ import annotations

import logging
from typing import Any

from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult

from domain import jobs
from infra.queue import OUTBOX_LABEL
from infra.services import Services

log = logging.getLogger(__name__)


class OutboxMiddleware(TaskiqMiddleware):
    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services

    async def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        outbox_id = message.labels.get(OUTBOX_LABEL)
        if outbox_id is None or result.is_err:
            return  # failed: retried by the queue, and the row stays for the relay meanwhile
        try:
            async with self.services.sessionmaker() as session, session.begin():
                await jobs.done(session, int(outbox_id))
        except Exception as exc:  # noqa: BLE001 - the job ran; a relay runs it once more at worst
            log.warning(
                "job %s ran but its outbox row %s stays: %s", message.task_name, outbox_id, exc
            )
