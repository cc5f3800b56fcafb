"""Unit tests for services.reporting.kpis.kpi_table on hand-built read models (DOMAIN.md §5).

Real: SQLAlchemy on an in-memory SQLite database from reporting's metadata. The period is the
Shanghai day 2026-11-23, i.e. [2026-11-22 16:00Z, 2026-11-23 16:00Z); ``now`` is 16:00 local
that day unless a test says otherwise. All times below are UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from services.reporting.domain import period_bounds
from services.reporting.kpis import kpi_table
from services.reporting.models import AssignmentFact, TicketFact, metadata

START, END = period_bounds(date(2026, 11, 23), date(2026, 11, 23))
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def ticket(no: str, lead: str, registered: datetime, category: str = "complaint",
           closed: datetime | None = None) -> TicketFact:
    return TicketFact(ticket_no=no, registered_at=registered, registered_day=registered.date(),
                      channel="phone", category=category, urgency="normal",
                      territory_code="330106", lead_department=lead,
                      dispatched_at=registered.replace(minute=10), closed_at=closed,
                      status_seq=0)


def assignment(id: int, no: str, dept: str, role: str, *, sign_due: datetime,
               signed: datetime | None = None, handle_due: datetime,
               replied: datetime | None = None) -> AssignmentFact:
    return AssignmentFact(assignment_id=id, ticket_no=no, department_code=dept, role=role,
                          dispatched_at=sign_due, sign_due=sign_due, signed_at=signed,
                          handle_due=handle_due, replied_at=replied)


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with Session(engine) as s:
        s.add_all([
            ticket("T1", "d1", utc(11, 23, 1)),
            ticket("T3", "d1", utc(11, 20, 1)),
            ticket("T4", "d3", utc(11, 10, 1), category="help", closed=utc(11, 23, 5)),
            ticket("T5", "d3", utc(11, 10, 1)),
            ticket("T6", "d2", utc(11, 23, 2)),
            ticket("T7", "d2", utc(11, 23, 3)),
            # A1: lead signed late (in the period)
            assignment(1, "T1", "d1", "lead", sign_due=utc(11, 23, 3, 10),
                       signed=utc(11, 23, 4), handle_due=utc(12, 14)),
            # A2: assistant signed on time
            assignment(2, "T1", "d2", "assist", sign_due=utc(11, 23, 3, 10),
                       signed=utc(11, 23, 2), handle_due=utc(12, 14)),
            # A3: lead overdue and unreplied: deadline in the period, before now
            assignment(3, "T3", "d1", "lead", sign_due=utc(11, 20, 4), signed=utc(11, 20, 3),
                       handle_due=utc(11, 23, 5)),
            # A4: lead replied late (deadline before the period, reply in it)
            assignment(4, "T4", "d3", "lead", sign_due=utc(11, 10, 4), signed=utc(11, 10, 3),
                       handle_due=utc(11, 22, 10), replied=utc(11, 23, 3)),
            # A5: lead replied on time in the period
            assignment(5, "T5", "d3", "lead", sign_due=utc(11, 10, 4), signed=utc(11, 10, 3),
                       handle_due=utc(11, 25, 16), replied=utc(11, 23, 4)),
            # A6: both deadlines in the period but after now: not yet measurable
            assignment(6, "T6", "d2", "lead", sign_due=utc(11, 23, 10),
                       handle_due=utc(11, 23, 12)),
            # A7: sign deadline passed (before now) without a signature
            assignment(7, "T7", "d2", "lead", sign_due=utc(11, 23, 5, 10),
                       handle_due=utc(12, 14)),
            # A8: an assistant overdue: assistants do not count for completion
            assignment(8, "T3", "d4", "assist", sign_due=utc(11, 20, 4),
                       handle_due=utc(11, 23, 5)),
            # A10: signed exactly at the deadline counts as on time
            assignment(10, "T6", "d1", "assist", sign_due=utc(11, 23, 6),
                       signed=utc(11, 23, 6), handle_due=utc(12, 14)),
        ])
        s.commit()
        yield s


def by_group(rows: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return {r["group"]: r for r in rows}


def rate(numerator: int, sample: int) -> dict[str, Any]:
    return {"rate": round(numerator / sample, 4) if sample else None,
            "numerator": numerator, "sample": sample}


class TestGroupByDepartment:
    def test_counts_and_rates_per_department(self, session: Session) -> None:
        rows = by_group(kpi_table(session, START, END, "department", NOW))
        assert set(rows) == {"d1", "d2", "d3"}  # d4 only assists an order from another day
        d1, d2, d3 = rows["d1"], rows["d2"], rows["d3"]
        assert (d1["intake"], d1["dispatched"], d1["closed"]) == (1, 1, 0)
        assert (d2["intake"], d2["dispatched"], d2["closed"]) == (2, 2, 0)
        assert (d3["intake"], d3["dispatched"], d3["closed"]) == (0, 0, 1)
        assert d1["on_time_sign"] == rate(1, 2)  # A1 late, A10 on the dot
        assert d2["on_time_sign"] == rate(1, 2)  # A2 on time, A7 never signed; A6 not due yet
        assert d3["on_time_sign"] == rate(0, 0)
        assert d1["on_time_completion"] == rate(0, 1)  # A3 overdue
        assert d2["on_time_completion"] == rate(0, 0)  # A6 not due yet
        assert d3["on_time_completion"] == rate(1, 2)  # A4 late, A5 on time

    def test_rows_are_sorted_by_group(self, session: Session) -> None:
        rows = kpi_table(session, START, END, "department", NOW)
        assert [r["group"] for r in rows] == ["d1", "d2", "d3"]

    def test_now_at_the_end_of_the_period_makes_a6_measurable(self, session: Session) -> None:
        rows = by_group(kpi_table(session, START, END, "department", END))
        assert rows["d2"]["on_time_sign"] == rate(1, 3)
        assert rows["d2"]["on_time_completion"] == rate(0, 1)
        assert rows["d1"]["on_time_completion"] == rate(0, 1)


class TestGroupByNone:
    def test_one_row_for_everything(self, session: Session) -> None:
        rows = kpi_table(session, START, END, "none", NOW)
        assert len(rows) == 1
        (row,) = rows
        assert row["group"] == "全部"
        assert (row["intake"], row["dispatched"], row["closed"]) == (3, 3, 1)
        assert row["on_time_sign"] == rate(2, 4)
        assert row["on_time_completion"] == rate(1, 3)
        assert row["on_time_completion"]["rate"] == 0.3333


class TestOtherGroupings:
    def test_by_category_uses_the_order_category(self, session: Session) -> None:
        rows = by_group(kpi_table(session, START, END, "category", NOW))
        assert set(rows) == {"complaint", "help"}
        assert rows["help"]["closed"] == 1 and rows["help"]["intake"] == 0
        assert rows["help"]["on_time_completion"] == rate(0, 1)  # A4
        assert rows["complaint"]["on_time_completion"] == rate(1, 2)  # A3, A5

    def test_empty_period(self, session: Session) -> None:
        start, end = period_bounds(date(2025, 1, 1), date(2025, 1, 31))
        assert kpi_table(session, start, end, "department", NOW) == []

    def test_the_previous_day(self, session: Session) -> None:
        start, end = period_bounds(date(2026, 11, 22), date(2026, 11, 22))
        rows = by_group(kpi_table(session, start, end, "none", NOW))
        # only A4's deadline (Nov 22 10:00Z = 18:00 local) falls on Nov 22, replied late
        assert rows["全部"]["on_time_completion"] == rate(0, 1)
        assert rows["全部"]["intake"] == 0
