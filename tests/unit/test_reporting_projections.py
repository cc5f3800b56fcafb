"""Unit tests for services.reporting.projections: read models built only from events.

Real here: the catalogue schemas (events go through make_envelope / load_envelope as on the bus)
and SQLAlchemy on an in-memory SQLite database built from reporting's metadata. No broker.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from services.reporting import projections
from services.reporting.models import AssignmentFact, CallbackFact, TicketFact, metadata
from shared.events import Event, load_envelope, make_envelope

TICKET = "20261123000042"
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 Shanghai


def event(event_type: str, data: dict[str, Any], *, producer: str = "test",
          sequence: int | None = None, ticket_no: str | None = TICKET) -> Event:
    return load_envelope(make_envelope(event_type, data, producer=producer, ticket_no=ticket_no,
                                       sequence=sequence, occurred_at=T0))


def session_factory() -> Session:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    return Session(engine)


@pytest.fixture
def session() -> Iterator[Session]:
    s = session_factory()
    yield s
    s.close()


def registered(ticket_no: str = TICKET, at: datetime = T0) -> Event:
    return event("ticket.registered", {
        "ticket_no": ticket_no, "registered_at": at, "channel": "phone",
        "category": "complaint", "urgency": "normal", "title": "噪音", "content": "夜间施工噪音",
        "caller_name": "张先生", "phone": "13812345678", "address": None,
        "territory_code": "330106", "confidential": False, "agent": "agent1", "call_id": None,
        "recording_ref": None}, producer="intake", ticket_no=ticket_no)


def dispatched(lead: str = "CG", assist: str = "GA", at: datetime = T0 + timedelta(minutes=10),
               round: int = 1, ids: tuple[int, int] = (1, 2)) -> Event:
    return event("ticket.dispatched", {
        "ticket_no": TICKET, "dispatched_at": at, "actor": "dispatcher1", "round": round,
        "category": "complaint", "urgency": "normal", "rule_id": 7,
        "assignments": [{"assignment_id": ids[0], "department_code": lead, "role": "lead"},
                        {"assignment_id": ids[1], "department_code": assist, "role": "assist"}]},
        producer="dispatch")


def clocks_started(assignment_id: int, department: str, role: str) -> Event:
    start = T0 + timedelta(minutes=10)
    return event("assignment.clocks_started", {
        "assignment_id": assignment_id, "ticket_no": TICKET, "department_code": department,
        "role": role, "started_at": start, "sign_due": start + timedelta(hours=2),
        "handle_due": start + timedelta(days=21), "policy": "sign:normal=2wh;handle:complaint=15wd"},
        producer="supervision")


def signed(assignment_id: int, department: str, role: str, at: datetime) -> Event:
    return event("assignment.signed", {
        "assignment_id": assignment_id, "ticket_no": TICKET, "department_code": department,
        "role": role, "signed_at": at, "actor": f"{department}-user"}, producer="dispatch")


def replied(at: datetime) -> Event:
    return event("assignment.replied", {
        "assignment_id": 1, "ticket_no": TICKET, "department_code": "CG", "replied_at": at,
        "actor": "CG-user", "reply": "已责令停工"}, producer="dispatch")


def closed(at: datetime) -> Event:
    return event("ticket.closed", {"ticket_no": TICKET, "closed_at": at, "actor": "sup1",
                                   "reason": "callback_satisfied"}, producer="supervision")


def status_changed(to_status: str, sequence: int, from_status: str | None = None) -> Event:
    return event("ticket.status_changed", {
        "ticket_no": TICKET, "from_status": from_status, "to_status": to_status,
        "at": T0, "actor": "system", "reason": None}, producer="supervision", sequence=sequence)


def callback(reached: bool = True) -> Event:
    return event("ticket.callback_recorded", {
        "ticket_no": TICKET, "at": T0 + timedelta(days=3), "actor": "sup1", "reached": reached,
        "solved": True, "satisfaction": "satisfied", "note": None}, producer="supervision")


LIFECYCLE: list[Event] = [
    registered(),
    dispatched(),
    clocks_started(1, "CG", "lead"),
    clocks_started(2, "GA", "assist"),
    signed(1, "CG", "lead", T0 + timedelta(hours=1)),
    signed(2, "GA", "assist", T0 + timedelta(hours=3)),
    replied(T0 + timedelta(days=2)),
    closed(T0 + timedelta(days=3)),
    status_changed("registered", 1),
    status_changed("dispatched", 2, "registered"),
    status_changed("in_progress", 3, "dispatched"),
    status_changed("replied", 4, "in_progress"),
    status_changed("closed", 5, "replied"),
]


def snapshot(session: Session) -> dict[str, Any]:
    session.flush()
    columns = lambda model: [c.key for c in model.__table__.columns]  # noqa: E731
    return {
        model.__name__: sorted(
            tuple(getattr(row, c) for c in columns(model))
            for row in session.scalars(select(model)))
        for model in (TicketFact, AssignmentFact, CallbackFact)}


def project(events: list[Event]) -> dict[str, Any]:
    with session_factory() as s:
        assert projections.project_all(s, events) == len(events)
        s.commit()
        return snapshot(s)


@pytest.fixture(scope="module")
def in_order() -> dict[str, Any]:
    """The read models after the lifecycle's events in the order they happened."""
    return project(LIFECYCLE)


class TestProjectedRows:
    def test_full_lifecycle_in_order(self, session: Session) -> None:
        projections.project_all(session, LIFECYCLE)
        session.commit()
        t = session.get(TicketFact, TICKET)
        assert t is not None
        assert t.registered_at == T0 and t.registered_day == date(2026, 11, 23)
        assert (t.channel, t.category, t.urgency, t.territory_code) == (
            "phone", "complaint", "normal", "330106")
        assert t.lead_department == "CG"
        assert t.dispatched_at == T0 + timedelta(minutes=10)
        assert t.replied_at == T0 + timedelta(days=2)
        assert (t.closed_at, t.close_reason) == (T0 + timedelta(days=3), "callback_satisfied")
        assert (t.status, t.status_seq) == ("closed", 5)
        lead, assist = session.get(AssignmentFact, 1), session.get(AssignmentFact, 2)
        assert (lead.department_code, lead.role) == ("CG", "lead")
        assert (assist.department_code, assist.role) == ("GA", "assist")
        assert lead.sign_due == T0 + timedelta(hours=2, minutes=10)
        assert lead.signed_at == T0 + timedelta(hours=1)
        assert lead.replied_at == T0 + timedelta(days=2)
        assert assist.replied_at is None
        assert lead.signed_at.tzinfo is not None  # UtcDateTime gives aware values back

    def test_registered_day_is_the_shanghai_day(self, session: Session) -> None:
        projections.apply(session, registered(at=datetime(2026, 11, 23, 16, 30, tzinfo=UTC)))
        session.flush()
        assert session.get(TicketFact, TICKET).registered_day == date(2026, 11, 24)

    def test_unprojected_event_is_ignored(self, session: Session) -> None:
        e = event("ticket.pending_dispatch", {"ticket_no": TICKET, "at": T0, "reason": "无匹配"})
        assert projections.apply(session, e) is False
        assert snapshot(session) == {"TicketFact": [], "AssignmentFact": [], "CallbackFact": []}

    def test_project_all_counts_only_projected_events(self, session: Session) -> None:
        pending = event("ticket.pending_dispatch", {"ticket_no": TICKET, "at": T0, "reason": "x"})
        assert projections.project_all(session, [registered(), pending, dispatched()]) == 2

    def test_redelivered_callback_is_recorded_once(self, session: Session) -> None:
        e = callback()
        projections.apply(session, e)
        session.flush()
        projections.apply(session, e)
        session.flush()
        rows = list(session.scalars(select(CallbackFact)))
        assert len(rows) == 1 and rows[0].satisfaction == "satisfied"

    def test_earliest_dispatch_time_is_kept(self, session: Session) -> None:
        first = T0 + timedelta(minutes=10)
        projections.apply(session, dispatched(at=first + timedelta(days=1), round=2, ids=(3, 4)))
        projections.apply(session, dispatched(at=first))
        session.flush()
        assert session.get(TicketFact, TICKET).dispatched_at == first


class TestOrderIndependence:
    def test_reverse_order_gives_identical_rows(self) -> None:
        assert project(list(reversed(LIFECYCLE))) == project(LIFECYCLE)

    def test_signed_and_replied_before_dispatch(self) -> None:
        (reg, disp, clock1, clock2, sign1, sign2, reply, close, *statuses) = LIFECYCLE
        shuffled = [reply, sign2, sign1, close, *statuses, clock2, clock1, disp, reg]
        assert sorted(e.event_id for e in shuffled) == sorted(e.event_id for e in LIFECYCLE)
        assert project(shuffled) == project(LIFECYCLE)

    @settings(database=None, deadline=None, derandomize=True, max_examples=40)
    @given(events=st.permutations(LIFECYCLE))
    def test_any_order_gives_identical_rows(self, in_order: dict[str, Any],
                                            events: list[Event]) -> None:
        assert project(events) == in_order

    def test_redispatch_lead_does_not_depend_on_arrival_order(self) -> None:
        first = dispatched(lead="CG", assist="GA", round=1, ids=(1, 2))
        again = dispatched(lead="HB", assist="GA", round=2, ids=(3, 4),
                           at=T0 + timedelta(days=1))
        leads = []
        for events in ([registered(), first, again], [registered(), again, first]):
            with session_factory() as s:
                projections.project_all(s, events)
                s.flush()
                leads.append(s.get(TicketFact, TICKET).lead_department)
        assert leads == ["HB", "HB"]  # round 2 is the current dispatch



class TestStatusSequence:
    def test_older_status_does_not_overwrite_newer(self, session: Session) -> None:
        projections.apply(session, status_changed("in_progress", 3))
        projections.apply(session, status_changed("dispatched", 2))
        session.flush()
        t = session.get(TicketFact, TICKET)
        assert (t.status, t.status_seq) == ("in_progress", 3)

    def test_newer_status_overwrites_older(self, session: Session) -> None:
        projections.apply(session, status_changed("dispatched", 2))
        projections.apply(session, status_changed("in_progress", 3))
        session.flush()
        assert session.get(TicketFact, TICKET).status == "in_progress"

    def test_status_change_does_not_disturb_other_facts(self, session: Session) -> None:
        projections.apply(session, registered())
        projections.apply(session, status_changed("closed", 9))
        projections.apply(session, status_changed("registered", 1))
        session.flush()
        t = session.get(TicketFact, TICKET)
        assert (t.status, t.category) == ("closed", "complaint")

    def test_survives_a_commit_between_events(self, session: Session) -> None:
        projections.apply(session, status_changed("replied", 4))
        session.commit()
        session.expunge_all()
        projections.apply(session, status_changed("in_progress", 3))
        session.commit()
        assert session.get(TicketFact, TICKET).status == "replied"
