"""Departments as endpoints (部门对接方式, DOMAIN.md §6): the plain rules of endpoint resolution,
webhook URLs, the retry schedule of deliveries and the department feed's entries.

Plain Python: no nameko, no database session. Tested in ``tests/unit/test_dispatch_endpoints.py``.
The wire format a department system receives is :mod:`shared.webhooks`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from shared.errors import Invalid
from shared.masking import mask_name, mask_phone
from shared.webhooks import FEED_TYPES

ENDPOINT_KINDS = ("terminal", "webhook", "pull", "open311")
DEFAULT_TIMEOUT_SECONDS = 5
MAX_TIMEOUT_SECONDS = 30
ANY_CATEGORY = "*"  # the slot of an endpoint serving every category of its department

FIRST_RETRY_SECONDS = 5.0
MAX_RETRY_SECONDS = 30 * 60.0
DEFAULT_RETRY_HOURS = 72.0
EXCERPT_CHARS = 500

DELIVERY_STATES = ("pending", "delivered", "dead")


@dataclass(frozen=True)
class EndpointChoice:
    """What the resolution needs of an active endpoint row."""

    id: int
    department_code: str
    category: str | None
    kind: str


def slot(category: str | None) -> str:
    """The key of "one active endpoint per (department, category)": the category, or ``*``."""
    return category or ANY_CATEGORY


def resolve_endpoint(active: Iterable[EndpointChoice], department_code: str,
                     category: str | None) -> EndpointChoice | None:
    """The endpoint an entry of an order of ``category`` for ``department_code`` goes to: the
    department's active endpoint for that category, else its active endpoint for every
    category, else none (the department works as a terminal user: console and API)."""
    general = None
    for e in active:
        if e.department_code != department_code:
            continue
        if e.category is not None and e.category == category:
            return e
        if e.category is None and general is None:
            general = e
    return general


def check_webhook_url(url: object) -> str:
    """An absolute ``http``/``https`` URL with a host; :class:`Invalid` naming ``url``."""
    if not isinstance(url, str) or not url.strip():
        raise Invalid.fields({"url": ["webhook 须提供 URL a webhook endpoint needs a url"]})
    url = url.strip()
    if len(url) > 500:
        raise Invalid.fields({"url": ["URL 过长 url longer than 500 characters"]})
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a bad port
    except ValueError:
        raise Invalid.fields({"url": ["URL 格式不正确 url is not a valid URL"]}) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in url:
        raise Invalid.fields({"url": ["URL 须为 http 或 https 地址 url must be an absolute "
                                      "http(s) URL"]})
    if port == 0:
        raise Invalid.fields({"url": ["URL 端口不正确 url has a bad port"]})
    return url


def new_secret() -> str:
    """A per-endpoint signing secret (shown once, at creation and at rotation)."""
    return "whsec_" + secrets.token_urlsafe(32)


def backoff_seconds(attempts: int) -> float:
    """The wait after the ``attempts``-th failed attempt: 5 s doubling, capped at 30 min."""
    if attempts < 1:
        return 0.0
    return min(FIRST_RETRY_SECONDS * 2 ** min(attempts - 1, 30), MAX_RETRY_SECONDS)


def retry_deadline(window_start: datetime, retry_hours: float) -> datetime:
    """When a delivery stops being retried: ``retry_hours`` after its entry was created (or an
    operator replayed it)."""
    return window_start + timedelta(hours=retry_hours)


def after_failure(now: datetime, attempts: int, window_start: datetime,
                  retry_hours: float) -> datetime | None:
    """The next attempt after the ``attempts``-th failure at ``now``, or None: dead-lettered.

    The last retry is made at the window's end itself (not skipped because the backoff would
    overshoot it), and a failure at or after the end is final."""
    deadline = retry_deadline(window_start, retry_hours)
    if now >= deadline:
        return None
    return min(now + timedelta(seconds=backoff_seconds(attempts)), deadline)


def excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str:
    """The first ``limit`` characters of a response body or an error, for the attempt log."""
    if not text:
        return ""
    return text if len(text) <= limit else text[:limit]


def is_success(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


def check_feed_type(entry_type: str) -> str:
    if entry_type not in FEED_TYPES:
        raise ValueError(f"not a feed entry type: {entry_type}")
    return entry_type


def plain(value: Any) -> Any:
    """JSON-ready: datetimes as ISO-8601, recursively."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def dispatched_data(ticket: Mapping[str, Any], *, role: str, round_: int,
                    dispatched_at: datetime, passed_from_id: int | None = None,
                    note: str | None = None) -> dict[str, Any]:
    """The ``assignment.dispatched`` entry's data: what the department needs to act, the
    phone masked, the caller's name masked when the caller asked for privacy (保密)."""
    name = ticket.get("caller_name")
    return plain({
        "category": ticket["category"], "urgency": ticket["urgency"], "title": ticket["title"],
        "content": ticket["content"], "address": ticket.get("address"),
        "territory_code": ticket.get("territory_code"),
        "phone": mask_phone(ticket.get("phone")),
        "caller_name": mask_name(name) if ticket.get("caller_privacy") else name,
        "role": role, "round": round_, "dispatched_at": dispatched_at,
        "passed_from_assignment_id": passed_from_id, "note": note})


def entry_body(*, seq: int, entry_type: str, occurred_at: datetime, department_code: str,
               ticket_no: str | None, assignment_id: int | None, data: Mapping[str, Any],
               delivery_id: int | None = None) -> dict[str, Any]:
    """One feed entry as a department system sees it (shared/webhooks.py); with
    ``delivery_id`` when it is pushed."""
    body: dict[str, Any] = {}
    if delivery_id is not None:
        body["delivery_id"] = delivery_id
    body.update({"seq": seq, "type": entry_type, "occurred_at": occurred_at.isoformat(),
                 "department_code": department_code, "ticket_no": ticket_no,
                 "assignment_id": assignment_id, "data": dict(data)})
    return body


# States in which a department can still record progress (办理进展) on its assignment.
PROGRESS_STATES = frozenset({"dispatched", "signed", "return_requested", "opinion_submitted"})
