"""Facts from intake and dispatch, on supervision's two event queues.

The handlers' method names are their queues' names (``supervision.<method>``): keep them.
Each fact is applied by ``_apply_<type>`` in the module of its concept:

- ``ticket.registered``, ``ticket.pending_dispatch``, ``ticket.resolved_at_intake``:
  :mod:`.lifecycle`;
- ``ticket.dispatched``, ``assignment.signed``, ``assignment.replied``,
  ``assignment.passed_down``, ``assignment.opinion_submitted``: :mod:`.clocks`;
- ``ticket.linked``: :mod:`.callbacks`; ``ticket.problem_flagged``: :mod:`.oversight`;
- ``ticket.recalled``: :mod:`.recalls` (on the lifecycle queue, so that it is applied after
  the dispatch, sign and reply it follows and before the next round's dispatch).
"""

from __future__ import annotations

from services.supervision.entrypoints.base import SupervisionBase
from shared.events import Event
from shared.messaging import event_handler


class FactEntrypoints(SupervisionBase):
    @event_handler("ticket.registered", "ticket.pending_dispatch", "ticket.dispatched",
                   "assignment.signed", "assignment.replied", "ticket.resolved_at_intake",
                   "ticket.recalled")
    def on_lifecycle_fact(self, event: Event) -> None:
        if not self.db.claim(event):
            return
        handler = getattr(self, "_apply_" + event.type.replace(".", "_"))
        handler(event.data, event)
        self.db.commit()

    @event_handler("ticket.linked", "assignment.passed_down", "assignment.opinion_submitted",
                   "ticket.problem_flagged")
    def on_supervision_fact(self, event: Event) -> None:
        if not self.db.claim(event):
            return
        handler = getattr(self, "_apply_" + event.type.replace(".", "_"))
        handler(event.data, event)
        self.db.commit()
