"""The department feed (部门消息流): appending entries in the caller's transaction, and the
webhook delivery each entry gets when its department's endpoint is a webhook.

Used by dispatch's entrypoints (in the same transaction as their own change, so an entry exists
exactly when its fact does); the rules it applies are in :mod:`services.dispatch.endpoints`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from services.dispatch import endpoints as rules
from services.dispatch.models import Delivery, Endpoint, FeedEntry

# One upsert per department: creates its head row on its first entry, and otherwise takes the
# next ``n`` numbers. On PostgreSQL the row stays locked until commit, so a department's
# entries commit in ``seq`` order (a pull reader never skips one that commits late); writers
# lock departments in code order (see :func:`append`) so two of them cannot deadlock here.
_TAKE_SEQ = text(
    "INSERT INTO feed_head (department_code, last_seq) VALUES (:d, :n) "
    "ON CONFLICT (department_code) DO UPDATE SET last_seq = feed_head.last_seq + excluded.last_seq "
    "RETURNING last_seq")


@dataclass
class NewEntry:
    department_code: str
    type: str
    ticket_no: str | None
    assignment_id: int | None
    data: dict[str, Any]
    category: str | None  # the order's category: which endpoint of the department serves it


def active_endpoints(session: Session, departments: set[str]) -> list[rules.EndpointChoice]:
    rows = session.scalars(select(Endpoint).where(Endpoint.active.is_(True),
                                                  Endpoint.department_code.in_(departments)))
    return [rules.EndpointChoice(e.id, e.department_code, e.category, e.kind) for e in rows]


def append(session: Session, entries: list[NewEntry], now: datetime) -> int:
    """Append ``entries`` (in the order given within each department) and create a pending
    delivery for each whose resolved endpoint is a webhook; returns how many deliveries."""
    if not entries:
        return 0
    for e in entries:
        rules.check_feed_type(e.type)
    departments = sorted({e.department_code for e in entries})
    first: dict[str, int] = {}
    for code in departments:  # code order: the same lock order in every transaction
        n = sum(1 for e in entries if e.department_code == code)
        last = int(session.execute(_TAKE_SEQ, {"d": code, "n": n}).scalar_one())
        first[code] = last - n + 1
    made: list[tuple[FeedEntry, NewEntry]] = []
    for e in entries:
        seq = first[e.department_code]
        first[e.department_code] += 1
        row = FeedEntry(department_code=e.department_code, seq=seq, type=e.type,
                        occurred_at=now, ticket_no=e.ticket_no, assignment_id=e.assignment_id,
                        data=rules.plain(e.data))
        made.append((row, e))
    session.add_all([r for r, _ in made])
    session.flush()
    choices = active_endpoints(session, set(departments))
    deliveries = []
    for row, e in made:
        target = rules.resolve_endpoint(choices, e.department_code, e.category)
        if target is None or target.kind != "webhook":
            continue
        deliveries.append(Delivery(
            feed_entry_id=row.id, department_code=row.department_code, seq=row.seq,
            category=e.category, endpoint_id=target.id, state="pending", created_at=now,
            window_start=now, next_attempt_at=now, attempts=0, replays=0))
    session.add_all(deliveries)
    return len(deliveries)


def body_of(entry: FeedEntry, delivery_id: int | None = None) -> dict[str, Any]:
    return rules.entry_body(seq=entry.seq, entry_type=entry.type, occurred_at=entry.occurred_at,
                            department_code=entry.department_code, ticket_no=entry.ticket_no,
                            assignment_id=entry.assignment_id, data=entry.data,
                            delivery_id=delivery_id)
