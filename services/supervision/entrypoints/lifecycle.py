"""The order's lifecycle status (DOMAIN.md §3): intake's facts, 办结 and 重办 by hand, and
the reads of an order's whole state. The transitions are in :mod:`..domain`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.supervision import domain
from services.supervision.entrypoints.base import SupervisionBase
from services.supervision.models import (
    Callback,
    Clock,
    Extension,
    ReturnRequest,
    TicketState,
    Transition,
    Urge,
)
from services.supervision.schemas import (
    CallbackRecordSchema,
    ClockSchema,
    CloseSchema,
    ExtensionRecordSchema,
    ReopenSchema,
    ReturnRecordSchema,
    StateSchema,
    TransitionSchema,
    UrgeRecordSchema,
)
from shared.database import translate_db_errors
from shared.errors import load_or_invalid
from shared.events import Event, utcnow
from shared.logs import bind
from shared.rpc import rpc


class LifecycleEntrypoints(SupervisionBase):
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

    def _apply_ticket_resolved_at_intake(self, d: dict[str, Any], event: Event) -> None:
        state = self._state_or_retry(d["ticket_no"])
        if domain.can("resolve_at_intake", state.status):
            self._move(state, "resolve_at_intake", d["actor"], "直接办结 resolved at intake")

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

    @rpc
    @translate_db_errors
    def reopen(self, ticket_no: str, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """重办 by a supervisor: a replied order goes back to its lead department, the same path
        as an unsatisfied callback (dispatch opens a new round on ``ticket.reopened``)."""
        form = load_or_invalid(ReopenSchema(), payload or {})
        bind(ticket_no=ticket_no)
        state = self._state(ticket_no)
        self._move(state, "reopen", actor, f"重办 reopened: {form['reason']}")
        self.db.emit("ticket.reopened", {"ticket_no": ticket_no, "at": utcnow(), "actor": actor,
                                         "reason": form["reason"]}, ticket_no=ticket_no)
        self.db.commit()
        return StateSchema().dump(state)

    @rpc
    @translate_db_errors
    def get_state(self, ticket_no: str) -> dict[str, Any]:
        """Status, clocks, history and callbacks of one order, read in one snapshot."""
        session = self.db.snapshot()
        state = self._state(ticket_no)
        clocks = session.scalars(select(Clock).where(Clock.ticket_no == ticket_no)
                                 .order_by(Clock.assignment_id))
        history = session.scalars(select(Transition).where(Transition.ticket_no == ticket_no)
                                  .order_by(Transition.id))
        callbacks = session.scalars(select(Callback).where(Callback.ticket_no == ticket_no)
                                    .order_by(Callback.id))
        urges = session.scalars(select(Urge).where(Urge.ticket_no == ticket_no).order_by(Urge.id))
        extensions = session.scalars(select(Extension).where(Extension.ticket_no == ticket_no)
                                     .order_by(Extension.id))
        returns = session.scalars(select(ReturnRequest).where(ReturnRequest.ticket_no == ticket_no)
                                  .order_by(ReturnRequest.id))
        return {**StateSchema().dump(state),
                "clocks": ClockSchema(many=True).dump(list(clocks)),
                "history": TransitionSchema(many=True).dump(list(history)),
                "callbacks": CallbackRecordSchema(many=True).dump(list(callbacks)),
                "urges": UrgeRecordSchema(many=True).dump(list(urges)),
                "extensions": ExtensionRecordSchema(many=True).dump(list(extensions)),
                "returns": ReturnRecordSchema(many=True).dump(list(returns)),
                **self._supervision_state(ticket_no)}

    @rpc
    @translate_db_errors
    def states_of(self, ticket_nos: list[str]) -> dict[str, str]:
        rows = self.db.session.execute(select(TicketState.ticket_no, TicketState.status)
                                       .where(TicketState.ticket_no.in_(ticket_nos)))
        return {no: status for no, status in rows}
