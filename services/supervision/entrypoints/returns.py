"""退单: the lead department gives an order back within the return window; the center
approves (back to dispatch, the clocks stop) or rejects (counted as 无正当理由退件). Also
a lead's reply that crossed its own return on the bus. Rules in :mod:`..domain`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from services.supervision import domain
from services.supervision.entrypoints.base import OutOfOrder, SupervisionBase
from services.supervision.models import Clock, ReturnRequest, TicketState
from services.supervision.schemas import (
    ReturnDecisionSchema,
    ReturnRecordSchema,
    ReturnRequestSchema,
)
from shared.database import translate_db_errors
from shared.errors import Conflict, NotFound, load_or_invalid
from shared.events import utcnow
from shared.logs import bind
from shared.rpc import rpc


class ReturnEntrypoints(SupervisionBase):
    @rpc
    @translate_db_errors
    def request_return(self, assignment_id: int, department_code: str,
                       payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """退单申请 by the lead department, within the return window, for the center to decide."""
        form = load_or_invalid(ReturnRequestSchema(), payload)
        session = self.db.session
        clock = self._own_clock(assignment_id, department_code)
        state = self._state(clock.ticket_no)
        now = utcnow()
        domain.check_return_request(clock.role, clock.replied_at is not None,
                                    clock.stopped_at is not None, now, clock.return_due,
                                    self._pending_return(clock.ticket_no) is not None)
        before = state.status
        self._move(state, "request_return", actor,
                   f"{department_code} 申请退单：{domain.RETURN_REASONS[form['reason_code']]}")
        req = ReturnRequest(ticket_no=clock.ticket_no, assignment_id=assignment_id,
                            department_code=department_code, reason_code=form["reason_code"],
                            basis=form["basis"], requested_at=now, requested_by=actor,
                            status_before=before, state="pending")
        session.add(req)
        session.flush()
        self.db.emit("assignment.return_requested", {
            "return_id": req.id, "assignment_id": assignment_id, "ticket_no": clock.ticket_no,
            "department_code": department_code, "reason_code": req.reason_code,
            "basis": req.basis, "at": now, "actor": actor}, ticket_no=clock.ticket_no)
        self.db.commit()
        return ReturnRecordSchema().dump(req)

    @rpc
    @translate_db_errors
    def decide_return(self, return_id: int, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """退单审定: approve → back to dispatch (the assignment's clocks stop); reject → the
        department keeps the order (counted as 无正当理由退件)."""
        form = load_or_invalid(ReturnDecisionSchema(), payload)
        session = self.db.session
        req = session.get(ReturnRequest, return_id)
        if req is None:
            raise NotFound(f"退单申请不存在 return {return_id} not found", {"return_id": return_id})
        bind(ticket_no=req.ticket_no)
        if req.state != "pending":
            done = "失效（派单已撤回）" if req.state == domain.LAPSED else "审定"
            raise Conflict(f"该退单申请已{done} (decision on a {req.state} return)",
                           {"action": "decide_return", "state": req.state})
        state = self._state(req.ticket_no)
        now = utcnow()
        req.state = "approved" if form["approve"] else "rejected"
        req.decided_at, req.decided_by, req.decision_note = now, actor, form["note"]
        if form["approve"]:
            self._move(state, "approve_return", actor, form["note"] or "同意退单 return approved")
            for clock in session.scalars(select(Clock).where(
                    Clock.ticket_no == req.ticket_no, Clock.replied_at.is_(None),
                    Clock.stopped_at.is_(None))):
                clock.stopped_at, clock.next_check_at = now, None
        else:
            self._move(state, "reject_return", actor, form["note"] or "驳回退单 return rejected",
                       target=domain.status_after_rejected_return(req.status_before))
        self.db.emit("assignment.return_decided", {
            "return_id": req.id, "assignment_id": req.assignment_id, "ticket_no": req.ticket_no,
            "department_code": req.department_code, "approved": form["approve"], "at": now,
            "actor": actor, "note": form["note"]}, ticket_no=req.ticket_no)
        self.db.commit()
        return ReturnRecordSchema().dump(req)

    def _withdraw_return(self, state: TicketState, assignment_id: int, at: datetime) -> None:
        """The lead replied while its return request was pending (the two crossed on the
        bus: dispatch took the reply before it heard of the return): the reply stands and the
        request is withdrawn, so nobody adjudicates a return of an order already answered."""
        ticket_no = state.ticket_no
        req = self._pending_return(ticket_no)
        if req is None or req.assignment_id != assignment_id:
            return
        if req.status_before != "in_progress":  # dispatch only takes a reply after the sign
            raise OutOfOrder(f"reply of {ticket_no} before its signature was applied")
        req.state, req.decided_at, req.decided_by = "withdrawn", at, "system"
        req.decision_note = "承办单位已答复，退单申请自动撤回 withdrawn by the reply"
        self._move(state, "withdraw_return", "system", req.decision_note, target="in_progress")
        self.db.emit("assignment.return_withdrawn", {
            "return_id": req.id, "assignment_id": assignment_id, "ticket_no": ticket_no,
            "department_code": req.department_code, "at": at,
            "reason": req.decision_note}, ticket_no=ticket_no)

    def _reinstate(self, state: TicketState, clock: Clock, at: datetime) -> None:
        """The lead's reply crossed the center's approval of its return (dispatch took the
        reply before it heard of the request; supervision approved before it heard of the
        reply): the citizen was answered, so the reply stands, the approval is void and the
        order goes on from 办理中. Nothing of this if a dispatcher already re-dispatched it."""
        req = self.db.session.scalar(select(ReturnRequest).where(
            ReturnRequest.ticket_no == state.ticket_no).order_by(ReturnRequest.id.desc()))
        if req is None or req.assignment_id != clock.assignment_id or req.state != "approved":
            return
        if clock.signed_at is None:  # dispatch only takes a reply after the sign
            raise OutOfOrder(f"reply of {state.ticket_no} before its signature was applied")
        req.state = "withdrawn"
        req.decision_note = ((req.decision_note + "；") if req.decision_note else "") + \
            "审定前承办单位已答复，退单作废 the reply crossed the approval"
        clock.stopped_at = None
        self._move(state, "reinstate", "system", "承办单位已答复，退单作废，恢复办理 the reply "
                   "crossed the approved return", target="in_progress")
        self.db.emit("assignment.return_withdrawn", {
            "return_id": req.id, "assignment_id": clock.assignment_id,
            "ticket_no": state.ticket_no, "department_code": req.department_code, "at": at,
            "reason": "审定前承办单位已答复，退单作废 the reply crossed the approval",
            "superseded": "approved"}, ticket_no=state.ticket_no)

    def _pending_return(self, ticket_no: str) -> ReturnRequest | None:
        return self.db.session.scalar(select(ReturnRequest).where(
            ReturnRequest.ticket_no == ticket_no, ReturnRequest.state == "pending"))
