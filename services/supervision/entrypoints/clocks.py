"""The assignments' clocks (时限): started when a round is dispatched, moved by the sign,
the reply, 下派 and 协办 opinions (the facts dispatch reports). Deadlines come from the
SLA policy (:mod:`..policy`), thresholds from :mod:`..urging`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.supervision import domain, urging
from services.supervision.entrypoints.base import OutOfOrder, SupervisionBase, _view
from services.supervision.models import Clock, TicketState
from shared.events import Event


class ClockEntrypoints(SupervisionBase):
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
            clock = Clock(assignment_id=a["assignment_id"], ticket_no=d["ticket_no"],
                          department_code=a["department_code"], role=a["role"],
                          policy=clocks.policy, started_at=d["dispatched_at"],
                          sign_due=clocks.sign_due, handle_due=clocks.handle_due,
                          sign_warn_at=urging.warn_at(d["dispatched_at"], clocks.sign_due),
                          handle_warn_at=urging.warn_at(d["dispatched_at"], clocks.handle_due),
                          return_due=self.policy.return_window.after(d["dispatched_at"], calendar),
                          overdue=False)
            clock.next_check_at = urging.next_check(_view(clock), d["dispatched_at"])
            session.add(clock)
            self.db.emit("assignment.clocks_started", {
                "assignment_id": a["assignment_id"], "ticket_no": d["ticket_no"],
                "department_code": a["department_code"], "role": a["role"],
                "started_at": d["dispatched_at"], "sign_due": clocks.sign_due,
                "handle_due": clocks.handle_due, "policy": clocks.policy},
                ticket_no=d["ticket_no"])

    def _apply_assignment_signed(self, d: dict[str, Any], event: Event) -> None:
        clock = self._clock_or_retry(d["assignment_id"])
        clock.signed_at = clock.signed_at or d["signed_at"]
        # a clock that stopped (returned, passed down, recalled) is not urged again
        clock.next_check_at = None if clock.stopped_at is not None else \
            urging.next_check(_view(clock), d["signed_at"])
        state = self._state_or_retry(d["ticket_no"])
        if clock.stopped_at is not None and self._round_after(
                clock.ticket_no, clock.started_at, [clock.assignment_id]):
            return  # a late sign of a withdrawn round: kept on its clock, the next round's own
        if d["role"] == "lead" and domain.can("lead_sign", state.status):
            self._move(state, "lead_sign", d["actor"], f"{d['department_code']} 签收 signed")
        elif d["role"] == "lead" and state.status == "return_requested":
            pending = self._pending_return(d["ticket_no"])
            if pending is not None:  # a rejected return must come back to 办理中
                pending.status_before = "in_progress"

    def _apply_assignment_replied(self, d: dict[str, Any], event: Event) -> None:
        clock = self._clock_or_retry(d["assignment_id"])
        clock.replied_at = clock.replied_at or d["replied_at"]
        clock.next_check_at = urging.next_check(_view(clock), d["replied_at"])
        state = self._state_or_retry(d["ticket_no"])
        if clock.role == "lead" and state.status == "pending_dispatch":
            self._reinstate(state, clock, d["replied_at"])
        if clock.stopped_at is not None:
            return  # given back or passed down before it replied: kept on its clock only
        if state.status == "dispatched":
            raise OutOfOrder(f"reply of {d['ticket_no']} before its signature was applied")
        if clock.role == "lead" and state.status == "return_requested":
            self._withdraw_return(state, clock.assignment_id, d["replied_at"])
        if domain.can("lead_reply", state.status):
            self._move(state, "lead_reply", d["actor"], f"{d['department_code']} 答复 replied")
            state.replied_at = d["replied_at"]
            state.callback_due = self.policy.callback_due(d["replied_at"], self.calendar(self.db.session))
            # the lead's consolidated reply ends the round: an assistant that never sent its
            # opinion is no longer urged, and a later round (重办) does not revive its clock
            for other in self.db.session.scalars(select(Clock).where(
                    Clock.ticket_no == d["ticket_no"], Clock.assignment_id != clock.assignment_id,
                    Clock.replied_at.is_(None), Clock.stopped_at.is_(None))):
                other.stopped_at, other.next_check_at = d["replied_at"], None

    def _apply_assignment_passed_down(self, d: dict[str, Any], event: Event) -> None:
        """下派: the new assignment takes over the old clock as it is (deadlines, thresholds,
        return window, signature, overdue); the old clock stops."""
        session = self.db.session
        old = self._clock_or_retry(d["assignment_id"])
        if session.get(Clock, d["new_assignment_id"]) is None:
            new = Clock(assignment_id=d["new_assignment_id"], ticket_no=old.ticket_no,
                        department_code=d["to_department"], role=d["role"], policy=old.policy,
                        started_at=old.started_at, sign_due=old.sign_due,
                        handle_due=old.handle_due, signed_at=old.signed_at,
                        sign_warn_at=old.sign_warn_at, handle_warn_at=old.handle_warn_at,
                        return_due=old.return_due, overdue=old.overdue)
            # thresholds the old department was already urged for are not urged again
            new.next_check_at = urging.next_check(_view(new), d["at"])
            session.add(new)
            self.db.emit("assignment.clocks_started", {
                "assignment_id": new.assignment_id, "ticket_no": new.ticket_no,
                "department_code": new.department_code, "role": new.role,
                "started_at": new.started_at, "sign_due": new.sign_due,
                "handle_due": new.handle_due, "policy": new.policy}, ticket_no=new.ticket_no)
        old.stopped_at = old.stopped_at or d["at"]
        old.next_check_at = None

    def _apply_assignment_opinion_submitted(self, d: dict[str, Any], event: Event) -> None:
        """协办意见: the assist's answer is its opinion; its handling clock stops like a reply."""
        clock = self._clock_or_retry(d["assignment_id"])
        if clock.role != "assist":  # only the lead's reply stops the lead's clock
            return
        clock.replied_at = clock.replied_at or d["submitted_at"]
        clock.next_check_at = urging.next_check(_view(clock), d["submitted_at"])
