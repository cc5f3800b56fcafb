"""Structured logs carry the worker's trace id and ticket number."""

from __future__ import annotations

import contextvars
import io
import json
import logging

import pytest

from shared import logs

NOISY = ("amqp", "kombu", "nameko", "urllib3", "sqlalchemy.engine")


@pytest.fixture(autouse=True)
def restore_logging() -> object:
    """configure() rewires the root logger; put it back for the tests that follow."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in NOISY}
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def test_json_lines_carry_trace_id_ticket_no_and_extras() -> None:
    stream = io.StringIO()

    def run() -> None:
        logs.configure("intake", "INFO", "json", stream=stream)
        logs.bind(trace_id="t-123", ticket_no="20261123000042")
        logging.getLogger("x").warning("已登记 registered", extra={"channel": "phone"})

    contextvars.copy_context().run(run)
    entry = json.loads(stream.getvalue().splitlines()[-1])
    assert entry["service"] == "intake" and entry["level"] == "WARNING"
    assert entry["trace_id"] == "t-123" and entry["ticket_no"] == "20261123000042"
    assert entry["msg"] == "已登记 registered" and entry["channel"] == "phone"


def test_expected_errors_lose_their_traceback() -> None:
    stream = io.StringIO()
    logs.configure("dispatch", "INFO", "json", stream=stream)
    try:
        raise ValueError("bad input")
    except ValueError:
        logging.getLogger("nameko.containers").warning("(expected) error handling worker %s",
                                                       "w", exc_info=True)
    entry = json.loads(stream.getvalue().splitlines()[-1])
    assert entry["level"] == "INFO" and "exc" not in entry
