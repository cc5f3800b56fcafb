"""督办: 督办单 (by hand, at a handling breach, for a 问题工单), the supervised
department's explanation, escalation when still not replied, and 每月催办 — the
supervision duties of the sweep. Rules in :mod:`..supervising`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import eventlet
from sqlalchemy import bindparam, select, text, update

from services.supervision import supervising
from services.supervision.entrypoints.base import (
    _CLAIM_URGE,
    _MAX_SWEEP_BATCHES,
    SupervisionBase,
    _parse_instant,
)
from services.supervision.models import (
    CallerLink,
    Clock,
    ProblemFlag,
    Recheck,
    SupervisionOrder,
    TicketState,
    Transition,
    Urge,
)
from services.supervision.schemas import (
    CallerLinkRecordSchema,
    ExplanationSchema,
    ProblemFlagRecordSchema,
    RecheckRecordSchema,
    SuperviseSchema,
    SupervisionOrderRecordSchema,
    UrgeRecordSchema,
)
from shared.database import translate_db_errors
from shared.errors import Conflict, NotFound, load_or_invalid
from shared.events import Event, utcnow
from shared.logs import bind
from shared.rpc import rpc
from shared.types import UtcDateTime

# the same claim for the one automatic 督办单 of an assignment (its handling breach)
_CLAIM_SUPERVISION = text(
    "INSERT INTO supervision_order (ticket_no, assignment_id, department_code, source, "
    "opened_at, opened_by, note, explanation_due, escalate_at, auto_key) VALUES (:ticket_no, "
    ":assignment_id, :department_code, :source, :opened_at, :opened_by, :note, "
    ":explanation_due, :escalate_at, :auto_key) ON CONFLICT (auto_key) DO NOTHING RETURNING id"
).bindparams(bindparam("opened_at", type_=UtcDateTime()),
             bindparam("explanation_due", type_=UtcDateTime()),
             bindparam("escalate_at", type_=UtcDateTime()))



class OversightEntrypoints(SupervisionBase):
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
