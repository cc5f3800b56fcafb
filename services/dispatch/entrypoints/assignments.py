"""A department's work on its own assignments: sign-for 签收, 协办意见, 下派, reply 答复,
办理进展. Every call names the department; another department's assignment is not found. The
state machine is in :mod:`..domain`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.dispatch import domain
from services.dispatch import endpoints as endpoint_rules
from services.dispatch.entrypoints.base import DispatchBase, _assignment, _progress
from services.dispatch.models import (
    Assignment,
    AssignmentDeadline,
    Department,
    ProgressNote,
    TicketCopy,
)
from services.dispatch.schemas import OpinionSchema, PassDownSchema, ProgressSchema, ReplySchema
from shared.database import translate_db_errors
from shared.errors import Conflict, NotFound, load_or_invalid
from shared.events import utcnow
from shared.logs import bind
from shared.rpc import rpc


class AssignmentEntrypoints(DispatchBase):
    @rpc
    @translate_db_errors
    def sign(self, assignment_id: int, department_code: str, actor: str) -> dict[str, Any]:
        """签收: the department acknowledges its assignment."""
        a = self._own_assignment(assignment_id, department_code)
        a.state = domain.next_state("sign", a.state, a.role)
        a.signed_at, a.signed_by = utcnow(), actor
        self.db.emit("assignment.signed", {
            "assignment_id": a.id, "ticket_no": a.ticket_no, "department_code": a.department_code,
            "role": a.role, "signed_at": a.signed_at, "actor": actor}, ticket_no=a.ticket_no)
        self.db.commit()
        return _assignment.dump(a)

    @rpc
    @translate_db_errors
    def reply(self, assignment_id: int, department_code: str, payload: dict[str, Any],
              actor: str) -> dict[str, Any]:
        """答复: the lead department's reply to the citizen."""
        form = load_or_invalid(ReplySchema(), payload)
        a = self._own_assignment(assignment_id, department_code)
        a.state = domain.next_state("reply", a.state, a.role)
        domain.check_reply_gate(
            [domain.AssistStatus(x.id, x.department_code, x.state, due)
             for x, due in self._assists_with_deadlines(a.ticket_no, a.round)], utcnow())
        a.replied_at, a.replied_by, a.reply = utcnow(), actor, form["reply"]
        self.db.emit("assignment.replied", {
            "assignment_id": a.id, "ticket_no": a.ticket_no, "department_code": a.department_code,
            "replied_at": a.replied_at, "actor": actor, "reply": a.reply}, ticket_no=a.ticket_no)
        self.db.commit()
        return _assignment.dump(a)

    @rpc
    @translate_db_errors
    def submit_opinion(self, assignment_id: int, department_code: str, payload: dict[str, Any],
                       actor: str) -> dict[str, Any]:
        """协办意见: an assisting department, after signing, sends its opinion to the lead."""
        form = load_or_invalid(OpinionSchema(), payload)
        a = self._own_assignment(assignment_id, department_code)
        a.state = domain.check_opinion(a.state, a.role)
        a.opinion, a.opinion_at, a.opinion_by = form["opinion"], utcnow(), actor
        self.db.emit("assignment.opinion_submitted", {
            "assignment_id": a.id, "ticket_no": a.ticket_no,
            "department_code": a.department_code, "submitted_at": a.opinion_at,
            "actor": actor, "opinion": a.opinion}, ticket_no=a.ticket_no)
        self.db.commit()
        return _assignment.dump(a)

    @rpc
    @translate_db_errors
    def pass_down(self, assignment_id: int, department_code: str, payload: dict[str, Any],
                  actor: str) -> dict[str, Any]:
        """下派: a district or street government passes its assignment to one of its own units.

        The old assignment ends (``passed_down``); the unit gets a new one with the same role
        and round, which takes over the old one's clocks (supervision) and deadline (here).
        """
        form = load_or_invalid(PassDownSchema(), payload)
        session = self.db.session
        a = self._own_assignment(assignment_id, department_code)
        round_rows = list(session.scalars(select(Assignment).where(
            Assignment.ticket_no == a.ticket_no, Assignment.round == a.round)))
        a.state = domain.check_pass_down(
            a.state, a.role, _unit(session.get(Department, a.department_code)),
            _unit(session.get(Department, form["department_code"])),
            return_pending=any(r.state == "return_requested" for r in round_rows),
            round_departments=[r.department_code for r in round_rows
                               if r.state != "passed_down"])
        now = utcnow()
        child = Assignment(ticket_no=a.ticket_no, department_code=form["department_code"],
                           role=a.role, round=a.round, state="dispatched", dispatched_at=now,
                           dispatched_by=actor, rule_id=a.rule_id,
                           catalogue_version=a.catalogue_version, passed_from_id=a.id,
                           pass_down_note=form["note"])
        session.add(child)
        session.flush()
        a.passed_to_id = child.id
        deadline = session.get(AssignmentDeadline, a.id)
        if deadline is not None:
            session.add(AssignmentDeadline(assignment_id=child.id, handle_due=deadline.handle_due,
                                           extended=deadline.extended, updated_at=now))
        self.db.emit("assignment.passed_down", {
            "ticket_no": a.ticket_no, "assignment_id": a.id, "new_assignment_id": child.id,
            "from_department": a.department_code, "to_department": child.department_code,
            "role": a.role, "at": now, "actor": actor, "note": form["note"]},
            ticket_no=a.ticket_no)
        ticket = session.get(TicketCopy, a.ticket_no)
        self._feed(ticket, self._dispatched_entries(ticket, [child]))
        self._commit()
        return _assignment.dump(child)

    @rpc
    @translate_db_errors
    def note_progress(self, assignment_id: int, department_code: str, payload: dict[str, Any],
                      actor: str) -> dict[str, Any]:
        """办理进展: the department's note on its open assignment (no clock moves)."""
        form = load_or_invalid(ProgressSchema(), payload or {})
        a = self._own_assignment(assignment_id, department_code)
        if a.state not in endpoint_rules.PROGRESS_STATES:
            raise Conflict(f"当前状态「{domain.STATE_NAMES.get(a.state, a.state)}」不能记录办理进展 "
                           f"the assignment is no longer open",
                           {"action": "note_progress", "state": a.state})
        note = ProgressNote(assignment_id=a.id, ticket_no=a.ticket_no,
                            department_code=a.department_code, note=form["note"], at=utcnow(),
                            actor=actor)
        self.db.session.add(note)
        self.db.session.flush()
        self.db.emit("assignment.progress_noted", {
            "note_id": note.id, "assignment_id": a.id, "ticket_no": a.ticket_no,
            "department_code": a.department_code, "note": note.note, "at": note.at,
            "actor": actor}, ticket_no=a.ticket_no)
        self.db.commit()
        return _progress.dump(note)

    def _own_assignment(self, assignment_id: int, department_code: str) -> Assignment:
        a = self.db.session.get(Assignment, assignment_id)
        if a is None or a.department_code != department_code:
            # another department's assignment is indistinguishable from a missing one
            raise NotFound(f"任务不存在 assignment {assignment_id} not found",
                           {"assignment_id": assignment_id})
        bind(ticket_no=a.ticket_no)
        return a

    def _assists_with_deadlines(self, ticket_no: str,
                                round_: int) -> list[tuple[Assignment, Any]]:
        rows = self.db.session.execute(
            select(Assignment, AssignmentDeadline.handle_due)
            .outerjoin(AssignmentDeadline, AssignmentDeadline.assignment_id == Assignment.id)
            .where(Assignment.ticket_no == ticket_no, Assignment.round == round_,
                   Assignment.role == "assist").order_by(Assignment.id))
        return [(a, due) for a, due in rows]


def _unit(dep: Department | None) -> domain.Unit | None:
    return None if dep is None else domain.Unit(code=dep.code, kind=dep.kind,
                                                parent_code=dep.parent_code, active=dep.active)
