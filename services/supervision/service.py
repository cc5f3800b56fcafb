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
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from services.supervision import domain, urging
from services.supervision.dependencies import Calendar, Policy, sweep_timer
from services.supervision.models import (
    Callback,
    Clock,
    Extension,
    ReturnRequest,
    TicketState,
    Transition,
    Urge,
    metadata,
)
from services.supervision.schemas import (
    CallbackRecordSchema,
    CallbackSchema,
    ClockSchema,
    CloseSchema,
    ExtensionDecisionSchema,
    ExtensionRecordSchema,
    ExtensionRequestSchema,
    ReturnDecisionSchema,
    ReturnRecordSchema,
    ReturnRequestSchema,
    StateSchema,
    TransitionSchema,
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

# One statement, no savepoint, the same on SQLite ≥ 3.35 and PostgreSQL: of two instances
# sweeping at once, the second inserts nothing (PostgreSQL makes it wait for the first's commit).
_CLAIM_URGE = text(
    "INSERT INTO urge (ticket_no, assignment_id, department_code, clock, kind, channel, "
    "issued_at, issuer, note, auto_key) VALUES (:ticket_no, :assignment_id, :department_code, "
    ":clock, :kind, :channel, :issued_at, :issuer, :note, :auto_key) "
    "ON CONFLICT (auto_key) DO NOTHING RETURNING id"
).bindparams(bindparam("issued_at", type_=UtcDateTime()))


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
        """回访: record one callback, then close, reopen (重办) or wait for the next attempt."""
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

    # -- extensions (延期) --------------------------------------------------------------------------
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
                                       self.policy.extension_max.amount)
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
        domain.check_extension_decision(ext.state)
        now = utcnow()
        ext.state = "approved" if form["approve"] else "rejected"
        ext.decided_at, ext.decided_by, ext.decision_note = now, actor, form["note"]
        if form["approve"]:
            clock = session.get(Clock, ext.assignment_id)
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

    # -- returns (退单) -----------------------------------------------------------------------------
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

    def _pending_return(self, ticket_no: str) -> ReturnRequest | None:
        return self.db.session.scalar(select(ReturnRequest).where(
            ReturnRequest.ticket_no == ticket_no, ReturnRequest.state == "pending"))

    # -- urging (催办) ----------------------------------------------------------------------------
    @sweep_timer
    def deadline_sweep(self) -> None:
        """Runs on every instance; the urge table's unique keys keep each urge exactly once."""
        self._sweep(utcnow(), int(self.settings.get("SWEEP_BATCH", 1000)))

    @rpc
    @translate_db_errors
    def sweep(self, now: str | None = None, limit: int = 1000) -> dict[str, int]:
        """Urge every clock whose threshold has passed by ``now`` (default: the current time).

        ``now`` is injectable (ISO-8601 with a time zone) so operators and tests can sweep as
        of a given instant. ``limit`` is the number of clocks per batch (one transaction each);
        the sweep goes on until none is due.
        """
        at = utcnow() if now is None else _parse_instant(now)
        return self._sweep(at, limit)

    @rpc
    @translate_db_errors
    def urge(self, ticket_no: str, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """Manual urge (人工催办) of an order's open assignments, or of one of them."""
        form = load_or_invalid(UrgeSchema(), payload or {})
        bind(ticket_no=ticket_no)
        session = self.db.session
        self._state(ticket_no)
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

    # == Step 2 area [supervision]: 督办单, urge answers, monthly urge, 回头看, linked callers, reopen ==
    # (add this area's code between these two lines)
    # == end of area [supervision] ==

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
                "returns": ReturnRecordSchema(many=True).dump(list(returns))}

    @rpc
    @translate_db_errors
    def states_of(self, ticket_nos: list[str]) -> dict[str, str]:
        rows = self.db.session.execute(select(TicketState.ticket_no, TicketState.status)
                                       .where(TicketState.ticket_no.in_(ticket_nos)))
        return {no: status for no, status in rows}

    # == Step 2 area [instructions]: leader instructions 领导批示件 ==
    # (add this area's code between these two lines)
    # == end of area [instructions] ==

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
