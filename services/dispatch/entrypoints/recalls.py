"""撤回派单: the center withdraws an order's current round (sent to the wrong department)
before its lead replied; the order waits for a dispatcher again."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.dispatch.entrypoints.base import DispatchBase
from services.dispatch.models import Assignment, TicketCopy
from services.dispatch.schemas import RecallSchema
from shared.database import translate_db_errors
from shared.errors import Conflict, NotFound, load_or_invalid
from shared.events import utcnow
from shared.logs import bind
from shared.rpc import rpc


class RecallEntrypoints(DispatchBase):
    @rpc
    @translate_db_errors
    def recall(self, ticket_no: str, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """撤回派单: withdraw the current round (sent to the wrong department) while its lead has
        not replied; its assignments stop (``recalled``) and the order waits for a dispatcher
        again (预审 queue, waiting reason ``recalled``)."""
        form = load_or_invalid(RecallSchema(), payload or {})
        bind(ticket_no=ticket_no)
        session = self.db.session
        ticket = session.get(TicketCopy, ticket_no)
        if ticket is None:
            raise NotFound(f"工单不存在 order {ticket_no} not found", {"ticket_no": ticket_no})
        if ticket.state != "dispatched":
            raise Conflict(f"工单当前不在派单状态，不能撤回 order is {ticket.state}, not dispatched",
                           {"action": "recall", "state": ticket.state})
        round_rows = list(session.scalars(select(Assignment).where(
            Assignment.ticket_no == ticket_no, Assignment.round == ticket.round)
            .order_by(Assignment.id)))
        lead = next((a for a in round_rows if a.role == "lead" and a.state != "passed_down"),
                    None)
        if lead is not None and lead.state == "replied":
            raise Conflict("主办单位已答复，不能撤回 the lead department has replied",
                           {"action": "recall", "state": "replied"})
        recalled = [a for a in round_rows if a.state not in ("passed_down", "returned")]
        now = utcnow()
        for a in recalled:
            a.state = "recalled"
        ticket.state = "pending"
        self._hold(ticket, "recalled", None, None)
        ids = [a.id for a in recalled]
        departments = list(dict.fromkeys(a.department_code for a in recalled))
        self.db.emit("ticket.recalled", {
            "ticket_no": ticket_no, "round": ticket.round, "at": now, "actor": actor,
            "reason": form["reason"], "assignment_ids": ids, "departments": departments},
            ticket_no=ticket_no)
        self._feed(ticket, [self._entry(a, "assignment.recalled", {
            "reason": form["reason"], "round": ticket.round, "at": now}) for a in recalled])
        self._commit()
        return {"ticket_no": ticket_no, "round": ticket.round, "assignment_ids": ids}
