"""What a worker reports: jobs by task and outcome, how long they waited and ran, the queue's
depth; and the job's id on every log line it writes (as a request's id is on an API line).

Written as a taskiq middleware of our own rather than taskiq's PrometheusMiddleware: that one
points PROMETHEUS_MULTIPROC_DIR at one shared temporary directory for every worker on a
machine (mixing their samples across restarts), serves on a fixed port and does not measure the
wait in the queue."""

from __future__ import annotations

import time
from contextvars import Token
from typing import Any

from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult

from infra.logging import request_id_var
from infra.metrics import JOB_DURATION, JOB_WAIT, JOBS
from infra.queue import ENQUEUED_AT


class JobMetrics(TaskiqMiddleware):
    def __init__(self) -> None:
        super().__init__()
        self._tokens: dict[str, Token[str]] = {}

    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        self._tokens[message.task_id] = request_id_var.set(f"job-{message.task_id}")
        enqueued = message.labels.get(ENQUEUED_AT)
        try:
            waited = time.time() - float(enqueued) if enqueued is not None else None
        except (TypeError, ValueError):
            waited = None
        if waited is not None and waited >= 0:
            JOB_WAIT.labels(message.task_name).observe(waited)
        return message

    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        JOBS.labels(message.task_name, "error" if result.is_err else "ok").inc()
        JOB_DURATION.labels(message.task_name).observe(result.execution_time)
        token = self._tokens.pop(message.task_id, None)
        if token is not None:
            try:
                request_id_var.reset(token)
            except ValueError:  # set in another context: nothing to undo here
                pass
