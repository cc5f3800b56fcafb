"""Projections: how each event updates reporting's facts (the raw rows every KPI, assessment
and report is computed from).

Every projection is an upsert of the fields that event knows, so the result does not depend on
the order in which events of different producers arrive, and replaying the event log
(``rebuild``) gives the same facts. Each event is applied exactly once: the event log's unique
``event_id`` is the inbox (``entrypoints/events.py``), so counters may simply add one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy.orm import Session

from services.reporting.domain import business_day
from services.reporting.models import (
    AssignmentFact,
    CallbackFact,
    InstructionUnitFact,
    LinkFact,
    ReturnFact,
    SupervisionFact,
    TicketFact,
    UrgeFact,
)
from shared.events import Event

F = TypeVar("F")


class PlainFact:
    """A fact as a plain object (replay mode): the table's columns as attributes, None unless
    set. Setting attributes costs nothing like an ORM instance's instrumented set."""

    model: Any = None

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


_PLAIN: dict[type, type[PlainFact]] = {}


def plain_class(model: type) -> type[PlainFact]:
    cls = _PLAIN.get(model)
    if cls is None:
        columns = {c.key: None for c in model.__table__.columns}  # type: ignore[attr-defined]
        cls = _PLAIN[model] = type(f"Plain{model.__name__}", (PlainFact,),
                                   {**columns, "model": model})
    return cls


class FactCache:
    """Replay mode (``replay.py``): every fact the events of a batch can touch was loaded into
    this map beforehand as a :class:`PlainFact`, so a key missing here is a new fact — no
    per-event SQL and no ORM bookkeeping. ``touched`` is what the batch must write back;
    ``stored`` the keys that already have a row. Installed as ``session.info["fact_cache"]``."""

    def __init__(self) -> None:
        self.facts: dict[tuple[type, Any], Any] = {}
        self.units: dict[int, list[Any]] = {}
        self.touched: dict[tuple[type, Any], Any] = {}
        self.stored: set[tuple[type, Any]] = set()

    def put(self, model: type, key: Any, fact: Any, stored: bool = False) -> None:
        self.facts[(model, key)] = fact
        if stored:
            self.stored.add((model, key))
        if model is InstructionUnitFact:
            self.units.setdefault(key[0], []).append(fact)


def _cache(session: Session) -> FactCache | None:
    cache = session.info.get("fact_cache")
    return cache if isinstance(cache, FactCache) else None


def _find(session: Session, model: type[F], key: Any) -> F | None:
    cache = _cache(session)
    if cache is None:
        return session.get(model, key)
    found = cache.facts.get((model, key))
    if found is not None:
        cache.touched[(model, key)] = found
    return cast(F | None, found)


def _add(session: Session, model: type, key: Any, fact: Any) -> None:
    cache = _cache(session)
    if cache is None:
        session.add(fact)
        return
    if not isinstance(fact, PlainFact):
        fact = plain_class(model)(**{c.key: getattr(fact, c.key)
                                     for c in model.__table__.columns})  # type: ignore[attr-defined]
    cache.put(model, key, fact)
    cache.touched[(model, key)] = fact


def _get(session: Session, model: type[F], key: Any, **defaults: Any) -> F:
    fact = _find(session, model, key)
    if fact is None:
        cache = _cache(session)
        fact = cast(F, model(**defaults) if cache is None else plain_class(model)(**defaults))
        _add(session, model, key, fact)
    return fact


def _ticket(session: Session, ticket_no: str) -> TicketFact:
    return _get(session, TicketFact, ticket_no, ticket_no=ticket_no, status_seq=0,
                dispatch_round=0, callback_failures=0, reopen_count=0, linked_calls=0,
                confidential=False)


def _assignment(session: Session, assignment_id: int, ticket_no: str) -> AssignmentFact:
    return _get(session, AssignmentFact, assignment_id, assignment_id=assignment_id,
                ticket_no=ticket_no, extended=False)


def _earliest(current: datetime | None, new: datetime | None) -> datetime | None:
    if current is None:
        return new
    if new is None:
        return current
    return min(current, new)


# -- orders ------------------------------------------------------------------------------------

def on_registered(session: Session, e: Event) -> None:
    d = e.data
    t = _ticket(session, d["ticket_no"])
    t.registered_at, t.registered_day = d["registered_at"], business_day(d["registered_at"])
    t.channel, t.category, t.urgency = d["channel"], d["category"], d["urgency"]
    t.territory_code = d.get("territory_code")
    t.confidential = bool(d.get("confidential"))
    t.title = None if t.confidential else (d.get("title") or "")[:200]


def on_resolved_at_intake(session: Session, e: Event) -> None:
    t = _ticket(session, e.data["ticket_no"])
    t.resolved_at_intake = e.data["resolved_at"]


def on_dispatched(session: Session, e: Event) -> None:
    d = e.data
    t = _ticket(session, d["ticket_no"])
    t.dispatched_at = _earliest(t.dispatched_at, d["dispatched_at"])
    latest = d["round"] >= (t.dispatch_round or 0)  # the lead is the latest round's lead
    if latest:
        t.dispatch_round = d["round"]
    for a in d["assignments"]:
        fact = _assignment(session, a["assignment_id"], d["ticket_no"])
        fact.department_code, fact.role = a["department_code"], a["role"]
        fact.dispatched_at, fact.round = d["dispatched_at"], d["round"]
        if a["role"] == "lead" and latest:
            t.lead_department = a["department_code"]


def on_status_changed(session: Session, e: Event) -> None:
    t = _ticket(session, e.data["ticket_no"])
    seq = e.sequence or 0
    if seq >= (t.status_seq or 0):  # an older status never overwrites a newer one (rule 4)
        t.status, t.status_seq = e.data["to_status"], seq


def on_callback(session: Session, e: Event) -> None:
    d = e.data
    if _find(session, CallbackFact, e.event_id) is not None:
        return  # applied already (the log is the inbox; this guards a replay of one event)
    _add(session, CallbackFact, e.event_id, CallbackFact(
        event_id=e.event_id, ticket_no=d["ticket_no"], at=d["at"], reached=d["reached"],
        solved=d.get("solved"), satisfaction=d.get("satisfaction")))
    t = _ticket(session, d["ticket_no"])
    if d["reached"]:
        t.callback_done_at = _earliest(t.callback_done_at, d["at"])
    else:
        t.callback_failures = (t.callback_failures or 0) + 1


def on_reopened(session: Session, e: Event) -> None:
    t = _ticket(session, e.data["ticket_no"])
    t.reopen_count = (t.reopen_count or 0) + 1
    t.reopened_at = _earliest(t.reopened_at, e.data["at"])


def on_linked(session: Session, e: Event) -> None:
    d = e.data
    if _find(session, LinkFact, d["link_id"]) is not None:
        return
    _add(session, LinkFact, d["link_id"], LinkFact(
        link_id=d["link_id"], ticket_no=d["ticket_no"], linked_at=d["linked_at"],
        channel=d.get("channel")))
    t = _ticket(session, d["ticket_no"])
    t.linked_calls = (t.linked_calls or 0) + 1


def on_closed(session: Session, e: Event) -> None:
    t = _ticket(session, e.data["ticket_no"])
    t.closed_at, t.close_reason = e.data["closed_at"], e.data["reason"]


def on_recalled(session: Session, e: Event) -> None:
    d = e.data
    for assignment_id in d["assignment_ids"]:
        fact = _assignment(session, assignment_id, d["ticket_no"])
        if fact.replied_at is None and fact.end_reason is None:
            fact.ended_at, fact.end_reason = d["at"], "recalled"


# -- assignments -------------------------------------------------------------------------------

def on_clocks_started(session: Session, e: Event) -> None:
    d = e.data
    fact = _assignment(session, d["assignment_id"], d["ticket_no"])
    fact.department_code, fact.role = d["department_code"], d["role"]
    fact.sign_due = d["sign_due"]
    if not fact.extended:  # an approved extension (applied first) is not undone
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
    if fact.end_reason == "returned":  # the reply crossed its return (see on_return_withdrawn)
        fact.ended_at = fact.end_reason = None
    t = _ticket(session, d["ticket_no"])
    t.replied_at = d["replied_at"] if t.replied_at is None else max(t.replied_at, d["replied_at"])
    t.first_replied_at = _earliest(t.first_replied_at, d["replied_at"])


def on_overdue(session: Session, e: Event) -> None:
    d = e.data
    fact = _assignment(session, d["assignment_id"], d["ticket_no"])
    fact.department_code = fact.department_code or d["department_code"]
    if d["clock"] == "sign":
        fact.sign_overdue_at = _earliest(fact.sign_overdue_at, d["at"])
    else:
        fact.handle_overdue_at = _earliest(fact.handle_overdue_at, d["at"])


def on_extension_decided(session: Session, e: Event) -> None:
    d = e.data
    if d["approved"]:  # on-time completion is judged against the extended deadline
        fact = _assignment(session, d["assignment_id"], d["ticket_no"])
        fact.handle_due, fact.extended = d["new_due"], True
        if fact.handle_overdue_at is not None and fact.handle_overdue_at < d["new_due"]:
            fact.handle_overdue_at = None  # the breach was of the old deadline


def on_passed_down(session: Session, e: Event) -> None:
    d = e.data
    old = _assignment(session, d["assignment_id"], d["ticket_no"])
    old.ended_at, old.end_reason = d["at"], "passed_down"
    new = _assignment(session, d["new_assignment_id"], d["ticket_no"])
    new.department_code, new.role = d["to_department"], d["role"]
    new.round, new.dispatched_at = old.round, new.dispatched_at or d["at"]
    # the new assignment takes over the old one's clocks: deadlines do not move
    new.sign_due = new.sign_due or old.sign_due
    if not new.extended:
        new.handle_due = old.handle_due if old.extended else (new.handle_due or old.handle_due)
        new.extended = old.extended
    if d["role"] == "lead":
        t = _ticket(session, d["ticket_no"])
        if (old.round or 0) >= (t.dispatch_round or 0):
            t.lead_department = d["to_department"]


def _return(session: Session, d: dict[str, Any]) -> ReturnFact:
    fact = _get(session, ReturnFact, d["return_id"], return_id=d["return_id"],
                assignment_id=d["assignment_id"], ticket_no=d["ticket_no"])
    fact.department_code = d["department_code"]
    return fact


def on_return_requested(session: Session, e: Event) -> None:
    d = e.data
    fact = _return(session, d)
    fact.reason_code, fact.requested_at = d["reason_code"], d["at"]


def on_return_decided(session: Session, e: Event) -> None:
    d = e.data
    fact = _return(session, d)
    if fact.withdrawn_at is not None:
        return  # the reply crossed it: neither approved nor 无正当理由退件
    fact.decided_at, fact.approved = d["at"], d["approved"]
    if d["approved"]:
        a = _assignment(session, d["assignment_id"], d["ticket_no"])
        if a.replied_at is None:
            a.ended_at, a.end_reason = d["at"], "returned"


def on_return_withdrawn(session: Session, e: Event) -> None:
    d = e.data
    fact = _return(session, d)
    fact.withdrawn_at, fact.approved, fact.decided_at = d["at"], None, None
    a = _assignment(session, d["assignment_id"], d["ticket_no"])
    if a.end_reason == "returned":
        a.ended_at = a.end_reason = None


# -- urging and supervision --------------------------------------------------------------------

def on_urged(session: Session, e: Event) -> None:
    d = e.data
    fact = _get(session, UrgeFact, d["urge_id"], urge_id=d["urge_id"])
    fact.ticket_no, fact.assignment_id = d["ticket_no"], d["assignment_id"]
    fact.department_code, fact.clock, fact.kind = d["department_code"], d["clock"], d["kind"]
    fact.issued_at = d["issued_at"]


def on_urge_answered(session: Session, e: Event) -> None:
    d = e.data
    fact = _get(session, UrgeFact, d["urge_id"], urge_id=d["urge_id"], ticket_no=d["ticket_no"],
                assignment_id=d["assignment_id"], department_code=d["department_code"])
    fact.answered_at = _earliest(fact.answered_at, d["at"])


def _supervision(session: Session, d: dict[str, Any]) -> SupervisionFact:
    fact = _get(session, SupervisionFact, d["supervision_order_id"],
                supervision_order_id=d["supervision_order_id"], ticket_no=d["ticket_no"])
    fact.assignment_id = fact.assignment_id or d.get("assignment_id")
    fact.department_code = fact.department_code or d.get("department_code")
    return fact


def on_supervised(session: Session, e: Event) -> None:
    d = e.data
    fact = _supervision(session, d)
    fact.source, fact.opened_at = d["source"], d["opened_at"]


def on_explanation_given(session: Session, e: Event) -> None:
    d = e.data
    fact = _supervision(session, d)
    fact.explained_at, fact.explained_late = d["at"], d["late"]


def on_escalated(session: Session, e: Event) -> None:
    d = e.data
    fact = _supervision(session, d)
    fact.escalated_at = _earliest(fact.escalated_at, d["at"])
    fact.opened_at = fact.opened_at or d["opened_at"]


# -- leader instructions 领导批示件 -------------------------------------------------------------

def _unit(session: Session, instruction_id: int, department_code: str) -> InstructionUnitFact:
    return _get(session, InstructionUnitFact, (instruction_id, department_code),
                instruction_id=instruction_id, department_code=department_code,
                confidential=False, submissions=0, returned_feedbacks=0, urges=0)


def _units(session: Session, instruction_id: int) -> list[InstructionUnitFact]:
    from sqlalchemy import select
    cache = _cache(session)
    if cache is not None:
        units = list(cache.units.get(instruction_id, ()))
        for u in units:
            cache.touched[(InstructionUnitFact, (u.instruction_id, u.department_code))] = u
        return units
    session.flush()
    return list(session.scalars(select(InstructionUnitFact).where(
        InstructionUnitFact.instruction_id == instruction_id)))


def on_instruction_registered(session: Session, e: Event) -> None:
    d = e.data
    for u in d["units"]:
        fact = _unit(session, d["instruction_id"], u["department_code"])
        fact.number, fact.leader_level, fact.kind = d["number"], d["leader_level"], d["kind"]
        fact.confidential, fact.registered_at = d["confidential"], d["registered_at"]
        fact.feedback_due = u.get("feedback_due")


def on_instruction_reclassified(session: Session, e: Event) -> None:
    for fact in _units(session, e.data["instruction_id"]):
        fact.kind = e.data["kind"]


def on_instruction_feedback_submitted(session: Session, e: Event) -> None:
    d = e.data
    fact = _unit(session, d["instruction_id"], d["department_code"])
    fact.first_feedback_at = _earliest(fact.first_feedback_at, d["submitted_at"])
    fact.submissions = max(fact.submissions or 0, d["submission"])
    if d.get("feedback_due") is not None:
        fact.feedback_due = d["feedback_due"]


def on_instruction_feedback_decided(session: Session, e: Event) -> None:
    d = e.data
    fact = _unit(session, d["instruction_id"], d["department_code"])
    if d["approved"]:
        fact.approved_at = _earliest(fact.approved_at, d["at"])
    else:
        fact.returned_feedbacks = (fact.returned_feedbacks or 0) + 1


def on_instruction_read(session: Session, e: Event) -> None:
    d = e.data
    fact = _unit(session, d["instruction_id"], d["department_code"])
    fact.read_at = _earliest(fact.read_at, d["at"])


def on_instruction_completed(session: Session, e: Event) -> None:
    for fact in _units(session, e.data["instruction_id"]):
        fact.completed_at = e.data["completed_at"]


def on_instruction_overdue(session: Session, e: Event) -> None:
    d = e.data
    fact = _unit(session, d["instruction_id"], d["department_code"])
    fact.overdue_at = _earliest(fact.overdue_at, d["at"])
    fact.urges = (fact.urges or 0) + 1


def on_instruction_urged(session: Session, e: Event) -> None:
    d = e.data
    fact = _unit(session, d["instruction_id"], d["department_code"])
    fact.urges = (fact.urges or 0) + 1


PROJECTIONS: dict[str, Callable[[Session, Event], None]] = {
    "ticket.registered": on_registered,
    "ticket.resolved_at_intake": on_resolved_at_intake,
    "ticket.dispatched": on_dispatched,
    "ticket.status_changed": on_status_changed,
    "ticket.callback_recorded": on_callback,
    "ticket.reopened": on_reopened,
    "ticket.linked": on_linked,
    "ticket.closed": on_closed,
    "ticket.recalled": on_recalled,
    "assignment.clocks_started": on_clocks_started,
    "assignment.signed": on_signed,
    "assignment.replied": on_replied,
    "ticket.overdue": on_overdue,
    "assignment.extension_decided": on_extension_decided,
    "assignment.passed_down": on_passed_down,
    "assignment.return_requested": on_return_requested,
    "assignment.return_decided": on_return_decided,
    "assignment.return_withdrawn": on_return_withdrawn,
    "ticket.urged": on_urged,
    "ticket.urge_answered": on_urge_answered,
    "ticket.supervised": on_supervised,
    "supervision.explanation_given": on_explanation_given,
    "ticket.escalated": on_escalated,
    "instruction.registered": on_instruction_registered,
    "instruction.reclassified": on_instruction_reclassified,
    "instruction.feedback_submitted": on_instruction_feedback_submitted,
    "instruction.feedback_decided": on_instruction_feedback_decided,
    "instruction.read": on_instruction_read,
    "instruction.completed": on_instruction_completed,
    "instruction.overdue": on_instruction_overdue,
    "instruction.urged": on_instruction_urged,
}


def apply(session: Session, event: Event) -> bool:
    """Apply one event to the facts; False if no projection uses it."""
    fn = PROJECTIONS.get(event.type)
    if fn is None:
        return False
    fn(session, event)
    return True


def project_all(session: Session, events: Iterable[Event]) -> int:
    n = 0
    for e in events:
        if apply(session, e):
            n += 1
            if n % 500 == 0:
                session.flush()
    return n
