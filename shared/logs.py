"""Structured JSON logging that carries ``ticket_no`` and ``trace_id``.

Each worker's ``trace_id`` and ``ticket_no`` come from its nameko context data (propagated over
RPC headers and event envelopes); :class:`LogContext` copies them into context variables at
worker setup, and :class:`JsonFormatter` adds them to every record. Under eventlet each worker
is its own greenlet, and greenlets carry their own context, so workers do not see each other's.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from nameko.extensions import DependencyProvider

trace_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)
ticket_no_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("ticket_no", default=None)

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def bind(*, ticket_no: str | None = None, trace_id: str | None = None) -> None:
    """Attach a ticket number (or trace id) to every later log line of this worker."""
    if ticket_no is not None:
        ticket_no_var.set(ticket_no)
    if trace_id is not None:
        trace_id_var.set(trace_id)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str = "") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        trace_id, ticket_no = trace_id_var.get(), ticket_no_var.get()
        if trace_id:
            entry["trace_id"] = trace_id
        if ticket_no:
            entry["ticket_no"] = ticket_no
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class ExpectedErrorFilter(logging.Filter):
    """nameko logs a caller's error (bad input, wrong state) with a traceback at WARNING;
    it is part of normal operation, so keep one INFO line without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("(expected)"):
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def configure(service: str, level: str = "INFO", fmt: str = "json", stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s %(message)s"))
    handler.addFilter(ExpectedErrorFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("amqp", "kombu", "nameko", "urllib3", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


class LogContext(DependencyProvider):
    """Sets the log context of each worker from its context data."""

    def worker_setup(self, worker_ctx: Any) -> None:
        data = worker_ctx.data
        trace_id_var.set(data.get("trace_id") or worker_ctx.call_id)
        ticket_no_var.set(data.get("ticket_no"))

    def get_dependency(self, worker_ctx: Any) -> Any:
        return bind
