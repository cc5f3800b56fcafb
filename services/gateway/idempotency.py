"""Idempotency keys of the inbound API (幂等键): the rules, without a database.

A department system that retries an action after a timeout must not sign, reply or ask for an
extension twice. It sends ``Idempotency-Key: <1..80 characters>``; the gateway keeps, per
principal and key, a fingerprint of the request and the response it got, and answers a repeat
from that record. Semantics as Stripe's and the IETF httpapi ``Idempotency-Key`` draft:

- same key, same request → the stored response, replayed (``Idempotent-Replayed: true``), and
  no second effect;
- same key, another request (method, path, query or body) → 422 naming the header;
- same key while the first request is still running → 409; a record left running longer than
  the lease (a gateway that died mid-request) is taken over;
- successes are kept, and so are failed validations (400, 422): the same request always
  gets the same answer. Answers that depend on the moment are not: 404 (say, an assignment
  supervision has not heard of yet), 409 (a reply waiting for the assistants' opinions), 5xx
  and "unavailable". Nothing happened then, and a retry with the same key may succeed later;
- records expire after a TTL (24 h by default) and are then treated as absent.

Routes opt in with ``@route(..., idempotent=True)`` (:mod:`services.gateway.http`); the
records live in the gateway's ``idempotency_record`` table (:mod:`services.gateway.records`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 80
DEFAULT_TTL_SECONDS = 24 * 3600
# longer than any request may run (RPC timeouts are seconds): a record "in flight" for longer
# belongs to a gateway that died before it could finish it
DEFAULT_LEASE_SECONDS = 120

# what a repeat is answered with (:func:`decide`)
RUN = "run"  # no live record: run the request (and record it)
REPLAY = "replay"  # the stored response
MISMATCH = "mismatch"  # 422: the key was used for another request
IN_FLIGHT = "in_flight"  # 409: the first request has not finished


def check_key(value: str | None) -> str | None:
    """A message when the header's value is unfit; ``None`` when fit or absent."""
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_KEY_LENGTH or not value.isprintable():
        return (f"长度须为1到{MAX_KEY_LENGTH}个可打印字符 must be 1..{MAX_KEY_LENGTH} "
                "printable characters")
    return None


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """SHA-256 of what makes two requests "the same": method, path, query string and body.

    A JSON body is compared by value (key order and whitespace do not matter, so a retry
    serialised by another library still matches); any other body byte for byte.
    """
    try:
        parsed = json.loads(body) if body.strip() else None
        canonical = json.dumps(parsed, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = b"raw:" + body
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))  # length-prefixed: no ambiguity
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True)
class Stored:
    """What the table holds for one principal + key."""

    fingerprint: str
    created_at: datetime
    status: int | None  # None while the first request runs
    response: Any = None  # {"body": …, "headers": {…}} once finished


def live(stored: Stored | None, now: datetime, ttl: timedelta, lease: timedelta) -> bool:
    """Whether a record still counts: not expired, and not abandoned in flight."""
    if stored is None or stored.created_at <= now - ttl:
        return False
    return stored.status is not None or stored.created_at > now - lease


def decide(stored: Stored | None, request_fingerprint: str, now: datetime, ttl: timedelta,
           lease: timedelta) -> str:
    """:data:`RUN`, :data:`REPLAY`, :data:`MISMATCH` or :data:`IN_FLIGHT`."""
    if stored is None or not live(stored, now, ttl, lease):
        return RUN
    if stored.fingerprint != request_fingerprint:
        return MISMATCH
    return IN_FLIGHT if stored.status is None else REPLAY


# the caller's own mistakes: the same request will always get them
KEPT_ERRORS = frozenset({400, 422})


def storable(status: int) -> bool:
    """Answers worth replaying: successes and failed validations. Not the errors that depend
    on the moment (404, 409, 5xx), which had no effect and may not recur."""
    return status < 400 or status in KEPT_ERRORS


def expired_before(now: datetime, ttl: timedelta) -> datetime:
    """Records created before this are gone (the purge deletes them)."""
    return now - ttl
