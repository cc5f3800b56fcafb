"""Supervision service (督办): the order's lifecycle status, clocks, callbacks and closure.

It is the single source of truth for an order's status (DOMAIN.md §3). Facts from intake and
dispatch arrive as events on one queue, so they are applied roughly in the order they
happened; a fact that arrives before the one it depends on (a signature before its dispatch)
raises :class:`OutOfOrder` and is retried with backoff rather than applied to missing state.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.supervision import domain
from services.supervision.dependencies import Calendar, Policy
from services.supervision.models import Callback, Clock, TicketState, Transition, metadata
from services.supervision.schemas import (
    CallbackRecordSchema,
    CallbackSchema,
    ClockSchema,
    CloseSchema,
    StateSchema,
    TransitionSchema,
)
from shared.database import Database, translate_db_errors
from shared.errors import NotFound, load_or_invalid
from shared.events import Event, utcnow
from shared.logs import LogContext, bind
from shared.messaging import event_handler
from shared.operations import Operations
from shared.rpc import rpc


class OutOfOrder(Exception):
    """A fact arrived before the fact it depends on; retried later."""


class SupervisionService(Operations):
    name = "supervision"

    db = Database(metadata)
    calendar = Calendar()
    policy = Policy()
    log_context = LogContext()

    # -- lifecycle facts ---------------------------------------------------------------------
    @event_handler("ticket.registered", "ticket.pending_dispatch", "ticket.dispatched",
                   "assignment.signed", "assignment.replied", "ticket.resolved_at_intake")
    def on_lifecycle_fact(self, event: Event) -> None:
        if not self.db.claim(event):
            return
        handler = getattr(self, "_apply_" + event.type.replace(".", "_"))
        handler(event.data, event)
        self.db.commit()

    def _apply_ticket_registered(self, d: dict[str, Any], event: Event) -> None:
        state = self.db.session.get(TicketState, d["ticket_no"])
        if state is None:
            state = self._new_state(d["ticket_no"], d["category"], d["urgency"])
            self._move(state, "register", d.get("agent") or "system", "登记 registered")
        state.registered_at = d["registered_at"]
        state.confidential = d["confidential"]

    def _apply_ticket_pending_dispatch(self, d: dict[str, Any], event: Event) -> None:
        state = self._state_or_retry(d["ticket_no"])
        if domain.can("await_dispatch", state.status):
            self._move(state, "await_dispatch", "system", d["reason"])

    def _apply_ticket_dispatched(self, d: dict[str, Any], event: Event) -> None:
        session = self.db.session
        state = session.get(TicketState, d["ticket_no"])
        if state is None:  # dispatch was faster than intake's event: start from this fact
            state = self._new_state(d["ticket_no"], d["category"], d["urgency"])
            self._move(state, "register", "system", "登记 registered")
        if domain.can("dispatch", state.status):
            self._move(state, "dispatch", d["actor"], f"第{d['round']}轮派单 dispatch round {d['round']}")
        calendar = self.calendar(session)
        clocks = self.policy.clocks(d["category"], d["urgency"], d["dispatched_at"], calendar)
        for a in d["assignments"]:
            if session.get(Clock, a["assignment_id"]) is not None:
                continue
            session.add(Clock(assignment_id=a["assignment_id"], ticket_no=d["ticket_no"],
                              department_code=a["department_code"], role=a["role"],
                              policy=clocks.policy, started_at=d["dispatched_at"],
                              sign_due=clocks.sign_due, handle_due=clocks.handle_due))
            self.db.emit("assignment.clocks_started", {
                "assignment_id": a["assignment_id"], "ticket_no": d["ticket_no"],
                "department_code": a["department_code"], "role": a["role"],
                "started_at": d["dispatched_at"], "sign_due": clocks.sign_due,
                "handle_due": clocks.handle_due, "policy": clocks.policy},
                ticket_no=d["ticket_no"])

    def _apply_assignment_signed(self, d: dict[str, Any], event: Event) -> None:
        clock = self._clock_or_retry(d["assignment_id"])
        clock.signed_at = clock.signed_at or d["signed_at"]
        state = self._state_or_retry(d["ticket_no"])
        if d["role"] == "lead" and domain.can("lead_sign", state.status):
            self._move(state, "lead_sign", d["actor"], f"{d['department_code']} 签收 signed")

    def _apply_assignment_replied(self, d: dict[str, Any], event: Event) -> None:
        clock = self._clock_or_retry(d["assignment_id"])
        clock.replied_at = clock.replied_at or d["replied_at"]
        state = self._state_or_retry(d["ticket_no"])
        if state.status == "dispatched":
            raise OutOfOrder(f"reply of {d['ticket_no']} before its signature was applied")
        if domain.can("lead_reply", state.status):
            self._move(state, "lead_reply", d["actor"], f"{d['department_code']} 答复 replied")
            state.replied_at = d["replied_at"]
            state.callback_due = self.policy.callback_due(d["replied_at"], self.calendar(self.db.session))

    def _apply_ticket_resolved_at_intake(self, d: dict[str, Any], event: Event) -> None:
        state = self._state_or_retry(d["ticket_no"])
        if domain.can("resolve_at_intake", state.status):
            self._move(state, "resolve_at_intake", d["actor"], "直接办结 resolved at intake")

    # -- commands ------------------------------------------------------------------------------
    @rpc
    @translate_db_errors
    def record_callback(self, ticket_no: str, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """回访: record one callback; a satisfied citizen closes the order."""
        form = load_or_invalid(CallbackSchema(), payload)
        bind(ticket_no=ticket_no)
        state = self._state(ticket_no)
        domain.check_callback(state.status, form["reached"], form["solved"], form["satisfaction"])
        now = utcnow()
        self.db.session.add(Callback(ticket_no=ticket_no, at=now, actor=actor, **form))
        self.db.emit("ticket.callback_recorded", {"ticket_no": ticket_no, "at": now,
                                                  "actor": actor, **form}, ticket_no=ticket_no)
        if domain.callback_closes(form["reached"], form["solved"], form["satisfaction"]):
            self._close(state, actor, "callback", "回访满意 satisfied at callback")
        self.db.commit()
        return StateSchema().dump(state)

    @rpc
    @translate_db_errors
    def close(self, ticket_no: str, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """办结 by hand: only after a reply (or an intake resolution) is recorded."""
        form = load_or_invalid(CloseSchema(), payload or {})
        bind(ticket_no=ticket_no)
        state = self._state(ticket_no)
        self._close(state, actor, form["reason"], form["note"])
        self.db.commit()
        return StateSchema().dump(state)

    # -- queries -------------------------------------------------------------------------------
    @rpc
    @translate_db_errors
    def get_state(self, ticket_no: str) -> dict[str, Any]:
        """Status, clocks, history and callbacks of one order."""
        session = self.db.session
        state = self._state(ticket_no)
        clocks = session.scalars(select(Clock).where(Clock.ticket_no == ticket_no)
                                 .order_by(Clock.assignment_id))
        history = session.scalars(select(Transition).where(Transition.ticket_no == ticket_no)
                                  .order_by(Transition.id))
        callbacks = session.scalars(select(Callback).where(Callback.ticket_no == ticket_no)
                                    .order_by(Callback.id))
        return {**StateSchema().dump(state),
                "clocks": ClockSchema(many=True).dump(list(clocks)),
                "history": TransitionSchema(many=True).dump(list(history)),
                "callbacks": CallbackRecordSchema(many=True).dump(list(callbacks))}

    @rpc
    @translate_db_errors
    def states_of(self, ticket_nos: list[str]) -> dict[str, str]:
        rows = self.db.session.execute(select(TicketState.ticket_no, TicketState.status)
                                       .where(TicketState.ticket_no.in_(ticket_nos)))
        return {no: status for no, status in rows}

    # -- helpers ---------------------------------------------------------------------------------
    def _new_state(self, ticket_no: str, category: str, urgency: str) -> TicketState:
        state = TicketState(ticket_no=ticket_no, status=None, category=category, urgency=urgency,
                            updated_at=utcnow())
        self.db.session.add(state)
        return state

    def _move(self, state: TicketState, action: str, actor: str, reason: str | None) -> None:
        before = state.status
        state.status = domain.transition(action, before)
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
