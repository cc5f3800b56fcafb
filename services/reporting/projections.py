"""Projections: how each event updates reporting's read models.

Every projection is an upsert of the fields that event knows, so the result does not depend on
the order in which events of different producers arrive, and replaying the event log
(``rebuild``) gives the same read models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from services.reporting.domain import business_day
from services.reporting.models import AssignmentFact, CallbackFact, TicketFact
from shared.events import Event


def _ticket(session: Session, ticket_no: str) -> TicketFact:
    fact = session.get(TicketFact, ticket_no)
    if fact is None:
        fact = TicketFact(ticket_no=ticket_no, status_seq=0, dispatch_round=0)
        session.add(fact)
    return fact


def _assignment(session: Session, assignment_id: int, ticket_no: str) -> AssignmentFact:
    fact = session.get(AssignmentFact, assignment_id)
    if fact is None:
        fact = AssignmentFact(assignment_id=assignment_id, ticket_no=ticket_no)
        session.add(fact)
    return fact


def on_registered(session: Session, e: Event) -> None:
    d = e.data
    t = _ticket(session, d["ticket_no"])
    t.registered_at, t.registered_day = d["registered_at"], business_day(d["registered_at"])
    t.channel, t.category, t.urgency = d["channel"], d["category"], d["urgency"]
    t.territory_code = d.get("territory_code")


def on_dispatched(session: Session, e: Event) -> None:
    d = e.data
    t = _ticket(session, d["ticket_no"])
    if t.dispatched_at is None or d["dispatched_at"] < t.dispatched_at:
        t.dispatched_at = d["dispatched_at"]
    latest = d["round"] >= (t.dispatch_round or 0)  # the lead is the latest round's lead
    if latest:
        t.dispatch_round = d["round"]
    for a in d["assignments"]:
        fact = _assignment(session, a["assignment_id"], d["ticket_no"])
        fact.department_code, fact.role = a["department_code"], a["role"]
        fact.dispatched_at = d["dispatched_at"]
        if a["role"] == "lead" and latest:
            t.lead_department = a["department_code"]


def on_clocks_started(session: Session, e: Event) -> None:
    d = e.data
    fact = _assignment(session, d["assignment_id"], d["ticket_no"])
    fact.department_code, fact.role = d["department_code"], d["role"]
    fact.sign_due = d["sign_due"]
    if fact.handle_due is None:  # an approved extension (applied first) is not undone
        fact.handle_due = d["handle_due"]


def on_signed(session: Session, e: Event) -> None:
    d = e.data
    fact = _assignment(session, d["assignment_id"], d["ticket_no"])
    fact.department_code, fact.role = d["department_code"], d["role"]
    fact.signed_at = d["signed_at"]


def on_replied(session: Session, e: Event) -> None:
    d = e.data
    fact = _assignment(session, d["assignment_id"], d["ticket_no"])
    fact.department_code = d["department_code"]
    fact.replied_at = d["replied_at"]
    t = _ticket(session, d["ticket_no"])
    t.replied_at = d["replied_at"]


def on_resolved_at_intake(session: Session, e: Event) -> None:
    t = _ticket(session, e.data["ticket_no"])
    t.resolved_at_intake = e.data["resolved_at"]


def on_callback(session: Session, e: Event) -> None:
    d = e.data
    if session.get(CallbackFact, e.event_id) is None:
        session.add(CallbackFact(event_id=e.event_id, ticket_no=d["ticket_no"], at=d["at"],
                                 reached=d["reached"], solved=d.get("solved"),
                                 satisfaction=d.get("satisfaction")))


def on_closed(session: Session, e: Event) -> None:
    t = _ticket(session, e.data["ticket_no"])
    t.closed_at, t.close_reason = e.data["closed_at"], e.data["reason"]


def on_status_changed(session: Session, e: Event) -> None:
    t = _ticket(session, e.data["ticket_no"])
    seq = e.sequence or 0
    if seq >= (t.status_seq or 0):  # an older status never overwrites a newer one (rule 4)
        t.status, t.status_seq = e.data["to_status"], seq


def on_extension_decided(session: Session, e: Event) -> None:
    d = e.data
    if d["approved"]:  # on-time completion is judged against the extended deadline
        fact = _assignment(session, d["assignment_id"], d["ticket_no"])
        fact.handle_due = d["new_due"]


PROJECTIONS: dict[str, Callable[[Session, Event], None]] = {
    "ticket.registered": on_registered,
    "ticket.dispatched": on_dispatched,
    "assignment.clocks_started": on_clocks_started,
    "assignment.signed": on_signed,
    "assignment.replied": on_replied,
    "ticket.resolved_at_intake": on_resolved_at_intake,
    "ticket.callback_recorded": on_callback,
    "ticket.closed": on_closed,
    "ticket.status_changed": on_status_changed,
    "assignment.extension_decided": on_extension_decided,
}


def apply(session: Session, event: Event) -> bool:
    """Apply one event to the read models; False if no projection uses it."""
    fn = PROJECTIONS.get(event.type)
    if fn is None:
        return False
    fn(session, event)
    return True


def project_all(session: Session, events: Any) -> int:
    n = 0
    for e in events:
        if apply(session, e):
            n += 1
            if n % 500 == 0:
                session.flush()
    return n
