"""Reporting's consumer and queries with a real database and no broker."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.reporting.service import ReportingService
from shared.business_time import business_day
from shared.errors import Invalid
from shared.events import load_envelope, make_envelope


def ev(event_type: str, no: str, seq: int, **data: Any) -> Any:
    return load_envelope(make_envelope(event_type, data, producer="x", ticket_no=no, sequence=seq))


@pytest.fixture
def reporting(store: Any) -> Any:
    from tests.service.conftest import Worker
    db = store("reporting")
    return Worker(ReportingService, db, consumer="reporting.on_any_event"), db


def test_each_event_counts_once_and_rebuild_gives_the_same_figures(reporting: Any) -> None:
    worker, db = reporting
    now = datetime.now(UTC)
    today = business_day(now).isoformat()
    for i in range(3):
        no = f"2026112300090{i}"
        registered = ev("ticket.registered", no, 1, ticket_no=no, registered_at=now,
                        channel="phone", category="help", urgency="normal", title="t",
                        content="c", confidential=False)
        worker.on_any_event(registered)
        worker.on_any_event(registered)  # redelivered: no second effect
        worker.on_any_event(ev("ticket.dispatched", no, 1, ticket_no=no, dispatched_at=now,
                               actor="s", round=1, category="help", urgency="normal",
                               assignments=[{"assignment_id": i, "department_code": "d1",
                                             "role": "lead"}]))
    before = worker.kpis({"from": today, "to": today, "group_by": "department"})
    [row] = before["rows"]
    assert (row["group"], row["intake"], row["dispatched"], row["closed"]) == ("d1", 3, 3, 0)
    assert row["on_time_sign"] == {"rate": None, "numerator": 0, "sample": 0}
    assert row["on_time_completion"] == {"rate": None, "numerator": 0, "sample": 0}
    assert worker.event_counts() == {"ticket.registered": 3, "ticket.dispatched": 3}
    assert worker.rebuild()["events_replayed"] == 6
    after = worker.kpis({"from": today, "to": today, "group_by": "department"})
    assert {**after, "as_of": None} == {**before, "as_of": None}


def test_kpi_query_errors_name_the_field(reporting: Any) -> None:
    worker, _ = reporting
    with pytest.raises(Invalid) as err:
        worker.kpis({"from": "2026-01-01", "to": "2030-01-01"})
    assert "to" in err.value.details["fields"]
    with pytest.raises(Invalid) as err:
        worker.kpis({"to": "2026-01-01"})
    assert "from" in err.value.details["fields"]
