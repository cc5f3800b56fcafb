"""Supervision service (督办): the order's lifecycle status, clocks, callbacks and closure.

It is the single source of truth for an order's status (DOMAIN.md §3). Facts from intake and
dispatch arrive as events on one queue, so they are applied roughly in the order they
happened; a fact that arrives before the one it depends on (a signature before its dispatch)
raises :class:`OutOfOrder` and is retried with backoff rather than applied to missing state.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import eventlet
from nameko.dependency_providers import Config
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import Session

from services.supervision import domain, supervising, urging
from services.supervision.dependencies import Calendar, Policy, sweep_timer
from services.supervision.models import (
    Callback,
    CallerLink,
    Clock,
    Extension,
    ProblemFlag,
    Recheck,
    ReturnRequest,
    SupervisionOrder,
    TicketState,
    Transition,
    Urge,
    metadata,
)
from services.supervision.schemas import (
    CallbackRecordSchema,
    CallbackSchema,
    CallerLinkRecordSchema,
    ClockSchema,
    CloseSchema,
    ExplanationSchema,
    ExtensionDecisionSchema,
    ExtensionRecordSchema,
    ExtensionRequestSchema,
    LinkedCallbackSchema,
    ProblemFlagRecordSchema,
    RecheckRecordSchema,
    RecheckResultSchema,
    RecheckSchema,
    ReopenSchema,
    ReturnDecisionSchema,
    ReturnRecordSchema,
    ReturnRequestSchema,
    StateSchema,
    SuperviseSchema,
    SupervisionOrderRecordSchema,
    TransitionSchema,
    UrgeAnswerSchema,
    UrgeRecordSchema,
    UrgeSchema,
)
from shared.database import Database, translate_db_errors
from shared.errors import Conflict, Invalid, NotFound, load_or_invalid
from shared.events import Event, utcnow
from shared.logs import LogContext, bind
from shared.messaging import event_handler
from shared.operations import Operations
from shared.rpc import rpc
from shared.types import UtcDateTime
from shared.vocabulary import STATUSES

# One statement, no savepoint, the same on SQLite ≥ 3.35 and PostgreSQL: of two instances
# sweeping at once, the second inserts nothing (PostgreSQL makes it wait for the first's commit).
_CLAIM_URGE = text(
    "INSERT INTO urge (ticket_no, assignment_id, department_code, clock, kind, channel, "
    "issued_at, issuer, note, auto_key) VALUES (:ticket_no, :assignment_id, :department_code, "
    ":clock, :kind, :channel, :issued_at, :issuer, :note, :auto_key) "
    "ON CONFLICT (auto_key) DO NOTHING RETURNING id"
).bindparams(bindparam("issued_at", type_=UtcDateTime()))

# the same claim for the one automatic 督办单 of an assignment (its handling breach)
_CLAIM_SUPERVISION = text(
    "INSERT INTO supervision_order (ticket_no, assignment_id, department_code, source, "
    "opened_at, opened_by, note, explanation_due, escalate_at, auto_key) VALUES (:ticket_no, "
    ":assignment_id, :department_code, :source, :opened_at, :opened_by, :note, "
    ":explanation_due, :escalate_at, :auto_key) ON CONFLICT (auto_key) DO NOTHING RETURNING id"
).bindparams(bindparam("opened_at", type_=UtcDateTime()),
             bindparam("explanation_due", type_=UtcDateTime()),
             bindparam("escalate_at", type_=UtcDateTime()))

# -- leader instructions 领导批示件 --
from services.supervision import instructions  # noqa: E402
from services.supervision.dependencies import InstructionPolicy  # noqa: E402
from services.supervision.models import (  # noqa: E402
    Instruction,
    InstructionAction,
    InstructionFeedback,
    InstructionTicket,
    InstructionUnit,
    InstructionUrge,
)
from services.supervision.schemas import (  # noqa: E402
    InstructionActionRecordSchema,
    InstructionDecisionSchema,
    InstructionFeedbackRecordSchema,
    InstructionFeedbackSchema,
    InstructionListSchema,
    InstructionReclassifySchema,
    InstructionRecordSchema,
    InstructionRegistrationSchema,
    InstructionSummaryQuerySchema,
    InstructionUnitRecordSchema,
    InstructionUrgeRecordSchema,
    InstructionUrgeSchema,
)
from shared.business_time import BUSINESS_TZ, business_day  # noqa: E402

# the yearly number, like intake's daily sequence: atomic, committed with the instruction
_NEXT_INSTRUCTION_SEQ = text(
    'INSERT INTO instruction_sequence (year, "last") VALUES (:year, 1) '
    'ON CONFLICT (year) DO UPDATE SET "last" = instruction_sequence."last" + 1 RETURNING "last"')
# the claim of one automatic urge per share and deadline (as _CLAIM_URGE)
_CLAIM_INSTRUCTION_URGE = text(
    "INSERT INTO instruction_urge (instruction_id, unit_id, department_code, due, issued_at, "
    "issuer, kind, channel, claim_key) VALUES (:instruction_id, :unit_id, :department_code, "
    ":due, :issued_at, 'system', 'auto', 'system', :claim_key) "
    "ON CONFLICT (claim_key) DO NOTHING RETURNING id"
).bindparams(bindparam("due", type_=UtcDateTime()), bindparam("issued_at", type_=UtcDateTime()))
# the office's view: the supervision office sees every instruction
_OFFICE: dict[str, Any] = {"role": "supervisor", "department_code": None, "via": "token"}


# The deadline sweep works on batches of clocks with a few set-based statements per batch (claim
# every passed threshold in one INSERT … ON CONFLICT DO NOTHING RETURNING, the events in one bulk
# outbox insert, every clock's next check in one UPDATE), so a sweep over a large backlog costs a
# handful of statements per batch instead of several per clock. The rows travel as one JSON
# document (json_each on SQLite, json_array_elements on PostgreSQL): one short statement with
# one parameter, not thousands of bound values for the driver and SQLAlchemy to process one by
# one. Urges are claimed in the sweep's one order (next check, assignment), the same on every
# instance: of two instances sweeping at once, the second waits on the first's claims and then
# inserts nothing (its UPDATE of the same clocks writes the same values).
_MAX_SWEEP_BATCHES = 100_000  # a bound on one sweep's loop; each batch advances its clocks
_CLAIM_URGES = {
    "sqlite": text(
        "INSERT INTO urge (ticket_no, assignment_id, department_code, clock, kind, channel, "
        "issued_at, issuer, note, auto_key) SELECT json_extract(value, '$[0]'), "
        "json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'), "
        "json_extract(value, '$[4]'), 'system', :issued_at, 'system', NULL, "
        "json_extract(value, '$[5]') FROM json_each(:rows) WHERE true ORDER BY key "
        "ON CONFLICT (auto_key) DO NOTHING RETURNING id, auto_key"
    ).bindparams(bindparam("issued_at", type_=UtcDateTime())),
    "postgresql": text(
        "INSERT INTO urge (ticket_no, assignment_id, department_code, clock, kind, channel, "
        "issued_at, issuer, note, auto_key) SELECT r->>0, CAST(r->>1 AS INTEGER), r->>2, r->>3, "
        "r->>4, 'system', :issued_at, 'system', NULL, r->>5 "
        "FROM json_array_elements(CAST(:rows AS JSON)) WITH ORDINALITY AS x (r, ord) "
        "ORDER BY ord ON CONFLICT (auto_key) DO NOTHING RETURNING id, auto_key"
    ).bindparams(bindparam("issued_at", type_=UtcDateTime())),
}
_ADVANCE_CLOCKS = {  # rows [assignment id, next check or null, breached now]
    "sqlite": text(
        "UPDATE clock SET next_check_at = json_extract(v.value, '$[1]'), "
        "overdue = (clock.overdue OR json_extract(v.value, '$[2]')) FROM json_each(:rows) AS v "
        "WHERE clock.assignment_id = json_extract(v.value, '$[0]')"),
    "postgresql": text(
        "UPDATE clock SET next_check_at = CAST(v.r->>1 AS TIMESTAMP WITH TIME ZONE), "
        "overdue = clock.overdue OR CAST(v.r->>2 AS BOOLEAN) "
        "FROM json_array_elements(CAST(:rows AS JSON)) AS v (r) "
        "WHERE clock.assignment_id = CAST(v.r->>0 AS INTEGER)"),
}


def _claim_urges(session: Session, claims: list[tuple[Any, urging.Threshold]],
                 now: datetime) -> dict[str, int]:
    """Insert the automatic urges of ``claims`` (clock row, threshold); ``auto_key → urge id``
    of those inserted here. Of two instances claiming at once, the second inserts nothing."""
    if not claims:
        return {}
    rows = json.dumps([(row.ticket_no, row.assignment_id, row.department_code, t.clock, t.kind,
                        urging.auto_key(row.assignment_id, t.clock, t.kind))
                       for row, t in claims])
    statement = _CLAIM_URGES[session.get_bind().dialect.name]
    return {key: urge_id for urge_id, key in
            session.execute(statement, {"issued_at": now, "rows": rows})}


def _advance_clocks(session: Session, nexts: list[tuple[int, datetime | None]],
                    breached: set[int]) -> None:
    """Set every swept clock's next check (None: nothing left to urge) and mark those breached
    in this batch overdue, in one pass over the rows."""
    if not nexts:
        return
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        stored: Any = lambda at: at.isoformat()  # noqa: E731
    else:  # the column's own storage form on SQLite (UtcDateTime: naive UTC, DATETIME's text)
        column = UtcDateTime()
        text_of = dialect.type_descriptor(column.impl).bind_processor(dialect)
        stored = lambda at: text_of(column.process_bind_param(at, dialect))  # noqa: E731
    rows = json.dumps([(i, None if at is None else stored(at), i in breached)
                       for i, at in nexts])
    session.execute(_ADVANCE_CLOCKS[dialect.name], {"rows": rows})


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


class SupervisionService(Operations):
    name = "supervision"

    db = Database(metadata)
    calendar = Calendar()
    policy = Policy()
    settings = Config()
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
        clock.next_check_at = urging.next_check(_view(clock), d["signed_at"])
        state = self._state_or_retry(d["ticket_no"])
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

    def _apply_ticket_resolved_at_intake(self, d: dict[str, Any], event: Event) -> None:
        state = self._state_or_retry(d["ticket_no"])
        if domain.can("resolve_at_intake", state.status):
            self._move(state, "resolve_at_intake", d["actor"], "直接办结 resolved at intake")

    # -- commands ------------------------------------------------------------------------------
    @rpc
    @translate_db_errors
    def record_callback(self, ticket_no: str, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """回访: record one callback, then close, reopen (重办) or wait for the next attempt."""
        if isinstance(payload, dict) and payload.get("link_id") is not None:
            return self._record_linked_callback(ticket_no, payload, actor)  # a linked caller
        form = load_or_invalid(CallbackSchema(), payload)
        attributable = form.pop("attributable")
        bind(ticket_no=ticket_no)
        session = self.db.session
        state = self._state(ticket_no)
        domain.check_callback(state.status, form["reached"], form["solved"], form["satisfaction"])
        unreached = session.scalar(select(func.count()).select_from(Callback).where(
            Callback.ticket_no == ticket_no, Callback.reached.is_(False),
            Callback.at >= state.replied_at)) or 0
        now = utcnow()
        session.add(Callback(ticket_no=ticket_no, at=now, actor=actor, **form))
        self.db.emit("ticket.callback_recorded", {"ticket_no": ticket_no, "at": now,
                                                  "actor": actor, **form}, ticket_no=ticket_no)
        outcome = domain.callback_outcome(form["reached"], form["satisfaction"], attributable,
                                          int(unreached))
        if outcome == "close":
            self._close(state, actor, "callback", "回访满意 satisfied at callback")
        elif outcome == "close_unsatisfied":
            self._close(state, actor, "callback_unsatisfied", "回访不满意（非承办单位原因）")
        elif outcome == "unreachable":
            self._close(state, actor, "unreachable",
                        f"{domain.MAX_CALLBACK_ATTEMPTS}次回访未接通 无法回访")
        elif outcome == "reopen":
            self._move(state, "reopen", actor, "回访不满意 重办 unsatisfied at callback")
            self.db.emit("ticket.reopened", {"ticket_no": ticket_no, "at": now, "actor": actor,
                                             "reason": form["note"] or "回访不满意"},
                         ticket_no=ticket_no)
        self.db.commit()
        return {**StateSchema().dump(state), "outcome": outcome}

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

    # -- extensions (延期) --
    @rpc
    @translate_db_errors
    def request_extension(self, assignment_id: int, department_code: str,
                          payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """延期申请 by the assignment's own department, before its handling deadline."""
        form = load_or_invalid(ExtensionRequestSchema(), payload)
        session = self.db.session
        clock = self._own_clock(assignment_id, department_code)
        now = utcnow()
        already = session.scalar(select(Extension.id).where(Extension.assignment_id == assignment_id))
        domain.check_extension_request(clock.replied_at is not None, now, clock.handle_due,
                                       already is not None, form["days"],
                                       self.policy.extension_max.amount,
                                       stopped=clock.stopped_at is not None)
        ext = Extension(ticket_no=clock.ticket_no, assignment_id=assignment_id,
                        department_code=department_code, days=form["days"], reason=form["reason"],
                        requested_at=now, requested_by=actor, state="pending",
                        old_due=clock.handle_due)
        session.add(ext)
        session.flush()
        self.db.emit("assignment.extension_requested", {
            "extension_id": ext.id, "assignment_id": assignment_id, "ticket_no": clock.ticket_no,
            "department_code": department_code, "days": ext.days, "reason": ext.reason,
            "at": now, "actor": actor}, ticket_no=clock.ticket_no)
        self.db.commit()
        return ExtensionRecordSchema().dump(ext)

    @rpc
    @translate_db_errors
    def decide_extension(self, extension_id: int, payload: dict[str, Any],
                         actor: str) -> dict[str, Any]:
        """延期审批: approval moves the handling deadline once, by the days asked for."""
        form = load_or_invalid(ExtensionDecisionSchema(), payload)
        session = self.db.session
        ext = session.get(Extension, extension_id)
        if ext is None:
            raise NotFound(f"延期申请不存在 extension {extension_id} not found",
                           {"extension_id": extension_id})
        bind(ticket_no=ext.ticket_no)
        clock = session.get(Clock, ext.assignment_id)
        domain.check_extension_decision(ext.state, stopped=clock.stopped_at is not None)
        now = utcnow()
        ext.state = "approved" if form["approve"] else "rejected"
        ext.decided_at, ext.decided_by, ext.decision_note = now, actor, form["note"]
        if form["approve"]:
            calendar = self.calendar(session)
            # the old deadline is the end of its last day: the extra days follow that day
            ext.new_due = calendar.add_working_days(ext.old_due - timedelta(microseconds=1),
                                                    ext.days)
            clock.handle_due = ext.new_due
            clock.handle_warn_at = urging.warn_at(clock.started_at, ext.new_due)
            clock.overdue = clock.overdue and ext.new_due <= now
            clock.next_check_at = urging.next_check(_view(clock), now)
        self.db.emit("assignment.extension_decided", {
            "extension_id": ext.id, "assignment_id": ext.assignment_id, "ticket_no": ext.ticket_no,
            "department_code": ext.department_code, "approved": form["approve"],
            "old_due": ext.old_due, "new_due": ext.new_due, "at": now, "actor": actor,
            "note": form["note"]}, ticket_no=ext.ticket_no)
        self.db.commit()
        return ExtensionRecordSchema().dump(ext)

    # -- returns (退单) --
    @rpc
    @translate_db_errors
    def request_return(self, assignment_id: int, department_code: str,
                       payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """退单申请 by the lead department, within the return window, for the center to decide."""
        form = load_or_invalid(ReturnRequestSchema(), payload)
        session = self.db.session
        clock = self._own_clock(assignment_id, department_code)
        state = self._state(clock.ticket_no)
        now = utcnow()
        domain.check_return_request(clock.role, clock.replied_at is not None,
                                    clock.stopped_at is not None, now, clock.return_due,
                                    self._pending_return(clock.ticket_no) is not None)
        before = state.status
        self._move(state, "request_return", actor,
                   f"{department_code} 申请退单：{domain.RETURN_REASONS[form['reason_code']]}")
        req = ReturnRequest(ticket_no=clock.ticket_no, assignment_id=assignment_id,
                            department_code=department_code, reason_code=form["reason_code"],
                            basis=form["basis"], requested_at=now, requested_by=actor,
                            status_before=before, state="pending")
        session.add(req)
        session.flush()
        self.db.emit("assignment.return_requested", {
            "return_id": req.id, "assignment_id": assignment_id, "ticket_no": clock.ticket_no,
            "department_code": department_code, "reason_code": req.reason_code,
            "basis": req.basis, "at": now, "actor": actor}, ticket_no=clock.ticket_no)
        self.db.commit()
        return ReturnRecordSchema().dump(req)

    @rpc
    @translate_db_errors
    def decide_return(self, return_id: int, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """退单审定: approve → back to dispatch (the assignment's clocks stop); reject → the
        department keeps the order (counted as 无正当理由退件)."""
        form = load_or_invalid(ReturnDecisionSchema(), payload)
        session = self.db.session
        req = session.get(ReturnRequest, return_id)
        if req is None:
            raise NotFound(f"退单申请不存在 return {return_id} not found", {"return_id": return_id})
        bind(ticket_no=req.ticket_no)
        if req.state != "pending":
            raise Conflict(f"该退单申请已审定 (decision on a {req.state} return)",
                           {"action": "decide_return", "state": req.state})
        state = self._state(req.ticket_no)
        now = utcnow()
        req.state = "approved" if form["approve"] else "rejected"
        req.decided_at, req.decided_by, req.decision_note = now, actor, form["note"]
        if form["approve"]:
            self._move(state, "approve_return", actor, form["note"] or "同意退单 return approved")
            for clock in session.scalars(select(Clock).where(
                    Clock.ticket_no == req.ticket_no, Clock.replied_at.is_(None),
                    Clock.stopped_at.is_(None))):
                clock.stopped_at, clock.next_check_at = now, None
        else:
            self._move(state, "reject_return", actor, form["note"] or "驳回退单 return rejected",
                       target=domain.status_after_rejected_return(req.status_before))
        self.db.emit("assignment.return_decided", {
            "return_id": req.id, "assignment_id": req.assignment_id, "ticket_no": req.ticket_no,
            "department_code": req.department_code, "approved": form["approve"], "at": now,
            "actor": actor, "note": form["note"]}, ticket_no=req.ticket_no)
        self.db.commit()
        return ReturnRecordSchema().dump(req)

    def _own_clock(self, assignment_id: int, department_code: str) -> Clock:
        """The clock of a department's own assignment; another department's is not found."""
        clock = self.db.session.get(Clock, assignment_id)
        if clock is None or clock.department_code != department_code:
            raise NotFound(f"任务不存在 assignment {assignment_id} not found",
                           {"assignment_id": assignment_id})
        bind(ticket_no=clock.ticket_no)
        return clock

    def _withdraw_return(self, state: TicketState, assignment_id: int, at: datetime) -> None:
        """The lead replied while its return request was pending (the two crossed on the
        bus: dispatch took the reply before it heard of the return): the reply stands and the
        request is withdrawn, so nobody adjudicates a return of an order already answered."""
        ticket_no = state.ticket_no
        req = self._pending_return(ticket_no)
        if req is None or req.assignment_id != assignment_id:
            return
        if req.status_before != "in_progress":  # dispatch only takes a reply after the sign
            raise OutOfOrder(f"reply of {ticket_no} before its signature was applied")
        req.state, req.decided_at, req.decided_by = "withdrawn", at, "system"
        req.decision_note = "承办单位已答复，退单申请自动撤回 withdrawn by the reply"
        self._move(state, "withdraw_return", "system", req.decision_note, target="in_progress")
        self.db.emit("assignment.return_withdrawn", {
            "return_id": req.id, "assignment_id": assignment_id, "ticket_no": ticket_no,
            "department_code": req.department_code, "at": at,
            "reason": req.decision_note}, ticket_no=ticket_no)

    def _reinstate(self, state: TicketState, clock: Clock, at: datetime) -> None:
        """The lead's reply crossed the center's approval of its return (dispatch took the
        reply before it heard of the request; supervision approved before it heard of the
        reply): the citizen was answered, so the reply stands, the approval is void and the
        order goes on from 办理中. Nothing of this if a dispatcher already re-dispatched it."""
        req = self.db.session.scalar(select(ReturnRequest).where(
            ReturnRequest.ticket_no == state.ticket_no).order_by(ReturnRequest.id.desc()))
        if req is None or req.assignment_id != clock.assignment_id or req.state != "approved":
            return
        if clock.signed_at is None:  # dispatch only takes a reply after the sign
            raise OutOfOrder(f"reply of {state.ticket_no} before its signature was applied")
        req.state = "withdrawn"
        req.decision_note = ((req.decision_note + "；") if req.decision_note else "") + \
            "审定前承办单位已答复，退单作废 the reply crossed the approval"
        clock.stopped_at = None
        self._move(state, "reinstate", "system", "承办单位已答复，退单作废，恢复办理 the reply "
                   "crossed the approved return", target="in_progress")
        self.db.emit("assignment.return_withdrawn", {
            "return_id": req.id, "assignment_id": clock.assignment_id,
            "ticket_no": state.ticket_no, "department_code": req.department_code, "at": at,
            "reason": "审定前承办单位已答复，退单作废 the reply crossed the approval",
            "superseded": "approved"}, ticket_no=state.ticket_no)

    def _pending_return(self, ticket_no: str) -> ReturnRequest | None:
        return self.db.session.scalar(select(ReturnRequest).where(
            ReturnRequest.ticket_no == ticket_no, ReturnRequest.state == "pending"))

    # -- urging (催办) --
    @sweep_timer
    def deadline_sweep(self) -> None:
        """Runs on every instance; the urge table's unique keys keep each urge exactly once."""
        self._sweep(utcnow(), int(self.settings.get("SWEEP_BATCH", 1000)))
        self._supervision_sweep(utcnow(), int(self.settings.get("SWEEP_BATCH", 1000)))

    @rpc
    @translate_db_errors
    def sweep(self, now: str | None = None, limit: int = 1000) -> dict[str, int]:
        """Urge every clock whose threshold has passed by ``now`` (default: the current time).

        ``now`` is injectable (ISO-8601 with a time zone) so operators and tests can sweep as
        of a given instant. ``limit`` is the number of clocks per batch (one transaction each);
        the sweep goes on until none is due.
        """
        at = utcnow() if now is None else _parse_instant(now)
        result = self._sweep(at, limit)
        self._supervision_sweep(at, limit)  # 督办单, escalation, 每月催办 (see that area)
        return result

    @rpc
    @translate_db_errors
    def urge(self, ticket_no: str, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """Manual urge (人工催办) of an order's open assignments, or of one of them."""
        form = load_or_invalid(UrgeSchema(), payload or {})
        bind(ticket_no=ticket_no)
        session = self.db.session
        status = self._state(ticket_no).status
        if status in ("closed", "resolved_at_intake"):  # off the open ledger: nothing to urge
            raise Conflict(f"工单已{STATUSES[status]}，不能催办 (urge of a {status} order)",
                           {"action": "urge", "state": status})
        stmt = select(Clock).where(Clock.ticket_no == ticket_no, Clock.replied_at.is_(None),
                                   Clock.stopped_at.is_(None))
        if form["assignment_id"] is not None:
            stmt = stmt.where(Clock.assignment_id == form["assignment_id"])
        clocks = list(session.scalars(stmt))
        if not clocks:
            raise Conflict("没有待办的承办任务可催办 no open assignment to urge",
                           {"action": "urge", "state": self._state(ticket_no).status})
        now = utcnow()
        made = [self._record_urge(c, "sign" if c.signed_at is None else "handle", "manual",
                                  form["channel"], actor, form["note"], now, auto=False)
                for c in clocks]
        self.db.commit()
        return {"urges": UrgeRecordSchema(many=True).dump(made)}

    def _sweep(self, now: datetime, limit: int) -> dict[str, int]:
        """Urge every passed threshold of every clock due by ``now``, in batches of ``limit``
        clocks until none is left; each batch is one transaction (its urges, their
        ``ticket.urged`` and ``ticket.overdue`` events and the clocks' next checks commit
        together), and the sweep yields between batches so a long one never blocks the hub."""
        c = Clock.__table__.c
        batch = max(1, int(limit))
        due = (select(c.assignment_id, c.ticket_no, c.department_code, c.started_at, c.sign_due,
                      c.handle_due, c.sign_warn_at, c.handle_warn_at, c.signed_at, c.replied_at)
               .where(c.next_check_at <= now)
               .order_by(c.next_check_at, c.assignment_id)  # one order for all instances
               .limit(batch))
        swept = urged = 0
        for _ in range(_MAX_SWEEP_BATCHES):
            session = self.db.session
            rows = session.execute(due).all()
            claims: list[tuple[Any, urging.Threshold]] = []
            nexts: list[tuple[int, datetime | None]] = []
            for row in rows:
                view = _view(row)
                claims += [(row, t) for t in urging.passed(view, now)]
                nexts.append((row.assignment_id, urging.next_check(view, now)))
            claimed = _claim_urges(session, claims, now)
            events: list[tuple[str, dict[str, Any], str | None]] = []
            breached: set[int] = set()
            for row, t in claims:
                urge_id = claimed.get(urging.auto_key(row.assignment_id, t.clock, t.kind))
                if urge_id is None:
                    continue  # another instance urged this threshold already
                events.append(("ticket.urged", {
                    "ticket_no": row.ticket_no, "urge_id": urge_id,
                    "assignment_id": row.assignment_id, "department_code": row.department_code,
                    "clock": t.clock, "kind": t.kind, "channel": "system", "issued_at": now,
                    "issuer": "system", "note": None}, row.ticket_no))
                if t.kind == "breach":
                    breached.add(row.assignment_id)
                    events.append(("ticket.overdue", {
                        "ticket_no": row.ticket_no, "assignment_id": row.assignment_id,
                        "department_code": row.department_code, "clock": t.clock,
                        "due": t.at, "at": now}, row.ticket_no))
            self.db.emit_many(events)
            _advance_clocks(session, nexts, breached)
            self.db.commit()
            swept, urged = swept + len(rows), urged + len(claimed)
            if len(rows) < batch:
                break
            eventlet.sleep(0)  # let the heartbeat and other workers run (nameko#477)
        return {"clocks": swept, "urges": urged}

    def _record_urge(self, clock: Clock, which: str, kind: str, channel: str, issuer: str,
                     note: str | None, now: datetime, *, auto: bool,
                     due: datetime | None = None) -> Urge | None:
        session = self.db.session
        key = urging.auto_key(clock.assignment_id, which, kind) if auto else None
        if key is not None:
            inserted = session.execute(_CLAIM_URGE, {
                "ticket_no": clock.ticket_no, "assignment_id": clock.assignment_id,
                "department_code": clock.department_code, "clock": which, "kind": kind,
                "channel": channel, "issued_at": now, "issuer": issuer, "note": note,
                "auto_key": key}).first()
            if inserted is None:
                return None  # another instance urged this threshold already
            urge = session.get(Urge, inserted[0])
        else:
            urge = Urge(ticket_no=clock.ticket_no, assignment_id=clock.assignment_id,
                        department_code=clock.department_code, clock=which, kind=kind,
                        channel=channel, issued_at=now, issuer=issuer, note=note)
            session.add(urge)
            session.flush()
        self.db.emit("ticket.urged", {
            "ticket_no": urge.ticket_no, "urge_id": urge.id, "assignment_id": urge.assignment_id,
            "department_code": urge.department_code, "clock": which, "kind": kind,
            "channel": channel, "issued_at": now, "issuer": issuer, "note": note},
            ticket_no=urge.ticket_no)
        if kind == "breach":
            clock.overdue = True
            self.db.emit("ticket.overdue", {
                "ticket_no": clock.ticket_no, "assignment_id": clock.assignment_id,
                "department_code": clock.department_code, "clock": which,
                "due": due or now, "at": now}, ticket_no=clock.ticket_no)
        return urge

    # -- 督办单, urge answers, monthly urge, 回头看, linked callers, reopen --
    # -- facts from intake and dispatch (linked callers, 下派, 协办 opinions, 问题工单) --
    @event_handler("ticket.linked", "assignment.passed_down", "assignment.opinion_submitted",
                   "ticket.problem_flagged")
    def on_supervision_fact(self, event: Event) -> None:
        if not self.db.claim(event):
            return
        handler = getattr(self, "_apply_" + event.type.replace(".", "_"))
        handler(event.data, event)
        self.db.commit()

    def _apply_ticket_linked(self, d: dict[str, Any], event: Event) -> None:
        """重复来电: the linked caller becomes a callback target of their own."""
        self._state_or_retry(d["ticket_no"])
        if self.db.session.get(CallerLink, d["link_id"]) is None:
            self.db.session.add(CallerLink(
                link_id=d["link_id"], ticket_no=d["ticket_no"], linked_at=d["linked_at"],
                caller_name=d["caller_name"], channel=d["channel"], reason=d["reason"],
                callback_status="pending", attempts=0))

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

    def _apply_ticket_problem_flagged(self, d: dict[str, Any], event: Event) -> None:
        """问题工单: flagged in the order's history and put under supervision (督办单)."""
        session = self.db.session
        state = self._state_or_retry(d["ticket_no"])
        session.add(ProblemFlag(ticket_no=state.ticket_no, at=d["at"], transfers=d["transfers"],
                                reopens=d["reopens"], reason=d["reason"]))
        # a transition-like record: the status does not change, the history shows the flag
        session.add(Transition(ticket_no=state.ticket_no, from_status=state.status,
                               to_status=state.status, at=d["at"], actor="system",
                               reason=f"问题工单 problem order: {d['reason']}"))
        leads = list(session.scalars(select(Clock).where(
            Clock.ticket_no == state.ticket_no, Clock.role == "lead", Clock.replied_at.is_(None),
            Clock.stopped_at.is_(None)).order_by(Clock.assignment_id)))
        for clock in leads or [None]:  # no open lead (e.g. awaiting re-dispatch): order-level
            self._open_supervision(state.ticket_no, clock, "problem", "system", d["reason"],
                                   d["at"])

    # -- 督办单 --
    @rpc
    @translate_db_errors
    def supervise(self, ticket_no: str, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """督办 by hand: a 督办单 for each open assignment of the order (or the one named) that
        has no active 督办单 yet."""
        form = load_or_invalid(SuperviseSchema(), payload or {})
        bind(ticket_no=ticket_no)
        session = self.db.session
        state = self._state(ticket_no)
        stmt = select(Clock).where(Clock.ticket_no == ticket_no)
        if form["assignment_id"] is not None:
            stmt = stmt.where(Clock.assignment_id == form["assignment_id"])
            if session.scalar(stmt) is None:
                raise NotFound(f"任务不存在 assignment {form['assignment_id']} not found",
                               {"assignment_id": form["assignment_id"]})
        clocks = list(session.scalars(stmt.where(Clock.replied_at.is_(None),
                                                 Clock.stopped_at.is_(None))
                                      .order_by(Clock.assignment_id)))
        if not clocks:
            raise Conflict("没有待办的承办任务可督办 no open assignment to supervise",
                           {"action": "supervise", "state": state.status})
        now = utcnow()
        made = []
        for clock in clocks:
            active = session.scalar(select(SupervisionOrder.id).where(
                SupervisionOrder.assignment_id == clock.assignment_id,
                SupervisionOrder.escalated_at.is_(None), SupervisionOrder.resolved_at.is_(None)))
            if active is None:
                made.append(self._open_supervision(ticket_no, clock, "manual", actor,
                                                   form["note"], now))
        if not made:
            raise Conflict("已在督办中 (every open assignment already has an active 督办单)",
                           {"action": "supervise", "state": "supervised"})
        self.db.commit()
        return {"supervision_orders": [self._order_record(o) for o in made if o is not None]}

    @rpc
    @translate_db_errors
    def explain_supervision(self, order_id: int, department_code: str, payload: dict[str, Any],
                            actor: str) -> dict[str, Any]:
        """督办说明 by the supervised department (another department's is not found)."""
        form = load_or_invalid(ExplanationSchema(), payload)
        session = self.db.session
        order = session.get(SupervisionOrder, order_id)
        if order is None or order.department_code != department_code:
            raise NotFound(f"督办单不存在 supervision order {order_id} not found",
                           {"supervision_order_id": order_id})
        bind(ticket_no=order.ticket_no)
        supervising.check_explanation(order.explained_at)
        now = utcnow()
        order.explanation, order.explained_at, order.explained_by = form["explanation"], now, actor
        self.db.emit("supervision.explanation_given", {
            "ticket_no": order.ticket_no, "supervision_order_id": order.id,
            "assignment_id": order.assignment_id, "department_code": order.department_code,
            "explanation": order.explanation, "at": now, "actor": actor,
            "late": supervising.explanation_late(now, order.explanation_due)},
            ticket_no=order.ticket_no)
        self.db.commit()
        return self._order_record(order)

    @rpc
    @translate_db_errors
    def department_supervision(self, department_code: str) -> dict[str, Any]:
        """What a department must answer: its 督办单 not yet resolved and its unanswered urges
        (newest first, at most 200 of each)."""
        session = self.db.session
        orders = session.scalars(select(SupervisionOrder).where(
            SupervisionOrder.department_code == department_code,
            SupervisionOrder.resolved_at.is_(None)).order_by(SupervisionOrder.id.desc())
            .limit(200))
        urges = session.scalars(select(Urge).where(
            Urge.department_code == department_code, Urge.answered_at.is_(None))
            .order_by(Urge.id.desc()).limit(200))
        return {"supervision_orders": [r for r in (self._order_record(o) for o in orders)
                                       if r["state"] != "resolved"],
                "urges": UrgeRecordSchema(many=True).dump(list(urges))}

    # -- urge answers (催办答复) --
    @rpc
    @translate_db_errors
    def answer_urge(self, urge_id: int, department_code: str, payload: dict[str, Any],
                    actor: str) -> dict[str, Any]:
        """The urged department answers an urge, once (another department's is not found)."""
        form = load_or_invalid(UrgeAnswerSchema(), payload)
        urge = self.db.session.get(Urge, urge_id)
        if urge is None or urge.department_code != department_code:
            raise NotFound(f"催办记录不存在 urge {urge_id} not found", {"urge_id": urge_id})
        bind(ticket_no=urge.ticket_no)
        if urge.answered_at is not None:
            raise Conflict("该催办已答复 (the urge was already answered)",
                           {"action": "answer_urge", "state": "answered"})
        now = utcnow()
        urge.answer, urge.answered_at, urge.answered_by = form["answer"], now, actor
        self.db.emit("ticket.urge_answered", {
            "ticket_no": urge.ticket_no, "urge_id": urge.id, "assignment_id": urge.assignment_id,
            "department_code": urge.department_code, "answer": urge.answer, "at": now,
            "actor": actor}, ticket_no=urge.ticket_no)
        self.db.commit()
        return UrgeRecordSchema().dump(urge)

    # -- 重办 by hand --
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

    # -- 回头看 --
    @rpc
    @translate_db_errors
    def pick_recheck(self, ticket_no: str, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """Pick a closed order for 回头看; the re-check is its own record."""
        form = load_or_invalid(RecheckSchema(), payload or {})
        bind(ticket_no=ticket_no)
        recheck = self._pick_recheck(ticket_no, form["note"], actor, utcnow())
        self.db.commit()
        return RecheckRecordSchema().dump(recheck)

    @rpc
    @translate_db_errors
    def pick_rechecks(self, ticket_nos: list[str], payload: dict[str, Any],
                      actor: str) -> dict[str, Any]:
        """Pick several closed orders for 回头看 at once: all of them or none."""
        form = load_or_invalid(RecheckSchema(), payload or {})
        if not isinstance(ticket_nos, list) or not ticket_nos or not all(
                isinstance(n, str) for n in ticket_nos) or len(ticket_nos) > 200:
            raise Invalid.fields({"ticket_nos": ["须为1到200个工单号 a list of 1..200 order numbers"]})
        now = utcnow()
        made = [self._pick_recheck(no, form["note"], actor, now) for no in dict.fromkeys(ticket_nos)]
        self.db.commit()
        return {"rechecks": RecheckRecordSchema(many=True).dump(made)}

    @rpc
    @translate_db_errors
    def record_recheck(self, recheck_id: int, payload: dict[str, Any],
                       actor: str) -> dict[str, Any]:
        """The finding of a 回头看 (confirmed | problem_found); the closure is not touched."""
        form = load_or_invalid(RecheckResultSchema(), payload)
        recheck = self.db.session.get(Recheck, recheck_id)
        if recheck is None:
            raise NotFound(f"回头看记录不存在 recheck {recheck_id} not found",
                           {"recheck_id": recheck_id})
        bind(ticket_no=recheck.ticket_no)
        supervising.check_recheck_result(recheck.finding is not None)
        now = utcnow()
        recheck.finding, recheck.result_note = form["finding"], form["note"]
        recheck.recorded_at, recheck.recorded_by = now, actor
        self.db.emit("ticket.rechecked", {
            "ticket_no": recheck.ticket_no, "recheck_id": recheck.id, "finding": recheck.finding,
            "note": recheck.result_note, "at": now, "actor": actor}, ticket_no=recheck.ticket_no)
        self.db.commit()
        return RecheckRecordSchema().dump(recheck)

    def _pick_recheck(self, ticket_no: str, note: str | None, actor: str,
                      now: datetime) -> Recheck:
        session = self.db.session
        state = self._state(ticket_no)
        pending = session.scalar(select(Recheck.id).where(Recheck.ticket_no == ticket_no,
                                                          Recheck.finding.is_(None)))
        supervising.check_recheck(state.status, pending is not None)
        recheck = Recheck(ticket_no=ticket_no, picked_at=now, picked_by=actor, note=note)
        session.add(recheck)
        session.flush()
        return recheck

    # -- linked callers' callbacks -----------------------------------------------------------------
    def _record_linked_callback(self, ticket_no: str, payload: dict[str, Any],
                                actor: str) -> dict[str, Any]:
        """回访 of one linked caller: recorded and announced; the order's status is untouched."""
        form = load_or_invalid(LinkedCallbackSchema(), payload)
        form.pop("attributable")
        bind(ticket_no=ticket_no)
        link = self.db.session.get(CallerLink, form.pop("link_id"))
        if link is None or link.ticket_no != ticket_no:
            raise NotFound(f"关联来电不存在 linked caller {payload.get('link_id')} not found",
                           {"link_id": payload.get("link_id")})
        state = self._state(ticket_no)
        supervising.check_linked_callback(state.status, link.callback_status)
        domain.check_callback("replied", form["reached"], form["solved"], form["satisfaction"])
        now = utcnow()
        link.attempts += 1
        link.reached, link.solved, link.satisfaction, link.note = (
            form["reached"], form["solved"], form["satisfaction"], form["note"])
        link.called_back_at, link.called_back_by = now, actor
        link.callback_status = supervising.linked_callback_status(form["reached"], link.attempts)
        self.db.emit("ticket.linked_callback_recorded", {
            "ticket_no": ticket_no, "link_id": link.link_id, "at": now, "actor": actor, **form},
            ticket_no=ticket_no)
        self.db.commit()
        return {**StateSchema().dump(state), "outcome": "linked_" + link.callback_status,
                "caller": CallerLinkRecordSchema().dump(link)}

    # -- the sweep's supervision duties (督办单 at breach, escalation, 每月催办) --
    @rpc
    @translate_db_errors
    def supervision_sweep(self, now: str | None = None, limit: int = 1000) -> dict[str, int]:
        """Only the supervision duties of :meth:`sweep`, with their counts."""
        at = utcnow() if now is None else _parse_instant(now)
        return self._supervision_sweep(at, limit)

    def _supervision_sweep(self, now: datetime, limit: int) -> dict[str, int]:
        """Each duty batch by batch, each batch its own transaction, like the threshold sweep;
        each safe with several instances at once."""
        return {"supervised": self._drain(self._open_overdue_supervision, now, limit),
                "escalated": self._drain(self._escalate_due, now, limit),
                "monthly": self._drain(self._monthly_urges, now, limit)}

    @staticmethod
    def _drain(duty: Any, now: datetime, limit: int) -> int:
        """Run ``duty`` until a batch does less than ``limit`` (what is left, if another
        instance claimed part of a batch, waits for the next tick), yielding in between."""
        total = 0
        for _ in range(_MAX_SWEEP_BATCHES):
            done = int(duty(now, limit))
            total += done
            if done < limit:
                break
            eventlet.sleep(0)
        return total

    def _open_overdue_supervision(self, now: datetime, limit: int) -> int:
        session = self.db.session
        has_order = select(SupervisionOrder.id).where(
            SupervisionOrder.assignment_id == Clock.assignment_id).exists()
        clocks = list(session.scalars(
            select(Clock).join(TicketState, TicketState.ticket_no == Clock.ticket_no)
            .where(Clock.overdue.is_(True), Clock.handle_due <= now, Clock.replied_at.is_(None),
                   Clock.stopped_at.is_(None), ~has_order,
                   TicketState.status.not_in(supervising.NOT_WITH_DEPARTMENTS))
            .order_by(Clock.assignment_id).limit(limit)))
        opened = sum(self._open_supervision(c.ticket_no, c, "breach", "system", None, now,
                                            key=supervising.auto_key(c.assignment_id))
                     is not None for c in clocks)
        self.db.commit()
        return opened

    def _escalate_due(self, now: datetime, limit: int) -> int:
        session = self.db.session
        orders = list(session.scalars(select(SupervisionOrder).where(
            SupervisionOrder.escalated_at.is_(None), SupervisionOrder.resolved_at.is_(None),
            SupervisionOrder.escalate_at <= now).order_by(SupervisionOrder.id).limit(limit)))
        escalated = 0
        for order in orders:
            if not self._still_overdue(order):
                order.resolved_at = now
                continue
            # the claim: of two instances, the second updates nothing (PostgreSQL makes it
            # wait for the first's commit and re-checks the condition)
            claimed = session.execute(
                update(SupervisionOrder).where(SupervisionOrder.id == order.id,
                                               SupervisionOrder.escalated_at.is_(None))
                .values(escalated_at=now).execution_options(synchronize_session=False))
            if claimed.rowcount != 1:
                continue
            escalated += 1
            self.db.emit("ticket.escalated", {
                "ticket_no": order.ticket_no, "supervision_order_id": order.id,
                "assignment_id": order.assignment_id, "department_code": order.department_code,
                "opened_at": order.opened_at, "at": now,
                "reason": "督办后仍未答复 still not replied after the 督办单"},
                ticket_no=order.ticket_no)
        self.db.commit()
        return escalated

    def _monthly_urges(self, now: datetime, limit: int) -> int:
        session = self.db.session
        calendar = self.calendar(session)
        start = supervising.month_start(now, calendar)
        today = now.astimezone(calendar.tz).date()
        if today < supervising.first_workday_of_month(now, calendar):
            return 0
        urged = select(Urge.id).where(Urge.assignment_id == Clock.assignment_id,
                                      Urge.issued_at >= start).exists()
        stmt = (select(Clock).join(TicketState, TicketState.ticket_no == Clock.ticket_no)
                .where(Clock.replied_at.is_(None), Clock.stopped_at.is_(None),
                       Clock.started_at <= now, ~urged,
                       TicketState.status.not_in(supervising.NOT_WITH_DEPARTMENTS)))
        if today < supervising.last_workday_of_month(now, calendar):
            stmt = stmt.where(Clock.started_at < start)  # this month's are urged at its end
        made = 0
        for clock in session.scalars(stmt.order_by(Clock.assignment_id).limit(limit)):
            if not supervising.monthly_urge_due(clock.started_at, False, now, calendar):
                continue
            which = "sign" if clock.signed_at is None else "handle"
            note = "每月催办 monthly urge"
            inserted = session.execute(_CLAIM_URGE, {
                "ticket_no": clock.ticket_no, "assignment_id": clock.assignment_id,
                "department_code": clock.department_code, "clock": which, "kind": "monthly",
                "channel": "system", "issued_at": now, "issuer": "system", "note": note,
                "auto_key": supervising.monthly_key(clock.assignment_id, now, calendar)}).first()
            if inserted is None:
                continue  # another instance urged it this month already
            made += 1
            self.db.emit("ticket.urged", {
                "ticket_no": clock.ticket_no, "urge_id": inserted[0],
                "assignment_id": clock.assignment_id, "department_code": clock.department_code,
                "clock": which, "kind": "monthly", "channel": "system", "issued_at": now,
                "issuer": "system", "note": note}, ticket_no=clock.ticket_no)
        self.db.commit()
        return made

    def _open_supervision(self, ticket_no: str, clock: Clock | None, source: str, actor: str,
                          note: str | None, now: datetime,
                          key: str | None = None) -> SupervisionOrder | None:
        """One 督办单; with ``key``, only if no instance opened that one already."""
        session = self.db.session
        due, escalate_at = self.policy.supervision_deadlines(now, self.calendar(session))
        values = {"ticket_no": ticket_no,
                  "assignment_id": clock.assignment_id if clock is not None else None,
                  "department_code": clock.department_code if clock is not None else None,
                  "source": source, "opened_at": now, "opened_by": actor, "note": note,
                  "explanation_due": due, "escalate_at": escalate_at, "auto_key": key}
        if key is not None:
            inserted = session.execute(_CLAIM_SUPERVISION, values).first()
            if inserted is None:
                return None
            order = session.get(SupervisionOrder, inserted[0])
        else:
            order = SupervisionOrder(**values)
            session.add(order)
            session.flush()
        self.db.emit("ticket.supervised", {
            "ticket_no": ticket_no, "supervision_order_id": order.id,
            "assignment_id": order.assignment_id, "department_code": order.department_code,
            "source": source, "opened_at": now, "opened_by": actor, "explanation_due": due,
            "escalate_at": escalate_at, "note": note}, ticket_no=ticket_no)
        return order

    def _still_overdue(self, order: SupervisionOrder) -> bool:
        """Still with the department and not done: an assist that never gave its opinion is
        no longer overdue once the order was replied (the lead answered for everyone)."""
        session = self.db.session
        state = session.get(TicketState, order.ticket_no)
        if state is None or state.status in supervising.NOT_WITH_DEPARTMENTS:
            return False
        if order.assignment_id is None:
            return True
        clock = session.get(Clock, order.assignment_id)
        return clock is not None and supervising.still_overdue(clock.replied_at is not None,
                                                               clock.stopped_at is not None)

    def _order_record(self, order: SupervisionOrder) -> dict[str, Any]:
        resolved = order.resolved_at is not None or (
            order.escalated_at is None and not self._still_overdue(order))
        record: dict[str, Any] = SupervisionOrderRecordSchema().dump(order)
        record["state"] = supervising.order_state(order.explained_at is not None,
                                                  order.escalated_at is not None, resolved)
        record["explanation_late"] = (None if order.explained_at is None else
                                      supervising.explanation_late(order.explained_at,
                                                                   order.explanation_due))
        return record

    def _supervision_state(self, ticket_no: str) -> dict[str, Any]:
        """What :meth:`get_state` shows of this area; lists carry ``department_code`` where a
        department may see only its own (督办单; urges already do)."""
        session = self.db.session
        orders = session.scalars(select(SupervisionOrder).where(
            SupervisionOrder.ticket_no == ticket_no).order_by(SupervisionOrder.id))
        rechecks = session.scalars(select(Recheck).where(Recheck.ticket_no == ticket_no)
                                   .order_by(Recheck.id))
        callers = session.scalars(select(CallerLink).where(CallerLink.ticket_no == ticket_no)
                                  .order_by(CallerLink.link_id))
        flags = list(session.scalars(select(ProblemFlag).where(ProblemFlag.ticket_no == ticket_no)
                                     .order_by(ProblemFlag.id)))
        return {"supervision_orders": [self._order_record(o) for o in orders],
                "rechecks": RecheckRecordSchema(many=True).dump(list(rechecks)),
                "callers": CallerLinkRecordSchema(many=True).dump(list(callers)),
                "problem": bool(flags),
                "problem_flags": ProblemFlagRecordSchema(many=True).dump(flags)}

    # -- queries -------------------------------------------------------------------------------
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

    # -- leader instructions 领导批示件 --
    instruction_policy = InstructionPolicy()

    # Business rules in services/supervision/instructions.py; here: load, persist, record events.
    # ``viewer`` is the caller as the gateway authenticated it: {"role", "department_code",
    # "via"} (via = token | api_key); visibility is decided here, not only at the edge.

    @rpc
    @translate_db_errors
    def register_instruction(self, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """登记交办: number the instruction (批〔年〕N号), classify it, set each unit's deadline.

        Unit codes and linked orders are checked to exist by the caller (the gateway asks
        dispatch and intake); this service owns neither.
        """
        form = load_or_invalid(InstructionRegistrationSchema(), payload)
        session = self.db.session
        now = utcnow()
        if form["received_at"] > now + timedelta(minutes=5):
            raise Invalid.fields({"received_at": ["收件时间不能晚于现在 received_at is in the future"]})
        classified = instructions.classify(form["words"])
        kind = instructions.check_kind_choice(classified.kind, form["kind"], form["kind_reason"])
        override = form["feedback_due"]
        if override is not None and override <= form["received_at"]:
            raise Invalid.fields({"feedback_due": ["反馈期限须晚于收件时间 feedback_due must be "
                                                   "after received_at"]})
        due = self.instruction_policy.deadlines(
            form["leader_level"], kind, form["received_at"], form["urgent"],
            self.calendar(session), override=override, dispatched_at=now)
        year = business_day(now).year
        seq = int(session.execute(_NEXT_INSTRUCTION_SEQ, {"year": year}).scalar_one())
        instr = Instruction(
            year=year, seq=seq, number=instructions.format_number(year, seq),
            leader_name=form["leader_name"], leader_level=form["leader_level"],
            words=form["words"], source_title=form["source_title"],
            source_doc_no=form["source_doc_no"], received_at=form["received_at"],
            registered_at=now, registered_by=actor, urgent=form["urgent"],
            confidential=form["confidential"], kind=kind, classified_kind=classified.kind,
            kind_reason=form["kind_reason"] if kind != classified.kind else classified.reason,
            deadline_rule=due.rule, due_override=override, dispatch_due=due.dispatch_due,
            dispatched_late=due.dispatch_due is not None and now > due.dispatch_due,
            status=instructions.OPEN)
        session.add(instr)
        session.flush()
        for code in form["units"]:
            session.add(InstructionUnit(
                instruction_id=instr.id, department_code=code, status="dispatched",
                feedback_due=due.feedback_due, dispatched_at=now, submissions=0, overdue=False,
                next_check_at=due.feedback_due))
        for no in dict.fromkeys(form["ticket_nos"]):
            session.add(InstructionTicket(instruction_id=instr.id, ticket_no=no))
        self._instruction_act(instr, "register", actor, None,
                              f"{instr.number} {instructions.KINDS[kind]}：{instr.kind_reason}")
        self.db.emit("instruction.registered", {
            "instruction_id": instr.id, "number": instr.number, "leader_level": instr.leader_level,
            "kind": kind, "urgent": instr.urgent, "confidential": instr.confidential,
            "received_at": instr.received_at, "registered_at": now,
            "dispatch_due": instr.dispatch_due, "actor": actor,
            "units": [{"department_code": c, "feedback_due": due.feedback_due}
                      for c in form["units"]],
            "ticket_nos": list(dict.fromkeys(form["ticket_nos"]))})
        self.db.commit()
        return self._instruction_detail(instr, _OFFICE)

    @rpc
    @translate_db_errors
    def reclassify_instruction(self, instruction_id: int, payload: dict[str, Any],
                               actor: str) -> dict[str, Any]:
        """The office changes 办件/阅件 (with a reason) before any unit has acted on it."""
        form = load_or_invalid(InstructionReclassifySchema(), payload)
        session = self.db.session
        instr = self._instruction(instruction_id, _OFFICE)
        units = self._instruction_units(instr.id)
        instructions.check_reclassify(instr.status, [u.status for u in units])
        if form["kind"] == instr.kind:
            raise Conflict(f"批示件已是{instructions.KINDS[instr.kind]} (already {instr.kind})",
                           {"action": "reclassify", "state": instr.kind})
        due = self.instruction_policy.deadlines(
            instr.leader_level, form["kind"], instr.received_at, instr.urgent,
            self.calendar(session), override=instr.due_override,
            dispatched_at=instr.registered_at)
        instr.kind, instr.kind_reason, instr.deadline_rule = form["kind"], form["reason"], due.rule
        for u in units:
            u.feedback_due = u.next_check_at = due.feedback_due
        now = utcnow()
        self._instruction_act(instr, "reclassify", actor, None,
                              f"改为{instructions.KINDS[form['kind']]}：{form['reason']}")
        self.db.emit("instruction.reclassified", {
            "instruction_id": instr.id, "number": instr.number, "kind": instr.kind, "at": now,
            "actor": actor, "reason": form["reason"]})
        self.db.commit()
        return self._instruction_detail(instr, _OFFICE)

    @rpc
    @translate_db_errors
    def submit_instruction_feedback(self, instruction_id: int, viewer: dict[str, Any],
                                    payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """承办单位反馈: a unit on the instruction submits its feedback (again after a return)."""
        form = load_or_invalid(InstructionFeedbackSchema(), payload)
        session = self.db.session
        instr = self._instruction(instruction_id, viewer)
        unit = self._own_unit(instr, viewer.get("department_code"))
        unit.status = instructions.unit_transition("submit_feedback", instr.kind, unit.status)
        now = utcnow()
        unit.submissions += 1
        unit.next_check_at = None
        fb = InstructionFeedback(instruction_id=instr.id, unit_id=unit.id,
                                 department_code=unit.department_code, content=form["content"],
                                 submitted_at=now, submitted_by=actor, state="pending")
        session.add(fb)
        session.flush()
        late = unit.feedback_due is not None and now > unit.feedback_due
        self._instruction_act(instr, "submit_feedback", actor, unit.department_code,
                              f"第{unit.submissions}次反馈" + ("（超期）" if late else ""))
        self.db.emit("instruction.feedback_submitted", {
            "instruction_id": instr.id, "number": instr.number, "feedback_id": fb.id,
            "department_code": unit.department_code, "submitted_at": now,
            "feedback_due": unit.feedback_due, "actor": actor, "submission": unit.submissions})
        self.db.commit()
        return InstructionFeedbackRecordSchema().dump(fb)

    @rpc
    @translate_db_errors
    def decide_instruction_feedback(self, instruction_id: int, feedback_id: int,
                                    payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """反馈审定: approve (the unit's share is done) or return it for revision with a reason.
        The instruction is completed when every unit's feedback is approved."""
        form = load_or_invalid(InstructionDecisionSchema(), payload)
        session = self.db.session
        instr = self._instruction(instruction_id, _OFFICE)
        fb = session.get(InstructionFeedback, feedback_id)
        if fb is None or fb.instruction_id != instr.id:
            raise NotFound(f"反馈不存在 feedback {feedback_id} not found",
                           {"feedback_id": feedback_id})
        if fb.state != "pending":
            raise Conflict(f"该反馈已审定 (decision on a {fb.state} feedback)",
                           {"action": "decide_feedback", "state": fb.state})
        unit = session.get(InstructionUnit, fb.unit_id)
        action = "approve_feedback" if form["approve"] else "return_feedback"
        unit.status = instructions.unit_transition(action, instr.kind, unit.status)
        now = utcnow()
        fb.state = "approved" if form["approve"] else "returned"
        fb.decided_at, fb.decided_by, fb.decision_reason = now, actor, form["reason"]
        if form["approve"]:
            unit.approved_at = now
        else:  # still owing feedback: the sweep watches its (unchanged) deadline again
            unit.next_check_at = unit.feedback_due
        self._instruction_act(instr, action, actor, unit.department_code,
                              form["reason"] or ("审定通过 approved" if form["approve"] else None))
        self.db.emit("instruction.feedback_decided", {
            "instruction_id": instr.id, "number": instr.number, "feedback_id": fb.id,
            "department_code": unit.department_code, "approved": form["approve"], "at": now,
            "actor": actor, "reason": form["reason"]})
        self._complete_if_done(instr, actor, now)
        self.db.commit()
        return InstructionFeedbackRecordSchema().dump(fb)

    @rpc
    @translate_db_errors
    def acknowledge_instruction(self, instruction_id: int, viewer: dict[str, Any],
                                actor: str) -> dict[str, Any]:
        """阅知 of a 阅件 by a unit on it; the 阅件 is completed when every unit has read it."""
        instr = self._instruction(instruction_id, viewer)
        unit = self._own_unit(instr, viewer.get("department_code"))
        unit.status = instructions.unit_transition("acknowledge_read", instr.kind, unit.status)
        now = utcnow()
        unit.read_at = now
        self._instruction_act(instr, "acknowledge_read", actor, unit.department_code, "已阅知")
        self.db.emit("instruction.read", {"instruction_id": instr.id, "number": instr.number,
                                          "department_code": unit.department_code, "at": now,
                                          "actor": actor})
        self._complete_if_done(instr, actor, now)
        self.db.commit()
        return InstructionUnitRecordSchema().dump(unit)

    @rpc
    @translate_db_errors
    def get_instruction(self, instruction_id: int, viewer: dict[str, Any]) -> dict[str, Any]:
        """One instruction with units, feedback history, linked orders, urges and history."""
        return self._instruction_detail(self._instruction(instruction_id, viewer), viewer)

    @rpc
    @translate_db_errors
    def list_instructions(self, filters: dict[str, Any], viewer: dict[str, Any]) -> dict[str, Any]:
        """Newest first, cursor-paged by id. A department sees only its own units' instructions
        (its system, by API key, never a 涉密 one)."""
        f = load_or_invalid(InstructionListSchema(), filters or {})
        session = self.db.session
        now = utcnow()
        stmt = select(Instruction).order_by(Instruction.id.desc()).limit(f["limit"] + 1)
        unit = f["unit"]
        if viewer.get("role") not in instructions.OFFICE_ROLES:
            if viewer.get("role") != "department":
                return {"items": [], "next_cursor": None}
            if unit is not None and unit != viewer.get("department_code"):
                return {"items": [], "next_cursor": None}
            unit = viewer.get("department_code")
            if viewer.get("via") == "api_key":
                stmt = stmt.where(Instruction.confidential.is_(False))
        if unit is not None:
            stmt = stmt.where(Instruction.id.in_(select(InstructionUnit.instruction_id).where(
                InstructionUnit.department_code == unit)))
        if f["status"]:
            stmt = stmt.where(Instruction.status == f["status"])
        if f["kind"]:
            stmt = stmt.where(Instruction.kind == f["kind"])
        if f["overdue"] is not None:
            late = select(InstructionUnit.instruction_id).where(
                InstructionUnit.status.in_(instructions.OWING),
                InstructionUnit.feedback_due <= now)
            if unit is not None:
                late = late.where(InstructionUnit.department_code == unit)
            late_ids = Instruction.id.in_(late.scalar_subquery())
            stmt = stmt.where(Instruction.kind == instructions.HANDLE, late_ids) if f["overdue"] \
                else stmt.where(~late_ids)
        if f["cursor"]:
            stmt = stmt.where(Instruction.id < f["cursor"])
        rows = list(session.scalars(stmt))
        more = len(rows) > f["limit"]
        rows = rows[: f["limit"]]
        units_of: dict[int, list[InstructionUnit]] = {}
        if rows:
            for u in session.scalars(select(InstructionUnit).where(
                    InstructionUnit.instruction_id.in_([r.id for r in rows]))
                    .order_by(InstructionUnit.id)):
                units_of.setdefault(u.instruction_id, []).append(u)
        items = [{**InstructionRecordSchema().dump(r),
                  "units": [self._unit_record(r, u, now) for u in units_of.get(r.id, [])]}
                 for r in rows]
        return {"items": items, "next_cursor": rows[-1].id if more else None}

    @rpc
    @translate_db_errors
    def instruction_summary(self, query: dict[str, Any]) -> dict[str, Any]:
        """For instructions registered in [from, to] (business days, inclusive), per unit
        (``group_by=unit``, the monthly 通报 of each unit's quality and efficiency) or per
        leader level (``group_by=leader_level``, the half-monthly 市长、副市长、市长助理批示办理
        情况; seed 000 第一篇 五(三)(五)): 办件 shares, on time, overdue, approved at the first
        submission, still open; 阅件 shares and how many were read."""
        q = load_or_invalid(InstructionSummaryQuerySchema(), query)
        session = self.db.session
        now = utcnow()
        start = datetime.combine(q["from_"], datetime.min.time(), tzinfo=BUSINESS_TZ)
        end = datetime.combine(q["to"] + timedelta(days=1), datetime.min.time(), tzinfo=BUSINESS_TZ)
        rows = session.execute(select(Instruction.kind, Instruction.leader_level,
                                      InstructionUnit).join(
            InstructionUnit, InstructionUnit.instruction_id == Instruction.id).where(
            Instruction.registered_at >= start, Instruction.registered_at < end)).all()
        approved: dict[int, datetime] = {}
        pending: dict[int, datetime] = {}
        if rows:
            for fb in session.scalars(select(InstructionFeedback).where(
                    InstructionFeedback.unit_id.in_([u.id for _, _, u in rows]),
                    InstructionFeedback.state.in_(["approved", "pending"]))):
                (approved if fb.state == "approved" else pending)[fb.unit_id] = fb.submitted_at
        table: dict[str, dict[str, int]] = {}
        for kind, level, u in rows:
            group = level if q["group_by"] == "leader_level" else u.department_code
            r = table.setdefault(group, {
                "count": 0, "on_time": 0, "overdue": 0, "approved_first": 0, "open": 0,
                "read_count": 0, "read_done": 0})
            if kind == instructions.READ:
                r["read_count"] += 1
                r["read_done"] += u.status == "read"
                continue
            r["count"] += 1
            outcome = instructions.share_outcome(u.feedback_due, approved.get(u.id),
                                                 pending.get(u.id), now)
            r[outcome] += 1
            r["approved_first"] += u.status == "approved" and u.submissions == 1
        return {"from": q["from_"].isoformat(), "to": q["to"].isoformat(),
                "group_by": q["group_by"],
                "rows": [{"group": group, **r} for group, r in sorted(table.items())]}

    @rpc
    @translate_db_errors
    def urge_instruction(self, instruction_id: int, payload: dict[str, Any],
                         actor: str) -> dict[str, Any]:
        """人工催办 (phone, 催办单, on site) of the units still owing feedback on a 办件, or of
        one of them."""
        form = load_or_invalid(InstructionUrgeSchema(), payload or {})
        session = self.db.session
        instr = self._instruction(instruction_id, _OFFICE)
        owing = [u for u in self._instruction_units(instr.id)
                 if instr.kind == instructions.HANDLE and u.status in instructions.OWING
                 and form["department_code"] in (None, u.department_code)]
        if not owing:
            raise Conflict("没有待反馈的承办单位可催办 no unit owes feedback",
                           {"action": "urge", "state": instr.status})
        now = utcnow()
        made = []
        for u in owing:
            urge = InstructionUrge(instruction_id=instr.id, unit_id=u.id,
                                   department_code=u.department_code, due=u.feedback_due,
                                   issued_at=now, issuer=actor, kind="manual",
                                   channel=form["channel"], note=form["note"])
            session.add(urge)
            session.flush()
            made.append(urge)
            self._instruction_act(instr, "urge", actor, u.department_code,
                                  form["note"] or f"人工催办 urged by {form['channel']}")
            self.db.emit("instruction.urged", {
                "instruction_id": instr.id, "number": instr.number, "urge_id": urge.id,
                "department_code": u.department_code, "channel": form["channel"],
                "issued_at": now, "issuer": actor, "note": form["note"]})
        self.db.commit()
        return {"urges": InstructionUrgeRecordSchema(many=True).dump(made)}

    @sweep_timer
    def instruction_deadline_sweep(self) -> None:
        """Runs on every instance; the urge's unique claim key keeps each urge exactly once."""
        self._instruction_sweep(utcnow(), int(self.settings.get("SWEEP_BATCH", 1000)))

    @rpc
    @translate_db_errors
    def instruction_sweep(self, now: str | None = None, limit: int = 1000) -> dict[str, int]:
        """Urge every 办件 share past its feedback deadline by ``now`` (ISO-8601, default now)."""
        return self._instruction_sweep(utcnow() if now is None else _parse_instant(now), limit)

    def _instruction_sweep(self, now: datetime, limit: int) -> dict[str, int]:
        session = self.db.session
        # PostgreSQL: a share another instance is sweeping right now is skipped, not waited
        # for (it would come back with a newer version and 409); the claim key still makes
        # each urge exactly once. SQLite has one writer at a time and ignores the clause.
        units = list(session.scalars(select(InstructionUnit).where(
            InstructionUnit.next_check_at <= now)
            .order_by(InstructionUnit.next_check_at, InstructionUnit.id).limit(limit)
            .with_for_update(skip_locked=True)))
        urged = 0
        for u in units:
            instr = session.get(Instruction, u.instruction_id)
            if u.feedback_due is not None and instructions.is_overdue(
                    instr.kind, u.status, u.feedback_due, now):
                inserted = session.execute(_CLAIM_INSTRUCTION_URGE, {
                    "instruction_id": instr.id, "unit_id": u.id,
                    "department_code": u.department_code, "due": u.feedback_due,
                    "issued_at": now, "claim_key": instructions.urge_key(u.id, u.feedback_due)}).first()
                if inserted is not None:
                    urged += 1
                    u.overdue = True
                    self._instruction_act(instr, "overdue", "system", u.department_code,
                                          "超期未反馈，自动催办 overdue: urged")
                    self.db.emit("instruction.overdue", {
                        "instruction_id": instr.id, "number": instr.number,
                        "department_code": u.department_code, "urge_id": inserted[0],
                        "due": u.feedback_due, "at": now})
            u.next_check_at = None
        self.db.commit()
        return {"units": len(units), "urges": urged}

    def _instruction(self, instruction_id: int, viewer: dict[str, Any]) -> Instruction:
        """The instruction if the viewer may see it; otherwise it does not exist (404)."""
        instr = self.db.session.get(Instruction, instruction_id)
        if instr is None or not instructions.can_see(
                viewer, instr.confidential,
                [u.department_code for u in self._instruction_units(instr.id)]):
            raise NotFound(f"批示件不存在 instruction {instruction_id} not found",
                           {"instruction_id": instruction_id})
        return instr

    def _instruction_units(self, instruction_id: int) -> list[InstructionUnit]:
        return list(self.db.session.scalars(select(InstructionUnit).where(
            InstructionUnit.instruction_id == instruction_id).order_by(InstructionUnit.id)))

    def _own_unit(self, instr: Instruction, department_code: str | None) -> InstructionUnit:
        unit = self.db.session.scalar(select(InstructionUnit).where(
            InstructionUnit.instruction_id == instr.id,
            InstructionUnit.department_code == department_code))
        if unit is None:
            raise NotFound(f"批示件不存在 instruction {instr.id} not found",
                           {"instruction_id": instr.id})
        return unit

    def _instruction_act(self, instr: Instruction, action: str, actor: str,
                         department_code: str | None, reason: str | None) -> None:
        self.db.session.add(InstructionAction(instruction_id=instr.id, action=action, at=utcnow(),
                                              actor=actor, department_code=department_code,
                                              reason=reason))

    def _complete_if_done(self, instr: Instruction, actor: str, now: datetime) -> None:
        self.db.session.flush()
        if instr.status == instructions.OPEN and instructions.is_complete(
                instr.kind, [u.status for u in self._instruction_units(instr.id)]):
            instr.status, instr.completed_at = instructions.COMPLETED, now
            self._instruction_act(instr, "complete", actor, None, "各承办单位均已办结 all units done")
            self.db.emit("instruction.completed", {
                "instruction_id": instr.id, "number": instr.number, "kind": instr.kind,
                "completed_at": now, "actor": actor})

    def _unit_record(self, instr: Instruction, u: InstructionUnit, now: datetime) -> dict[str, Any]:
        record = InstructionUnitRecordSchema().dump(u)
        record["overdue"] = u.overdue or instructions.is_overdue(instr.kind, u.status,
                                                                 u.feedback_due, now)
        return record

    def _instruction_detail(self, instr: Instruction, viewer: dict[str, Any]) -> dict[str, Any]:
        session = self.db.session
        now = utcnow()
        own = viewer.get("department_code") if viewer.get("role") == "department" else None

        def mine(code: str | None) -> bool:
            return own is None or code is None or code == own

        feedback = session.scalars(select(InstructionFeedback).where(
            InstructionFeedback.instruction_id == instr.id).order_by(InstructionFeedback.id))
        urges = session.scalars(select(InstructionUrge).where(
            InstructionUrge.instruction_id == instr.id).order_by(InstructionUrge.id))
        history = session.scalars(select(InstructionAction).where(
            InstructionAction.instruction_id == instr.id).order_by(InstructionAction.id))
        tickets = session.scalars(select(InstructionTicket.ticket_no).where(
            InstructionTicket.instruction_id == instr.id).order_by(InstructionTicket.ticket_no))
        return {
            **InstructionRecordSchema().dump(instr),
            "units": [self._unit_record(instr, u, now) for u in self._instruction_units(instr.id)],
            "feedback": InstructionFeedbackRecordSchema(many=True).dump(
                [f for f in feedback if mine(f.department_code)]),
            "urges": InstructionUrgeRecordSchema(many=True).dump(
                [u for u in urges if mine(u.department_code)]),
            "history": InstructionActionRecordSchema(many=True).dump(
                [h for h in history if mine(h.department_code)]),
            "ticket_nos": list(tickets),
        }

    # -- helpers ---------------------------------------------------------------------------------
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
