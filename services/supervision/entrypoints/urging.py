"""催办: the deadline sweep that urges every passed threshold (warnings and breaches),
manual urges, and the departments' answers to urges. Thresholds in :mod:`..urging`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import eventlet
from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from services.supervision import urging
from services.supervision.dependencies import sweep_timer
from services.supervision.entrypoints.base import (
    _CLAIM_URGE,
    _MAX_SWEEP_BATCHES,
    SupervisionBase,
    _parse_instant,
    _view,
)
from services.supervision.models import Clock, Urge
from services.supervision.schemas import UrgeAnswerSchema, UrgeRecordSchema, UrgeSchema
from shared.database import translate_db_errors
from shared.errors import Conflict, NotFound, load_or_invalid
from shared.events import utcnow
from shared.logs import bind
from shared.rpc import rpc
from shared.types import UtcDateTime
from shared.vocabulary import STATUSES

# The deadline sweep works on batches of clocks with a few set-based statements per batch (claim
# every passed threshold in one INSERT … ON CONFLICT DO NOTHING RETURNING, the events in one bulk
# outbox insert, every clock's next check in one UPDATE), so a sweep over a large backlog costs a
# handful of statements per batch instead of several per clock. The rows travel as one JSON
# document (json_each on SQLite, json_array_elements on PostgreSQL): one short statement with
# one parameter, not thousands of bound values for the driver and SQLAlchemy to process one by
# one. Urges are claimed in the sweep's one order (next check, assignment), the same on every
# instance: of two instances sweeping at once, the second waits on the first's claims and then
# inserts nothing (its UPDATE of the same clocks writes the same values).
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
# rows [assignment id, next check or null, breached now]; a clock stopped since the batch was
# read (returned, passed down, recalled, ended by the lead's reply: PostgreSQL re-reads the row
# after waiting for that commit) is not re-armed
_ADVANCE_CLOCKS = {
    "sqlite": text(
        "UPDATE clock SET next_check_at = CASE WHEN clock.stopped_at IS NULL "
        "THEN json_extract(v.value, '$[1]') END, "
        "overdue = (clock.overdue OR json_extract(v.value, '$[2]')) FROM json_each(:rows) AS v "
        "WHERE clock.assignment_id = json_extract(v.value, '$[0]')"),
    "postgresql": text(
        "UPDATE clock SET next_check_at = CASE WHEN clock.stopped_at IS NULL "
        "THEN CAST(v.r->>1 AS TIMESTAMP WITH TIME ZONE) END, "
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




class UrgingEntrypoints(SupervisionBase):
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
