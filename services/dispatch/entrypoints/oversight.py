"""催办 and 督办单 (supervision's facts) relayed to the urged or supervised department's
feed."""

from __future__ import annotations

from services.dispatch.entrypoints.base import DispatchBase, OutOfOrder
from services.dispatch.models import Assignment, TicketCopy
from shared.events import Event
from shared.messaging import event_handler


class OversightEntrypoints(DispatchBase):
    @event_handler("ticket.urged", "ticket.supervised")
    def on_oversight(self, event: Event) -> None:
        """催办 and 督办单 reach the urged / supervised department's feed (a 督办单 of a whole
        problem order, with no assignment, has no department feed to go to)."""
        if not self.db.claim(event):
            return
        d = event.data
        session = self.db.session
        if d.get("assignment_id") is None:
            self.db.commit()
            return
        a = session.get(Assignment, d["assignment_id"])
        if a is None:
            raise OutOfOrder(f"{event.type} of assignment {d['assignment_id']} before its "
                             f"dispatch")
        if event.type == "ticket.urged":
            entry = self._entry(a, "assignment.urged", {
                "urge_id": d["urge_id"], "clock": d["clock"], "kind": d["kind"],
                "channel": d["channel"], "note": d.get("note"), "issued_at": d["issued_at"]})
        else:
            entry = self._entry(a, "assignment.supervised", {
                "supervision_order_id": d["supervision_order_id"], "source": d["source"],
                "explanation_due": d["explanation_due"], "note": d.get("note"),
                "opened_at": d["opened_at"]})
        if a.state != "recalled":
            self._feed(session.get(TicketCopy, a.ticket_no), [entry])
        self._commit()
