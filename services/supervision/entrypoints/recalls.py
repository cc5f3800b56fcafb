"""撤回派单 (改派): the center withdrew an order's current dispatch round before its lead
replied (``ticket.recalled``, dispatch's fact). The recalled assignments stop as a returned
one does; their pending 延期 and 退单 requests lapse (neither approved nor rejected); their
open 督办单 close without escalation; the order goes back to 待派单 unless the recall is stale
(:func:`services.supervision.domain.recall_moves`). A later dispatch starts fresh clocks."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from services.supervision import domain
from services.supervision.entrypoints.base import OutOfOrder, SupervisionBase
from services.supervision.models import (
    Clock,
    Extension,
    ReturnRequest,
    SupervisionOrder,
    TicketState,
)
from shared.events import Event

log = logging.getLogger(__name__)


class RecallEntrypoints(SupervisionBase):
    def _apply_ticket_recalled(self, d: dict[str, Any], event: Event) -> None:
        session = self.db.session
        # PostgreSQL: the order, then the round's clocks, locked until this commits, so that a
        # center's decision or a department's request on them at the same moment waits and
        # then finds them stopped (decide_extension and request_extension lock the clock)
        state = session.get(TicketState, d["ticket_no"], with_for_update=True,
                            populate_existing=True)
        if state is None:
            raise OutOfOrder(f"no state yet for {d['ticket_no']}")
        ids = list(dict.fromkeys(d["assignment_ids"]))
        clocks = list(session.scalars(select(Clock).where(Clock.assignment_id.in_(ids))
                                      .order_by(Clock.assignment_id).with_for_update()
                                      .execution_options(populate_existing=True)))
        missing = set(ids) - {c.assignment_id for c in clocks}
        if missing:  # each is started by its dispatch (or 下派) fact
            raise OutOfOrder(f"no clock yet for assignment {min(missing)}")
        at = d["at"]
        for clock in clocks:  # one that had answered (an assist's opinion) keeps its answer
            if clock.replied_at is None and clock.stopped_at is None:
                clock.stopped_at, clock.next_check_at = at, None
        note = f"派单已撤回，申请失效 lapsed: the dispatch was recalled ({d['reason']})"[:500]
        lapsing = [*session.scalars(select(Extension).where(
                       Extension.assignment_id.in_(ids), Extension.state == "pending")),
                   *session.scalars(select(ReturnRequest).where(
                       ReturnRequest.assignment_id.in_(ids), ReturnRequest.state == "pending"))]
        for request in lapsing:  # neither approved nor rejected: no longer anyone's to decide
            request.state, request.decided_at, request.decided_by = domain.LAPSED, at, "system"
            request.decision_note = note
        for order in session.scalars(select(SupervisionOrder).where(
                SupervisionOrder.assignment_id.in_(ids), SupervisionOrder.escalated_at.is_(None),
                SupervisionOrder.resolved_at.is_(None))):
            order.resolved_at = at  # nothing is left to explain, nobody to escalate
        later = self._round_after(state.ticket_no, at, ids)
        if domain.recall_moves(state.status, later):
            self._move(state, "recall", d["actor"],
                       f"第{d['round']}轮派单撤回 dispatch round {d['round']} recalled: "
                       f"{d['reason']}"[:500])
        else:
            log.warning("stale recall ignored: the order stays as it is", extra={
                "event_id": event.event_id, "ticket_no": state.ticket_no,
                "status": state.status, "round": d["round"], "later_round": later})
