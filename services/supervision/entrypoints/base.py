"""What several of supervision's entrypoint mixins share: the order's status moves, the
lookups that 404 or retry, and the few statements and helpers more than one area uses.

Every mixin of :class:`services.supervision.service.SupervisionService` derives from
:class:`SupervisionBase`; the dependencies (``self.db``, ``self.calendar``,
``self.policy``, ``self.settings``, ``self.instruction_policy``) are declared on the
service class, and a mixin may call another area's helpers through ``self`` (they are
one class at run time).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, text

from services.supervision import domain, urging
from services.supervision.models import Clock, TicketState, Transition
from shared.errors import Invalid, NotFound
from shared.events import utcnow
from shared.logs import bind
from shared.types import UtcDateTime

# One statement, no savepoint, the same on SQLite ≥ 3.35 and PostgreSQL: of two instances
# sweeping at once, the second inserts nothing (PostgreSQL makes it wait for the first's commit).
_CLAIM_URGE = text(
    "INSERT INTO urge (ticket_no, assignment_id, department_code, clock, kind, channel, "
    "issued_at, issuer, note, auto_key) VALUES (:ticket_no, :assignment_id, :department_code, "
    ":clock, :kind, :channel, :issued_at, :issuer, :note, :auto_key) "
    "ON CONFLICT (auto_key) DO NOTHING RETURNING id"
).bindparams(bindparam("issued_at", type_=UtcDateTime()))

_MAX_SWEEP_BATCHES = 100_000  # a bound on one sweep's loop; each batch advances its clocks


def _view(c: Any) -> urging.ClockView:
    return urging.ClockView(
        started_at=c.started_at, sign_due=c.sign_due, handle_due=c.handle_due,
        sign_warn_at=c.sign_warn_at or c.sign_due, handle_warn_at=c.handle_warn_at or c.handle_due,
        signed_at=c.signed_at, replied_at=c.replied_at)


def _parse_instant(text_: str) -> datetime:
    try:
        at = datetime.fromisoformat(text_.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid.fields({"now": ["不是合法的时间 not an ISO-8601 instant"]}) from None
    if at.tzinfo is None:
        raise Invalid.fields({"now": ["须带时区 must carry a time zone"]})
    return at


class OutOfOrder(Exception):
    """A fact arrived before the fact it depends on; retried later."""


class SupervisionBase:
    """The helpers several areas use; the dependencies are the service class's."""

    db: Any
    calendar: Any
    policy: Any
    settings: Any

    def _new_state(self, ticket_no: str, category: str, urgency: str) -> TicketState:
        state = TicketState(ticket_no=ticket_no, status=None, category=category, urgency=urgency,
                            updated_at=utcnow())
        self.db.session.add(state)
        return state

    def _move(self, state: TicketState, action: str, actor: str, reason: str | None,
              target: str | None = None) -> None:
        before = state.status
        state.status = domain.transition(action, before)
        if target is not None:  # the action is allowed; where it lands depends on history
            state.status = target
        now = utcnow()
        state.updated_at = now
        self.db.session.add(Transition(ticket_no=state.ticket_no, from_status=before,
                                       to_status=state.status, at=now, actor=actor, reason=reason))
        self.db.emit("ticket.status_changed", {
            "ticket_no": state.ticket_no, "from_status": before, "to_status": state.status,
            "at": now, "actor": actor, "reason": reason}, ticket_no=state.ticket_no)

    def _close(self, state: TicketState, actor: str, reason: str, note: str | None) -> None:
        self._move(state, "close", actor, note or reason)
        state.closed_at, state.close_reason = utcnow(), reason
        # a closed order leaves the open ledger: no clock of it is urged or marked overdue again
        for clock in self.db.session.scalars(select(Clock).where(
                Clock.ticket_no == state.ticket_no, Clock.replied_at.is_(None),
                Clock.stopped_at.is_(None))):
            clock.stopped_at, clock.next_check_at = state.closed_at, None
        self.db.emit("ticket.closed", {"ticket_no": state.ticket_no, "closed_at": state.closed_at,
                                       "actor": actor, "reason": reason}, ticket_no=state.ticket_no)

    def _state(self, ticket_no: str) -> TicketState:
        state = self.db.session.get(TicketState, ticket_no)
        if state is None:
            raise NotFound(f"工单不存在 order {ticket_no} not found", {"ticket_no": ticket_no})
        return state

    def _state_or_retry(self, ticket_no: str) -> TicketState:
        state = self.db.session.get(TicketState, ticket_no)
        if state is None:
            raise OutOfOrder(f"no state yet for {ticket_no}")
        return state

    def _clock_or_retry(self, assignment_id: int) -> Clock:
        clock = self.db.session.get(Clock, assignment_id)
        if clock is None:
            raise OutOfOrder(f"no clock yet for assignment {assignment_id}")
        return clock

    def _round_after(self, ticket_no: str, at: datetime, exclude: list[int]) -> bool:
        """Whether a round of this order was dispatched after ``at``: a clock (other than
        ``exclude``) started later. A passed-down clock keeps its old start, so 下派 is not a
        new round."""
        return self.db.session.scalar(select(Clock.assignment_id).where(
            Clock.ticket_no == ticket_no, Clock.assignment_id.not_in(exclude),
            Clock.started_at > at).limit(1)) is not None

    def _own_clock(self, assignment_id: int, department_code: str) -> Clock:
        """The clock of a department's own assignment; another department's is not found."""
        clock = self.db.session.get(Clock, assignment_id)
        if clock is None or clock.department_code != department_code:
            raise NotFound(f"任务不存在 assignment {assignment_id} not found",
                           {"assignment_id": assignment_id})
        bind(ticket_no=clock.ticket_no)
        return clock
