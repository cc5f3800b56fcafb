"""Signed webhooks to department systems (部门自有系统, DOMAIN.md §6): the wire format, the
signature, and its check. Used by dispatch (which delivers), by ``hotline dept-sim`` (the
reference department system, which verifies) and by tests; it is the one place the format is
defined, and a department integrating with the hotline reads this docstring.

Each delivery is one HTTP ``POST`` of one department feed entry (部门消息), JSON in UTF-8::

    {"delivery_id": 9, "seq": 17, "type": "assignment.urged",
     "occurred_at": "2026-11-23T08:15:02.123000+00:00", "department_code": "CG",
     "ticket_no": "20261123000042", "assignment_id": 7, "data": {...}}

``seq`` rises strictly within a department: entries are delivered one at a time in ``seq``
order, and a department system that has seen ``seq`` n may drop anything ≤ n it is sent again
(a retry after a lost answer). ``delivery_id`` identifies the delivery across retries.

Feed entry types (``type``) and what ``data`` holds:

- ``assignment.dispatched`` — a new assignment (派单, 重办 round, or 下派 to this unit): the
  order's category, urgency, title, content, address, territory, masked phone, role, round.
- ``assignment.deadlines_set`` — the sign and handling deadlines of an assignment.
- ``assignment.urged`` — 催办 (clock, kind, channel, note, urge_id).
- ``assignment.supervised`` — 督办单 (supervision_order_id, explanation_due, note).
- ``assignment.extension_decided`` — 延期审批 (approved, old_due, new_due, note).
- ``assignment.return_decided`` — 退单审定 (approved, note).
- ``assignment.reopened`` — 重办 (reason); a new ``assignment.dispatched`` follows.
- ``assignment.recalled`` — 撤回派单: the center withdrew the assignment (reason).

Headers:

- ``X-Hotline-Event``: the entry type; ``X-Hotline-Delivery``: the delivery id;
- ``X-Hotline-Timestamp``: Unix seconds when this attempt was signed;
- ``X-Hotline-Signature``: ``v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``.

The receiver recomputes the HMAC over the raw body bytes with the department's secret, compares
in constant time, and refuses a timestamp further than the replay window (300 s by default)
from its own clock. Any 2xx answer means delivered; anything else, or no answer within the
timeout, is retried with exponential backoff for up to 72 hours.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

EVENT_HEADER = "X-Hotline-Event"
DELIVERY_HEADER = "X-Hotline-Delivery"
TIMESTAMP_HEADER = "X-Hotline-Timestamp"
SIGNATURE_HEADER = "X-Hotline-Signature"
SIGNATURE_VERSION = "v1"
REPLAY_WINDOW_SECONDS = 300

FEED_TYPES = (
    "assignment.dispatched",
    "assignment.deadlines_set",
    "assignment.urged",
    "assignment.supervised",
    "assignment.extension_decided",
    "assignment.return_decided",
    "assignment.reopened",
    "assignment.recalled",
)


class SignatureError(Exception):
    """Why a webhook was refused: ``reason`` is ``missing``, ``malformed``, ``stale`` or
    ``mismatch``."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def encode_body(entry: Mapping[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON, UTF-8, Chinese unescaped."""
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def signed_headers(secret: str, body: bytes, *, event_type: str, delivery_id: int | str,
                   now: float | None = None) -> dict[str, str]:
    """The headers of one attempt; sign anew on every attempt so retries stay in the window."""
    ts = int(time.time() if now is None else now)
    return {"Content-Type": "application/json; charset=utf-8",
            EVENT_HEADER: event_type, DELIVERY_HEADER: str(delivery_id),
            TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: signature(secret, ts, body)}


def verify(secret: str, body: bytes, headers: Mapping[str, str], *,
           now: float | None = None, window: int = REPLAY_WINDOW_SECONDS) -> None:
    """Raise :class:`SignatureError` unless ``headers`` sign ``body`` with ``secret`` within
    ``window`` seconds of ``now``. ``headers`` is any case-insensitive mapping (werkzeug's,
    requests') or a plain dict with the canonical names."""
    sent_sig, sent_ts = headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER)
    if not sent_sig or not sent_ts:
        raise SignatureError("missing", "缺少签名或时间戳 signature or timestamp header missing")
    try:
        ts = int(sent_ts)
    except ValueError:
        raise SignatureError("malformed", "时间戳格式错误 timestamp is not Unix seconds") from None
    current = time.time() if now is None else now
    if abs(current - ts) > window:
        raise SignatureError("stale", f"时间戳超出{window}秒重放窗口 timestamp outside the "
                             f"{window}s replay window")
    if not hmac.compare_digest(signature(secret, ts, body), sent_sig.strip()):
        raise SignatureError("mismatch", "签名不符 signature does not match")
