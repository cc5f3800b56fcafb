"""The assignments' handling deadlines, as supervision reports them (clocks started, an
extension 延期 decided): kept here for the lead's reply gate (协办 opinions due) and told to the
department's feed."""

from __future__ import annotations

from services.dispatch.entrypoints.base import DispatchBase, OutOfOrder
from services.dispatch.models import Assignment, AssignmentDeadline, TicketCopy
from shared.events import Event, utcnow
from shared.messaging import event_handler


class DeadlineEntrypoints(DispatchBase):
    @event_handler("assignment.clocks_started", "assignment.extension_decided")
    def on_deadline(self, event: Event) -> None:
        """Learn each assignment's handling deadline (and an approved extension's new one):
        the lead may reply once every assistant gave its opinion or ran out of time."""
        if not self.db.claim(event):
            return
        d = event.data
        session = self.db.session
        a = session.get(Assignment, d["assignment_id"])
        if a is None:
            raise OutOfOrder(f"deadline of assignment {d['assignment_id']} before its dispatch")
        # a deadline learnt after a pass-down (下派) also holds for the units it went down to
        chain = [a]
        while chain[-1].passed_to_id is not None and len(chain) < 10:
            successor = session.get(Assignment, chain[-1].passed_to_id)
            if successor is None:
                break
            chain.append(successor)
        now = utcnow()
        for link in chain:
            row = session.get(AssignmentDeadline, link.id)
            if event.type == "assignment.clocks_started":
                if row is None:
                    session.add(AssignmentDeadline(assignment_id=link.id,
                                                   handle_due=d["handle_due"], extended=False,
                                                   updated_at=now))
                elif not row.extended:  # an extension that overtook its clock keeps its due
                    row.handle_due, row.updated_at = d["handle_due"], now
            elif d["approved"] and d.get("new_due") is not None:
                if row is None:
                    session.add(AssignmentDeadline(assignment_id=link.id,
                                                   handle_due=d["new_due"], extended=True,
                                                   updated_at=now))
                else:
                    row.handle_due, row.extended, row.updated_at = d["new_due"], True, now
        holder = chain[-1]  # the unit holding the assignment now (after any 下派)
        ticket = session.get(TicketCopy, a.ticket_no)
        if event.type == "assignment.clocks_started":
            entry = self._entry(holder, "assignment.deadlines_set", {
                "started_at": d["started_at"], "sign_due": d["sign_due"],
                "handle_due": d["handle_due"], "policy": d["policy"]})
        else:
            entry = self._entry(holder, "assignment.extension_decided", {
                "extension_id": d["extension_id"], "approved": d["approved"],
                "old_due": d["old_due"], "new_due": d.get("new_due"), "note": d.get("note"),
                "at": d["at"]})
        if holder.state != "recalled":  # a recalled assignment's department is told no more
            self._feed(ticket, [entry])
        self._commit()
