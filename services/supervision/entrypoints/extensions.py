"""延期: a department asks for more working days once, before its handling deadline;
the center approves (the deadline moves) or rejects. Rules in :mod:`..domain`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from services.supervision import domain, urging
from services.supervision.entrypoints.base import SupervisionBase, _view
from services.supervision.models import Clock, Extension
from services.supervision.schemas import (
    ExtensionDecisionSchema,
    ExtensionRecordSchema,
    ExtensionRequestSchema,
)
from shared.database import translate_db_errors
from shared.errors import NotFound, load_or_invalid
from shared.events import utcnow
from shared.logs import bind
from shared.rpc import rpc


class ExtensionEntrypoints(SupervisionBase):
    @rpc
    @translate_db_errors
    def request_extension(self, assignment_id: int, department_code: str,
                          payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """延期申请 by the assignment's own department, before its handling deadline."""
        form = load_or_invalid(ExtensionRequestSchema(), payload)
        session = self.db.session
        clock = self._own_clock(assignment_id, department_code)
        session.refresh(clock, with_for_update=True)  # a recall at the same moment: wait
        now = utcnow()
        already = session.scalar(select(Extension.id).where(Extension.assignment_id == assignment_id))
        domain.check_extension_request(clock.replied_at is not None, now, clock.handle_due,
                                       already is not None, form["days"],
                                       self.policy.extension_max.amount,
                                       stopped=clock.stopped_at is not None)
        ext = Extension(ticket_no=clock.ticket_no, assignment_id=assignment_id,
                        department_code=department_code, days=form["days"], reason=form["reason"],
                        requested_at=now, requested_by=actor, state="pending",
                        old_due=clock.handle_due)
        session.add(ext)
        session.flush()
        self.db.emit("assignment.extension_requested", {
            "extension_id": ext.id, "assignment_id": assignment_id, "ticket_no": clock.ticket_no,
            "department_code": department_code, "days": ext.days, "reason": ext.reason,
            "at": now, "actor": actor}, ticket_no=clock.ticket_no)
        self.db.commit()
        return ExtensionRecordSchema().dump(ext)

    @rpc
    @translate_db_errors
    def decide_extension(self, extension_id: int, payload: dict[str, Any],
                         actor: str) -> dict[str, Any]:
        """延期审批: approval moves the handling deadline once, by the days asked for."""
        form = load_or_invalid(ExtensionDecisionSchema(), payload)
        session = self.db.session
        ext = session.get(Extension, extension_id)
        if ext is None:
            raise NotFound(f"延期申请不存在 extension {extension_id} not found",
                           {"extension_id": extension_id})
        bind(ticket_no=ext.ticket_no)
        # a recall (or a request) on this assignment at the same moment: wait for it
        clock = session.get(Clock, ext.assignment_id, with_for_update=True,
                            populate_existing=True)
        domain.check_extension_decision(ext.state, stopped=clock.stopped_at is not None)
        now = utcnow()
        ext.state = "approved" if form["approve"] else "rejected"
        ext.decided_at, ext.decided_by, ext.decision_note = now, actor, form["note"]
        if form["approve"]:
            calendar = self.calendar(session)
            # the old deadline is the end of its last day: the extra days follow that day
            ext.new_due = calendar.add_working_days(ext.old_due - timedelta(microseconds=1),
                                                    ext.days)
            clock.handle_due = ext.new_due
            clock.handle_warn_at = urging.warn_at(clock.started_at, ext.new_due)
            clock.overdue = clock.overdue and ext.new_due <= now
            clock.next_check_at = urging.next_check(_view(clock), now)
        self.db.emit("assignment.extension_decided", {
            "extension_id": ext.id, "assignment_id": ext.assignment_id, "ticket_no": ext.ticket_no,
            "department_code": ext.department_code, "approved": form["approve"],
            "old_due": ext.old_due, "new_due": ext.new_due, "at": now, "actor": actor,
            "note": form["note"]}, ticket_no=ext.ticket_no)
        self.db.commit()
        return ExtensionRecordSchema().dump(ext)
