"""The deadline sweep in batches: one call sweeps everything due, a batch per transaction, and
what it writes is what the per-urge path wrote (urge rows, events in order with each order's
next sequence numbers, clocks advanced and marked overdue)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from services.supervision.models import Clock, Urge
from services.supervision.policy import SlaPolicy
from services.supervision.service import SupervisionService
from shared.database import Database
from shared.events import load_envelope, make_envelope
from shared.migrations import metadata_of
from tests.service.conftest import Worker, outbox

SH = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 9, 28, 10, 0, tzinfo=SH)  # Monday before National Day 2026


def dispatched(worker: Any, no: str, assignment_id: int) -> None:
    def event(event_type: str, **data: Any) -> Any:
        return load_envelope(make_envelope(event_type, data, producer="x", ticket_no=no,
                                           sequence=1))

    worker.on_lifecycle_fact(event("ticket.registered", ticket_no=no, registered_at=AT,
                                   channel="phone", category="complaint", urgency="normal",
                                   title="t", content="c", confidential=False))
    worker.on_lifecycle_fact(event("ticket.dispatched", ticket_no=no, dispatched_at=AT,
                                   actor="system", round=1, category="complaint",
                                   urgency="normal", assignments=[{
                                       "assignment_id": assignment_id,
                                       "department_code": "chengguan", "role": "lead"}]))


@pytest.fixture
def supervision_db(database_urls: dict[str, str], migrate: Any) -> Any:
    """A migrated supervision database on each backend (the sweep's statements differ)."""
    url = database_urls["supervision"]
    migrate("supervision")
    db = Database.standalone(metadata_of("supervision"), url, "supervision")
    yield db
    db.engine.dispose()


def test_one_call_sweeps_every_due_clock_in_batches(supervision_db: Any) -> None:
    from services.supervision.dependencies import build_calendar

    db = supervision_db
    config = {"WORKING_HOURS": [["08:30", "12:00"], ["13:30", "17:30"]],
              "TIMEZONE": "Asia/Shanghai"}
    worker = Worker(SupervisionService, db, consumer="supervision.on_lifecycle_fact",
                    calendar=lambda session: build_calendar(config, session), policy=SlaPolicy())
    numbers = [f"2026092800000{i}" for i in range(1, 6)]
    for i, no in enumerate(numbers, start=1):
        dispatched(worker, no, assignment_id=i)
    before = {e["event_id"] for e in outbox(db)}

    # past every threshold: 5 clocks × 4 thresholds, in batches of 2 clocks
    result = worker.sweep((AT + timedelta(days=60)).isoformat(), 2)
    assert result == {"clocks": 5, "urges": 20}
    assert worker.sweep((AT + timedelta(days=60)).isoformat(), 2) == {"clocks": 0, "urges": 0}

    with db.engine.connect() as conn:
        urges = conn.execute(select(Urge.id, Urge.ticket_no, Urge.auto_key)).all()
        clocks = conn.execute(select(Clock.next_check_at, Clock.overdue)).all()
    assert len({u.auto_key for u in urges}) == 20
    assert all(c.next_check_at is None and c.overdue for c in clocks)

    new = [e for e in outbox(db) if e["event_id"] not in before]
    # the sweep's other duty (督办单 at each handling breach) follows the thresholds' urges
    assert sorted({e["type"] for e in new}) == ["ticket.overdue", "ticket.supervised",
                                                "ticket.urged"]
    assert sorted(e["ticket_no"] for e in new if e["type"] == "ticket.supervised") == numbers
    assert {e["data"]["urge_id"] for e in new if e["type"] == "ticket.urged"} == \
        {u.id for u in urges}
    by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in outbox(db):
        by_order[e["ticket_no"]].append(e)
    for no in numbers:
        events = by_order[no]
        # each order's events carry its next sequence numbers, in outbox order, no gap
        assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
        swept = [(e["type"], e["data"]["clock"], e["data"].get("kind"))
                 for e in events if e["event_id"] not in before
                 and e["type"] in ("ticket.urged", "ticket.overdue")]
        assert swept == [("ticket.urged", "sign", "warning"), ("ticket.urged", "sign", "breach"),
                         ("ticket.overdue", "sign", None), ("ticket.urged", "handle", "warning"),
                         ("ticket.urged", "handle", "breach"), ("ticket.overdue", "handle", None)]
