"""Leader instructions 领导批示件: registration, 办件/阅件, units' feedback and its
decision, 阅知, urges and the feedback-deadline sweep, lists and the summary.

Business rules in services/supervision/instructions.py; here: load, persist, record events.
``viewer`` is the caller as the gateway authenticated it: {"role", "department_code",
"via"} (via = token | api_key); visibility is decided here, not only at the edge.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, text

from services.supervision import instructions
from services.supervision.dependencies import sweep_timer
from services.supervision.entrypoints.base import SupervisionBase, _parse_instant
from services.supervision.models import (
    Instruction,
    InstructionAction,
    InstructionFeedback,
    InstructionTicket,
    InstructionUnit,
    InstructionUrge,
)
from services.supervision.schemas import (
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
from shared.business_time import BUSINESS_TZ, business_day
from shared.database import translate_db_errors
from shared.errors import Conflict, Invalid, NotFound, load_or_invalid
from shared.events import utcnow
from shared.rpc import rpc
from shared.types import UtcDateTime

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



class InstructionEntrypoints(SupervisionBase):
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
