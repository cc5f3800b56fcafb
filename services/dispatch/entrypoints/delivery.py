"""The department feed (部门消息流): pulled by the department, or pushed to its webhook —
deliveries run on demand, listed, inspected, replayed from the dead letters, and counted for
``hotline reconcile``. The delivery loop itself is :mod:`..deliverer`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from services.dispatch import feed
from services.dispatch.entrypoints.base import DispatchBase
from services.dispatch.models import Delivery, DeliveryAttempt, Department, FeedEntry
from services.dispatch.schemas import (
    AttemptRecordSchema,
    DeliveryQuerySchema,
    DeliveryRecordSchema,
    FeedQuerySchema,
)
from shared.database import translate_db_errors
from shared.errors import Conflict, Invalid, NotFound, load_or_invalid
from shared.events import utcnow
from shared.rpc import rpc

_delivery_record = DeliveryRecordSchema()
_attempt_record = AttemptRecordSchema()


class DeliveryEntrypoints(DispatchBase):
    @rpc
    @translate_db_errors
    def feed(self, department_code: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """A department's feed entries after ``cursor`` (a seq), oldest first; ``next_cursor``
        is the last item's seq (None when there are none: keep the cursor you have)."""
        q = load_or_invalid(FeedQuerySchema(), query or {})
        session = self.db.session
        if session.get(Department, department_code) is None:
            raise NotFound(f"部门不存在 department {department_code} not found",
                           {"department_code": department_code})
        stmt = (select(FeedEntry).where(FeedEntry.department_code == department_code)
                .order_by(FeedEntry.seq).limit(q["limit"]))
        if q["cursor"] is not None:
            stmt = stmt.where(FeedEntry.seq > q["cursor"])
        items = [feed.body_of(e) for e in session.scalars(stmt)]
        return {"items": items, "next_cursor": items[-1]["seq"] if items else None}

    @rpc
    @translate_db_errors
    def deliver_due(self, now: str | None = None) -> dict[str, int]:
        """Run delivery passes synchronously as of ``now`` (ISO-8601 with a time zone; default
        the current time): every department's due entries, in seq order, until none is due.
        The clock is injectable for operators and tests, like supervision's ``sweep``."""
        self.db.rollback()  # no transaction of this worker stays open across the HTTP calls
        at = None if now is None else _parse_instant(now)
        return self.deliverer.deliver_due(at)

    @rpc
    @translate_db_errors
    def list_deliveries(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        q = load_or_invalid(DeliveryQuerySchema(), query or {})
        stmt = (select(Delivery, FeedEntry.type, FeedEntry.ticket_no, FeedEntry.assignment_id)
                .join(FeedEntry, FeedEntry.id == Delivery.feed_entry_id)
                .order_by(Delivery.id).limit(q["limit"] + 1))
        if q["department_code"]:
            stmt = stmt.where(Delivery.department_code == q["department_code"])
        if q["state"]:
            stmt = stmt.where(Delivery.state == q["state"])
        if q["ticket_no"]:
            stmt = stmt.where(FeedEntry.ticket_no == q["ticket_no"])
        if q["cursor"]:
            stmt = stmt.where(Delivery.id > q["cursor"])
        rows = list(self.db.session.execute(stmt))
        more = len(rows) > q["limit"]
        rows = rows[: q["limit"]]
        # what each delivery carries (the entry's type, order and assignment), so an operator
        # can answer "was this order pushed?" from the list
        return {"items": [{**_delivery_record.dump(d), "feed_type": kind, "ticket_no": no,
                           "assignment_id": aid} for d, kind, no, aid in rows],
                "next_cursor": rows[-1][0].id if more else None}

    @rpc
    @translate_db_errors
    def get_delivery(self, delivery_id: int) -> dict[str, Any]:
        """One delivery with every attempt, and the entry it carries."""
        session = self.db.session
        d = session.get(Delivery, delivery_id)
        if d is None:
            raise NotFound(f"推送记录不存在 delivery {delivery_id} not found",
                           {"delivery_id": delivery_id})
        attempts = session.scalars(select(DeliveryAttempt).where(
            DeliveryAttempt.delivery_id == d.id).order_by(DeliveryAttempt.id))
        entry = session.get(FeedEntry, d.feed_entry_id)
        return {**_delivery_record.dump(d), "entry": feed.body_of(entry, d.id),
                "attempt_log": [_attempt_record.dump(a) for a in attempts]}

    @rpc
    @translate_db_errors
    def replay_delivery(self, delivery_id: int, actor: str) -> dict[str, Any]:
        """重放: a dead-lettered delivery goes back in line (at its seq: the department's later
        entries wait behind it again) with a fresh retry window."""
        session = self.db.session
        d = session.get(Delivery, delivery_id)
        if d is None:
            raise NotFound(f"推送记录不存在 delivery {delivery_id} not found",
                           {"delivery_id": delivery_id})
        if d.state != "dead":
            raise Conflict(f"只有死信可以重放 only a dead-lettered delivery is replayed ({d.state})",
                           {"action": "replay", "state": d.state})
        now = utcnow()
        d.state, d.dead_at, d.next_attempt_at, d.window_start = "pending", None, now, now
        d.replays += 1
        d.replayed_at, d.replayed_by = now, actor
        self.db.emit("delivery.replayed", {"delivery_id": d.id,
                                           "department_code": d.department_code, "at": now,
                                           "actor": actor},
                     ticket_no=session.get(FeedEntry, d.feed_entry_id).ticket_no)
        self.db.commit()
        self.deliverer.wake()
        return _delivery_record.dump(d)

    @rpc
    @translate_db_errors
    def delivery_problems(self, older_than_seconds: int = 3600) -> dict[str, Any]:
        """For ``hotline reconcile``: deliveries dead-lettered, and pending for longer than
        ``older_than_seconds`` (by their entry's creation), with a few ids of each."""
        session = self.db.session
        cutoff = utcnow() - timedelta(seconds=older_than_seconds)
        dead = list(session.scalars(select(Delivery.id).where(Delivery.state == "dead")
                                    .order_by(Delivery.id).limit(1000)))
        stale = list(session.scalars(select(Delivery.id).where(
            Delivery.state == "pending", Delivery.created_at < cutoff)
            .order_by(Delivery.id).limit(1000)))
        return {"dead": len(dead), "dead_ids": dead[:20], "stale_pending": len(stale),
                "stale_pending_ids": stale[:20]}


def _parse_instant(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise Invalid.fields({"now": ["须为 ISO-8601 时间 must be an ISO-8601 instant"]}) from None
    if at.tzinfo is None:
        raise Invalid.fields({"now": ["须带时区 must include a time zone"]})
    return at
