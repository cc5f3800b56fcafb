"""退单, as supervision reports it (``assignment.return_requested``, ``_decided``,
``_withdrawn``): while the center decides, the assignment can be neither signed nor replied; an
approved return gives the order back to the dispatchers (待派单); the lead's reply withdraws a
pending return, or voids an approval it crossed."""

from __future__ import annotations

from sqlalchemy import select

from services.dispatch import domain
from services.dispatch.entrypoints.base import DispatchBase, OutOfOrder
from services.dispatch.models import Assignment, TicketCopy
from shared.events import Event
from shared.messaging import event_handler


class ReturnEntrypoints(DispatchBase):
    @event_handler("assignment.return_requested", "assignment.return_decided",
                   "assignment.return_withdrawn")
    def on_return(self, event: Event) -> None:
        """退单: while the center decides, the assignment can be neither signed nor replied;
        an approved return gives the order back to the dispatchers (待派单)."""
        if not self.db.claim(event):
            return
        d = event.data
        session = self.db.session
        a = session.get(Assignment, d["assignment_id"])
        ticket = session.get(TicketCopy, d["ticket_no"])
        if a is None or ticket is None:
            raise OutOfOrder(f"return for assignment {d['assignment_id']} before its dispatch")
        if event.type == "assignment.return_requested":
            if a.state in ("dispatched", "signed"):
                a.state = "return_requested"
        elif event.type == "assignment.return_withdrawn":
            # the lead's reply stands: an approval it crossed no longer puts the order back in
            # the dispatchers' queue (unless a dispatcher has already re-dispatched it)
            if d["superseded"] == "approved" and ticket.state != "pending" \
                    and ticket.round == a.round:
                raise OutOfOrder(f"return {d['return_id']} withdrawn before its approval here")
            if ticket.state == "pending" and a.state == "replied":
                held = self._pending_decision(ticket)
                if held is not None and held.waiting_reason == "returned":
                    session.delete(held)
                ticket.state = "dispatched"
        elif d["approved"]:
            for other in session.scalars(select(Assignment).where(
                    Assignment.ticket_no == a.ticket_no, Assignment.round == a.round)):
                if other.state not in domain.FINISHED_STATES:
                    other.state = "returned"
            # (an approval of a round the center has recalled since does not hold the order)
            if ticket.state != "pending" and a.round == ticket.round:
                ticket.state = "pending"
                # back in the dispatchers' queue; the catalogue's choice was just returned
                self._hold(ticket, "returned", None, None)
        elif a.state == "return_requested":
            a.state = "signed" if a.signed_at else "dispatched"
        elif a.state in ("dispatched", "signed"):
            # the rejection overtook its own request (two workers of this queue at once): apply
            # the request first, or it would arrive later and hold the assignment for good
            raise OutOfOrder(f"return {d['return_id']} decided before its request was applied")
        if event.type == "assignment.return_decided":
            self._feed(ticket, [self._entry(a, "assignment.return_decided", {
                "return_id": d["return_id"], "approved": d["approved"], "note": d.get("note"),
                "at": d["at"]})])
        self._commit()
