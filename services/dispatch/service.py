"""Dispatch service (派单): routes orders to departments and owns assignments.

Departments act on their assignments here (sign-for 签收, 协办意见, 下派, reply 答复); every call
that acts for a department names it, and an assignment of another department is reported as not
found. Dispatchers review routing suggestions (预审) and dispatch by hand; administrators edit
the routing catalogue (派单目录), every change a revision with the catalogue version it made.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select

from services.dispatch import domain, reference
from services.dispatch.dependencies import Settings
from services.dispatch.models import (
    Assignment,
    AssignmentDeadline,
    CatalogueRevision,
    Department,
    DispatchDecision,
    RoutingRule,
    Territory,
    TicketCopy,
    metadata,
)
from services.dispatch.reference import ReferenceCache
from services.dispatch.schemas import (
    AssignmentSchema,
    AssistViewSchema,
    ChangeLogQuerySchema,
    DeactivateSchema,
    DecisionSchema,
    DepartmentSchema,
    InboxItemSchema,
    InboxQuerySchema,
    ManualDispatchSchema,
    OpinionSchema,
    PassDownSchema,
    QueueItemSchema,
    QueueQuerySchema,
    ReferenceSchema,
    ReplySchema,
    RevisionSchema,
    RuleCreateSchema,
    RuleListQuerySchema,
    RuleRecordSchema,
    RuleUpdateSchema,
    TerritorySchema,
)
from shared.database import Database, translate_db_errors
from shared.errors import Conflict, Invalid, NotFound, load_or_invalid
from shared.events import Event, utcnow
from shared.logs import LogContext, bind
from shared.messaging import event_handler
from shared.operations import Operations
from shared.rpc import rpc
from shared.vocabulary import CATEGORIES

_assignment = AssignmentSchema()
_inbox_item = InboxItemSchema()
_assist_view = AssistViewSchema()
_rule_record = RuleRecordSchema()
_revision = RevisionSchema()
_decision = DecisionSchema()
_queue_item = QueueItemSchema()


class DispatchService(Operations):
    name = "dispatch"

    db = Database(metadata)
    reference = ReferenceCache()
    settings = Settings()
    log_context = LogContext()

    # -- events ----------------------------------------------------------------------------
    @event_handler("ticket.registered")
    def on_ticket_registered(self, event: Event) -> None:
        """Keep a copy of the order and route it: dispatch at once, or leave it for a dispatcher."""
        if not self.db.claim(event):
            return
        d = event.data
        session = self.db.session
        if session.get(TicketCopy, d["ticket_no"]) is not None:
            self.db.commit()
            return
        ticket = TicketCopy(
            ticket_no=d["ticket_no"], registered_at=d["registered_at"], category=d["category"],
            urgency=d["urgency"], title=d["title"], content=d["content"],
            caller_name=d.get("caller_name"), phone=d.get("phone"), address=d.get("address"),
            territory_code=d.get("territory_code"), confidential=d["confidential"],
            state="pending", round=0, transfers=0, reopens=0)
        session.add(ticket)
        if d.get("resolved_at_intake"):  # answered on the spot: nothing to dispatch
            ticket.state = "resolved"
            self.db.commit()
            return
        ref = self.reference(session)
        decision = self._route(ticket)
        rule = ref.rule(decision.rule_id) if decision else None
        if self.settings.review.needs_review(ticket.category, decision, rule):
            waiting = "unmatched" if decision is None else "review"
            self._hold(ticket, waiting, decision, ref.catalogue_version)
            reason = ("派单目录无匹配规则 no routing rule matched" if decision is None else
                      f"待派单员预审 waits for a dispatcher to review the suggestion "
                      f"({decision.lead})")
            self.db.emit("ticket.pending_dispatch",
                         {"ticket_no": ticket.ticket_no, "at": utcnow(), "reason": reason},
                         ticket_no=ticket.ticket_no)
        else:
            assert decision is not None
            self._dispatch(ticket, decision.lead, decision.assists, "system", decision.rule_id,
                           kind="auto", catalogue_version=ref.catalogue_version,
                           suggestion=decision)
        self.db.commit()

    @event_handler("ticket.reopened")
    def on_ticket_reopened(self, event: Event) -> None:
        """重办: a new round for the department that led the last one (assistants are not
        re-engaged; a dispatcher can add them)."""
        if not self.db.claim(event):
            return
        no = event.data["ticket_no"]
        session = self.db.session
        ticket = session.get(TicketCopy, no)
        last_lead = session.scalar(select(Assignment).where(
            Assignment.ticket_no == no, Assignment.role == "lead",
            Assignment.state != "passed_down").order_by(Assignment.id.desc()))
        if ticket is None or last_lead is None:
            raise OutOfOrder(f"reopened {no} before its dispatch reached dispatch")
        self._dispatch(ticket, last_lead.department_code, [], event.data["actor"], None,
                       kind="reopened", reason=event.data["reason"])
        ticket.reopens += 1
        self._flag_if_problem(ticket)
        self.db.commit()

    @event_handler("assignment.return_requested", "assignment.return_decided",
                   "assignment.return_withdrawn")
    def on_return(self, event: Event) -> None:
        """退单: while the center decides, the assignment can be neither signed nor replied;
        an approved return gives the order back to the dispatchers (待派单)."""
        if not self.db.claim(event):
            return
        d = event.data
        session = self.db.session
        a = session.get(Assignment, d["assignment_id"])
        ticket = session.get(TicketCopy, d["ticket_no"])
        if a is None or ticket is None:
            raise OutOfOrder(f"return for assignment {d['assignment_id']} before its dispatch")
        if event.type == "assignment.return_requested":
            if a.state in ("dispatched", "signed"):
                a.state = "return_requested"
        elif event.type == "assignment.return_withdrawn":
            # the lead's reply stands: an approval it crossed no longer puts the order back in
            # the dispatchers' queue (unless a dispatcher has already re-dispatched it)
            if d["superseded"] == "approved" and ticket.state != "pending" \
                    and ticket.round == a.round:
                raise OutOfOrder(f"return {d['return_id']} withdrawn before its approval here")
            if ticket.state == "pending" and a.state == "replied":
                held = self._pending_decision(ticket)
                if held is not None and held.waiting_reason == "returned":
                    session.delete(held)
                ticket.state = "dispatched"
        elif d["approved"]:
            for other in session.scalars(select(Assignment).where(
                    Assignment.ticket_no == a.ticket_no, Assignment.round == a.round)):
                if other.state not in domain.FINISHED_STATES:
                    other.state = "returned"
            if ticket.state != "pending":
                ticket.state = "pending"
                # back in the dispatchers' queue; the catalogue's choice was just returned
                self._hold(ticket, "returned", None, None)
        elif a.state == "return_requested":
            a.state = "signed" if a.signed_at else "dispatched"
        elif a.state in ("dispatched", "signed"):
            # the rejection overtook its own request (two workers of this queue at once): apply
            # the request first, or it would arrive later and hold the assignment for good
            raise OutOfOrder(f"return {d['return_id']} decided before its request was applied")
        self.db.commit()

    @event_handler("assignment.clocks_started", "assignment.extension_decided")
    def on_deadline(self, event: Event) -> None:
        """Learn each assignment's handling deadline (and an approved extension's new one):
        the lead may reply once every assistant gave its opinion or ran out of time."""
        if not self.db.claim(event):
            return
        d = event.data
        session = self.db.session
        a = session.get(Assignment, d["assignment_id"])
        if a is None:
            raise OutOfOrder(f"deadline of assignment {d['assignment_id']} before its dispatch")
        # a deadline learnt after a pass-down (下派) also holds for the units it went down to
        chain = [a]
        while chain[-1].passed_to_id is not None and len(chain) < 10:
            successor = session.get(Assignment, chain[-1].passed_to_id)
            if successor is None:
                break
            chain.append(successor)
        now = utcnow()
        for link in chain:
            row = session.get(AssignmentDeadline, link.id)
            if event.type == "assignment.clocks_started":
                if row is None:
                    session.add(AssignmentDeadline(assignment_id=link.id,
                                                   handle_due=d["handle_due"], extended=False,
                                                   updated_at=now))
                elif not row.extended:  # an extension that overtook its clock keeps its due
                    row.handle_due, row.updated_at = d["handle_due"], now
            elif d["approved"] and d.get("new_due") is not None:
                if row is None:
                    session.add(AssignmentDeadline(assignment_id=link.id,
                                                   handle_due=d["new_due"], extended=True,
                                                   updated_at=now))
                else:
                    row.handle_due, row.extended, row.updated_at = d["new_due"], True, now
        self.db.commit()

    # -- commands --------------------------------------------------------------------------
    @rpc
    @translate_db_errors
    def dispatch(self, ticket_no: str, payload: dict[str, Any], actor: str) -> list[dict[str, Any]]:
        """Dispatch by a dispatcher (人工派单 / 预审) of an order waiting for one: accept the
        catalogue's suggestion (``accept_suggestion``) or name the departments — an override
        of a suggestion, recorded with the dispatcher's ``reason``. A re-dispatch after an
        approved return is a transfer (转办) and counts towards 问题工单."""
        form = load_or_invalid(ManualDispatchSchema(), payload)
        bind(ticket_no=ticket_no)
        session = self.db.session
        ticket = session.get(TicketCopy, ticket_no)
        if ticket is None:
            raise NotFound(f"工单不存在 order {ticket_no} not found", {"ticket_no": ticket_no})
        if ticket.state != "pending":
            raise Conflict(f"工单已派单，不能重复派单 order is already {ticket.state}",
                           {"action": "dispatch", "state": ticket.state})
        pending = self._pending_decision(ticket)
        suggested = (pending.suggested_lead, list(pending.suggested_assists or ())) \
            if pending is not None and pending.suggested_lead else None
        rule_id = version = None
        if form["accept_suggestion"]:
            if suggested is None:
                raise Conflict("该工单没有可采纳的派单建议 there is no suggestion to accept",
                               {"action": "accept_suggestion",
                                "state": pending.waiting_reason if pending else "unmatched"})
            lead, assists = suggested
            field_name = "accept_suggestion"
        else:
            lead = form["lead"]
            assists = domain.check_dispatch(lead, form["assists"])
            field_name = ""
        inactive = [c for c in [lead, *assists] if not self._active_department(c)]
        if inactive:
            which = field_name or ("lead" if lead in inactive else "assists")
            raise Invalid.fields({which: [f"未知部门 unknown department {', '.join(inactive)}"]})
        if suggested is not None and (lead, assists) == suggested:
            kind = "accepted"
            assert pending is not None
            rule_id, version = pending.rule_id, pending.catalogue_version
        elif suggested is not None:
            if not form["reason"]:
                raise Invalid.fields({"reason": ["改派须说明理由 overriding the suggestion "
                                                 "needs the dispatcher's reason"]})
            kind = "overridden"
        else:
            kind = "manual"
        transfer = ticket.round >= 1  # pending again after a round: an approved return
        created = self._dispatch(ticket, lead, assists, actor, rule_id, kind=kind,
                                 catalogue_version=version, reason=form["reason"])
        if transfer:
            ticket.transfers += 1
            self._flag_if_problem(ticket)
        self.db.commit()
        return [_assignment.dump(a) for a in created]

    @rpc
    @translate_db_errors
    def sign(self, assignment_id: int, department_code: str, actor: str) -> dict[str, Any]:
        """签收: the department acknowledges its assignment."""
        a = self._own_assignment(assignment_id, department_code)
        a.state = domain.next_state("sign", a.state, a.role)
        a.signed_at, a.signed_by = utcnow(), actor
        self.db.emit("assignment.signed", {
            "assignment_id": a.id, "ticket_no": a.ticket_no, "department_code": a.department_code,
            "role": a.role, "signed_at": a.signed_at, "actor": actor}, ticket_no=a.ticket_no)
        self.db.commit()
        return _assignment.dump(a)

    @rpc
    @translate_db_errors
    def reply(self, assignment_id: int, department_code: str, payload: dict[str, Any],
              actor: str) -> dict[str, Any]:
        """答复: the lead department's reply to the citizen."""
        form = load_or_invalid(ReplySchema(), payload)
        a = self._own_assignment(assignment_id, department_code)
        a.state = domain.next_state("reply", a.state, a.role)
        domain.check_reply_gate(
            [domain.AssistStatus(x.id, x.department_code, x.state, due)
             for x, due in self._assists_with_deadlines(a.ticket_no, a.round)], utcnow())
        a.replied_at, a.replied_by, a.reply = utcnow(), actor, form["reply"]
        self.db.emit("assignment.replied", {
            "assignment_id": a.id, "ticket_no": a.ticket_no, "department_code": a.department_code,
            "replied_at": a.replied_at, "actor": actor, "reply": a.reply}, ticket_no=a.ticket_no)
        self.db.commit()
        return _assignment.dump(a)

    @rpc
    @translate_db_errors
    def submit_opinion(self, assignment_id: int, department_code: str, payload: dict[str, Any],
                       actor: str) -> dict[str, Any]:
        """协办意见: an assisting department, after signing, sends its opinion to the lead."""
        form = load_or_invalid(OpinionSchema(), payload)
        a = self._own_assignment(assignment_id, department_code)
        a.state = domain.check_opinion(a.state, a.role)
        a.opinion, a.opinion_at, a.opinion_by = form["opinion"], utcnow(), actor
        self.db.emit("assignment.opinion_submitted", {
            "assignment_id": a.id, "ticket_no": a.ticket_no,
            "department_code": a.department_code, "submitted_at": a.opinion_at,
            "actor": actor, "opinion": a.opinion}, ticket_no=a.ticket_no)
        self.db.commit()
        return _assignment.dump(a)

    @rpc
    @translate_db_errors
    def pass_down(self, assignment_id: int, department_code: str, payload: dict[str, Any],
                  actor: str) -> dict[str, Any]:
        """下派: a district or street government passes its assignment to one of its own units.

        The old assignment ends (``passed_down``); the unit gets a new one with the same role
        and round, which takes over the old one's clocks (supervision) and deadline (here).
        """
        form = load_or_invalid(PassDownSchema(), payload)
        session = self.db.session
        a = self._own_assignment(assignment_id, department_code)
        round_rows = list(session.scalars(select(Assignment).where(
            Assignment.ticket_no == a.ticket_no, Assignment.round == a.round)))
        a.state = domain.check_pass_down(
            a.state, a.role, _unit(session.get(Department, a.department_code)),
            _unit(session.get(Department, form["department_code"])),
            return_pending=any(r.state == "return_requested" for r in round_rows),
            round_departments=[r.department_code for r in round_rows
                               if r.state != "passed_down"])
        now = utcnow()
        child = Assignment(ticket_no=a.ticket_no, department_code=form["department_code"],
                           role=a.role, round=a.round, state="dispatched", dispatched_at=now,
                           dispatched_by=actor, rule_id=a.rule_id,
                           catalogue_version=a.catalogue_version, passed_from_id=a.id,
                           pass_down_note=form["note"])
        session.add(child)
        session.flush()
        a.passed_to_id = child.id
        deadline = session.get(AssignmentDeadline, a.id)
        if deadline is not None:
            session.add(AssignmentDeadline(assignment_id=child.id, handle_due=deadline.handle_due,
                                           extended=deadline.extended, updated_at=now))
        self.db.emit("assignment.passed_down", {
            "ticket_no": a.ticket_no, "assignment_id": a.id, "new_assignment_id": child.id,
            "from_department": a.department_code, "to_department": child.department_code,
            "role": a.role, "at": now, "actor": actor, "note": form["note"]},
            ticket_no=a.ticket_no)
        self.db.commit()
        return _assignment.dump(child)

    # -- the routing catalogue (派单目录), admin ------------------------------------------------
    @rpc
    @translate_db_errors
    def list_rules(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        q = load_or_invalid(RuleListQuerySchema(), query or {})
        session = self.db.session
        stmt = select(RoutingRule).order_by(RoutingRule.id)
        if q["active"] is not None:
            stmt = stmt.where(RoutingRule.active.is_(q["active"]))
        return {"catalogue_version": reference.catalogue_version(session),
                "items": [_rule_record.dump(r) for r in session.scalars(stmt)]}

    @rpc
    @translate_db_errors
    def create_rule(self, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        form = load_or_invalid(RuleCreateSchema(), payload)
        comment = form.pop("comment")
        session = self.db.session
        self._check_rule(form)
        rule = RoutingRule(**form, active=True)
        session.add(rule)
        session.flush()
        version = reference.next_catalogue_version(session)
        self._record_revision(rule, None, version, actor, comment)
        self.db.commit()
        return {**_rule_record.dump(rule), "catalogue_version": version}

    @rpc
    @translate_db_errors
    def update_rule(self, rule_id: int, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """Change the fields given; an unchanged rule makes no revision and keeps the version."""
        form = load_or_invalid(RuleUpdateSchema(), payload)
        comment = form.pop("comment", None)
        return self._change_rule(rule_id, form, actor, comment, deactivate=False)

    @rpc
    @translate_db_errors
    def deactivate_rule(self, rule_id: int, payload: dict[str, Any] | None,
                        actor: str) -> dict[str, Any]:
        form = load_or_invalid(DeactivateSchema(), payload or {})
        return self._change_rule(rule_id, {"active": False}, actor, form["comment"],
                                 deactivate=True)

    @rpc
    @translate_db_errors
    def rule_history(self, rule_id: int) -> dict[str, Any]:
        session = self.db.session
        rule = session.get(RoutingRule, rule_id)
        if rule is None:
            raise NotFound(f"派单规则不存在 rule {rule_id} not found", {"rule_id": rule_id})
        rows = session.scalars(select(CatalogueRevision).where(
            CatalogueRevision.rule_id == rule_id).order_by(CatalogueRevision.id))
        return {"rule": _rule_record.dump(rule), "items": [_revision.dump(r) for r in rows]}

    @rpc
    @translate_db_errors
    def catalogue_changes(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """The catalogue's change log, oldest first, cursor-paged by revision id."""
        q = load_or_invalid(ChangeLogQuerySchema(), query or {})
        session = self.db.session
        stmt = select(CatalogueRevision).order_by(CatalogueRevision.id).limit(q["limit"] + 1)
        if q["cursor"]:
            stmt = stmt.where(CatalogueRevision.id > q["cursor"])
        rows = list(session.scalars(stmt))
        more = len(rows) > q["limit"]
        rows = rows[: q["limit"]]
        return {"catalogue_version": reference.catalogue_version(session),
                "items": [_revision.dump(r) for r in rows],
                "next_cursor": rows[-1].id if more else None}

    # -- queries ---------------------------------------------------------------------------
    @rpc
    @translate_db_errors
    def queue(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """待派单: orders waiting for a dispatcher, oldest first, with the catalogue's
        suggestion (lead, assists, rule, catalogue version, reasons) where there is one."""
        q = load_or_invalid(QueueQuerySchema(), query or {})
        session = self.db.session
        d = DispatchDecision
        stmt = (select(TicketCopy, d)
                .outerjoin(d, and_(d.ticket_no == TicketCopy.ticket_no,
                                   d.round == TicketCopy.round + 1))
                .where(TicketCopy.state == "pending")
                .order_by(TicketCopy.ticket_no).limit(q["limit"] + 1))
        if q["cursor"]:
            stmt = stmt.where(TicketCopy.ticket_no > q["cursor"])
        rows = list(session.execute(stmt))
        more = len(rows) > q["limit"]
        rows = rows[: q["limit"]]
        items = []
        for t, dec in rows:
            suggestion = None
            if dec is not None and dec.suggested_lead:
                suggestion = {"lead": dec.suggested_lead, "assists": dec.suggested_assists,
                              "rule_id": dec.rule_id, "catalogue_version": dec.catalogue_version,
                              "reasons": dec.reasons}
            items.append(_queue_item.dump({
                **{c: getattr(t, c) for c in ("ticket_no", "registered_at", "category", "urgency",
                                              "title", "content", "address", "territory_code",
                                              "confidential")},
                "round": t.round + 1, "waiting_reason": dec.waiting_reason if dec else None,
                "suggestion": suggestion}))
        return {"items": items, "next_cursor": rows[-1][0].ticket_no if more else None}

    @rpc
    @translate_db_errors
    def dispatch_history(self, ticket_no: str) -> list[dict[str, Any]]:
        """Each dispatch round of an order: suggestion, decision, who and why."""
        rows = self.db.session.scalars(select(DispatchDecision).where(
            DispatchDecision.ticket_no == ticket_no).order_by(DispatchDecision.round))
        return [_decision.dump(r) for r in rows]

    @rpc
    @translate_db_errors
    def inbox(self, department_code: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """A department's assignments, oldest first, cursor-paged by assignment id."""
        q = load_or_invalid(InboxQuerySchema(), query or {})
        session = self.db.session
        if session.get(Department, department_code) is None:
            raise NotFound(f"部门不存在 department {department_code} not found",
                           {"department_code": department_code})
        stmt = (select(Assignment, TicketCopy).join(TicketCopy)
                .where(Assignment.department_code == department_code)
                .order_by(Assignment.id).limit(q["limit"] + 1))
        if q["cursor"]:
            stmt = stmt.where(Assignment.id > q["cursor"])
        if q["state"]:
            stmt = stmt.where(Assignment.state == q["state"])
        rows = list(session.execute(stmt))
        more = len(rows) > q["limit"]
        rows = rows[: q["limit"]]
        views = self._assist_views({(a.ticket_no, a.round) for a, _ in rows if a.role == "lead"})
        items = [_inbox_item.dump({**_merge(a, t), "assists": views.get((a.ticket_no, a.round), [])
                                   if a.role == "lead" else []}) for a, t in rows]
        return {"items": items, "next_cursor": rows[-1][0].id if more else None}

    @rpc
    @translate_db_errors
    def assignments_of(self, ticket_no: str) -> list[dict[str, Any]]:
        rows = self.db.session.scalars(
            select(Assignment).where(Assignment.ticket_no == ticket_no).order_by(Assignment.id))
        return [_assignment.dump(a) for a in rows]

    @rpc
    @translate_db_errors
    def get_assignment(self, assignment_id: int,
                       department_code: str | None = None) -> dict[str, Any]:
        """One assignment; for a lead, its round's assistants with their opinions. With
        ``department_code``, only that department's own assignment is found."""
        a = self.db.session.get(Assignment, assignment_id)
        if a is None or (department_code is not None and a.department_code != department_code):
            raise NotFound(f"任务不存在 assignment {assignment_id} not found",
                           {"assignment_id": assignment_id})
        assists = self._assist_views({(a.ticket_no, a.round)}).get((a.ticket_no, a.round), []) \
            if a.role == "lead" else []
        return {**_assignment.dump(a), "assists": [_assist_view.dump(v) for v in assists]}

    @rpc
    @translate_db_errors
    def departments(self) -> list[dict[str, Any]]:
        rows = self.db.session.scalars(select(Department).order_by(Department.code))
        return [DepartmentSchema().dump(d) for d in rows]

    @rpc
    @translate_db_errors
    def territories(self) -> list[dict[str, Any]]:
        rows = self.db.session.scalars(select(Territory).order_by(Territory.code))
        return [TerritorySchema().dump(t) for t in rows]

    @rpc
    @translate_db_errors
    def get_territory(self, code: str) -> dict[str, Any]:
        territory = self.db.session.get(Territory, code)
        if territory is None:
            raise NotFound(f"属地不存在 territory {code} not found", {"territory_code": code})
        return TerritorySchema().dump(territory)

    @rpc
    @translate_db_errors
    def load_reference(self, payload: dict[str, Any], actor: str = "system") -> dict[str, int]:
        """Insert or update territories, departments and routing rules (admin, demo data).

        The rules of one load are one catalogue version, each change a revision."""
        data = load_or_invalid(ReferenceSchema(), payload)
        session = self.db.session
        for t in _parents_first(data["territories"]):
            session.merge(Territory(**t))
            session.flush()
        for dep in _parents_first(data["departments"]):
            session.merge(Department(**dep))
            session.flush()
        changed: list[tuple[RoutingRule, dict[str, Any] | None]] = []
        for r in data["rules"]:
            rule_id = r.pop("id", None)
            self._check_rule(r, field_prefix="rules")
            existing = session.get(RoutingRule, rule_id) if rule_id is not None else None
            if existing is None:
                rule = RoutingRule(id=rule_id, **r)
                session.add(rule)
                changed.append((rule, None))
            else:
                before = _rule_snapshot(existing)
                for k, v in r.items():
                    setattr(existing, k, v)
                if domain.rule_diff(before, _rule_snapshot(existing)):
                    changed.append((existing, before))
        if changed:
            session.flush()
            version = reference.next_catalogue_version(session)
            for rule, before in changed:
                self._record_revision(rule, before, version, actor, "load_reference")
        reference.bump_version(session)
        self.db.commit()
        return {k: len(v) for k, v in data.items()}

    @rpc
    @translate_db_errors
    def dispatched_without_assignments(self) -> list[str]:
        """Orders marked dispatched that have no assignment (reconciliation)."""
        has_assignment = select(Assignment.id).where(Assignment.ticket_no == TicketCopy.ticket_no)
        rows = self.db.session.scalars(select(TicketCopy.ticket_no).where(
            TicketCopy.state == "dispatched", ~has_assignment.exists()).limit(1000))
        return list(rows)

    @rpc
    @translate_db_errors
    def rule_count(self) -> int:
        return int(self.db.session.scalar(select(func.count()).select_from(RoutingRule)) or 0)

    # -- helpers ---------------------------------------------------------------------------
    def _own_assignment(self, assignment_id: int, department_code: str) -> Assignment:
        a = self.db.session.get(Assignment, assignment_id)
        if a is None or a.department_code != department_code:
            # another department's assignment is indistinguishable from a missing one
            raise NotFound(f"任务不存在 assignment {assignment_id} not found",
                           {"assignment_id": assignment_id})
        bind(ticket_no=a.ticket_no)
        return a

    def _active_department(self, code: str) -> bool:
        dep = self.db.session.get(Department, code)
        return dep is not None and dep.active

    def _assists_with_deadlines(self, ticket_no: str,
                                round_: int) -> list[tuple[Assignment, Any]]:
        rows = self.db.session.execute(
            select(Assignment, AssignmentDeadline.handle_due)
            .outerjoin(AssignmentDeadline, AssignmentDeadline.assignment_id == Assignment.id)
            .where(Assignment.ticket_no == ticket_no, Assignment.round == round_,
                   Assignment.role == "assist").order_by(Assignment.id))
        return [(a, due) for a, due in rows]

    def _assist_views(self, rounds: set[tuple[str, int]]) -> dict[tuple[str, int], list[Any]]:
        """The assistants of each (order, round), as their lead sees them (not yet dumped):
        one query."""
        if not rounds:
            return {}
        rows = self.db.session.execute(
            select(Assignment, AssignmentDeadline.handle_due)
            .outerjoin(AssignmentDeadline, AssignmentDeadline.assignment_id == Assignment.id)
            .where(Assignment.ticket_no.in_({no for no, _ in rounds}),
                   Assignment.role == "assist").order_by(Assignment.id))
        views: dict[tuple[str, int], list[Any]] = {}
        for a, due in rows:
            if (a.ticket_no, a.round) in rounds:
                views.setdefault((a.ticket_no, a.round), []).append({
                    "assignment_id": a.id, "department_code": a.department_code,
                    "state": a.state, "opinion": a.opinion, "opinion_at": a.opinion_at,
                    "opinion_by": a.opinion_by, "handle_due": due})
        return views

    def _pending_decision(self, ticket: TicketCopy) -> DispatchDecision | None:
        return self.db.session.scalar(select(DispatchDecision).where(
            DispatchDecision.ticket_no == ticket.ticket_no,
            DispatchDecision.round == ticket.round + 1))

    def _hold(self, ticket: TicketCopy, waiting_reason: str,
              suggestion: domain.RoutingDecision | None, catalogue_version: int | None) -> None:
        """预审 / 待派单: the order waits for a dispatcher, keeping the catalogue's suggestion."""
        row = self._pending_decision(ticket)
        if row is None:
            row = DispatchDecision(ticket_no=ticket.ticket_no, round=ticket.round + 1,
                                   created_at=utcnow(), decision="pending")
            self.db.session.add(row)
        row.waiting_reason = waiting_reason
        row.suggested_lead = suggestion.lead if suggestion else None
        row.suggested_assists = list(suggestion.assists) if suggestion else []
        row.rule_id = suggestion.rule_id if suggestion else None
        row.catalogue_version = catalogue_version if suggestion else None
        row.reasons = list(suggestion.reasons) if suggestion else []
        row.assists = []

    def _flag_if_problem(self, ticket: TicketCopy) -> None:
        reason = domain.problem_reason(ticket.transfers, ticket.reopens,
                                       self.settings.problem_threshold,
                                       ticket.problem_flagged_at is not None)
        if reason is None:
            return
        ticket.problem_flagged_at = utcnow()
        self.db.emit("ticket.problem_flagged", {
            "ticket_no": ticket.ticket_no, "at": ticket.problem_flagged_at,
            "transfers": ticket.transfers, "reopens": ticket.reopens, "reason": reason},
            ticket_no=ticket.ticket_no)

    def _check_rule(self, rule: dict[str, Any], field_prefix: str | None = None) -> None:
        session = self.db.session
        try:
            domain.check_rule_targets(
                rule,
                departments=set(session.scalars(select(Department.code).where(
                    Department.active.is_(True)))),
                territories=set(session.scalars(select(Territory.code))),
                categories=CATEGORIES)
        except Invalid as exc:
            if field_prefix is None:
                raise
            raise Invalid.fields({field_prefix: exc.details["fields"]}) from None

    def _change_rule(self, rule_id: int, changes: dict[str, Any], actor: str,
                     comment: str | None, *, deactivate: bool) -> dict[str, Any]:
        session = self.db.session
        rule = session.get(RoutingRule, rule_id)
        if rule is None:
            raise NotFound(f"派单规则不存在 rule {rule_id} not found", {"rule_id": rule_id})
        if deactivate and not rule.active:
            raise Conflict("该规则已停用 the rule is already inactive",
                           {"action": "deactivate", "state": "inactive"})
        before = _rule_snapshot(rule)
        after = {**before, **changes}
        if not deactivate:
            self._check_rule(after)
        if not domain.rule_diff(before, after):
            return {**_rule_record.dump(rule),
                    "catalogue_version": reference.catalogue_version(session)}
        for k, v in changes.items():
            setattr(rule, k, v)
        session.flush()
        version = reference.next_catalogue_version(session)
        self._record_revision(rule, before, version, actor, comment)
        self.db.commit()
        return {**_rule_record.dump(rule), "catalogue_version": version}

    def _record_revision(self, rule: RoutingRule, before: dict[str, Any] | None, version: int,
                         actor: str, note: str | None) -> None:
        after = _rule_snapshot(rule)
        self.db.session.add(CatalogueRevision(
            catalogue_version=version, rule_id=rule.id,
            action=domain.revision_action(before, after), actor=actor, at=utcnow(),
            before=before, after=after, changes=domain.rule_diff(before, after), note=note))

    def _route(self, ticket: TicketCopy) -> domain.RoutingDecision | None:
        ref = self.reference(self.db.session)
        order = domain.OrderFacts(category=ticket.category, title=ticket.title,
                                  content=ticket.content, territory_code=ticket.territory_code)
        decision = domain.route(order, ref.rules, ref.parents, ref.levels, ref.government)
        if decision is None or decision.lead not in ref.departments:
            return None
        decision.assists = [a for a in decision.assists if a in ref.departments]
        return decision

    def _dispatch(self, ticket: TicketCopy, lead: str, assists: list[str], actor: str,
                  rule_id: int | None, *, kind: str, catalogue_version: int | None = None,
                  reason: str | None = None,
                  suggestion: domain.RoutingDecision | None = None) -> list[Assignment]:
        now = utcnow()
        decision = self._pending_decision(ticket)
        if decision is None:
            decision = DispatchDecision(ticket_no=ticket.ticket_no, round=ticket.round + 1,
                                        created_at=now)
            self.db.session.add(decision)
            if suggestion is not None:
                decision.suggested_lead = suggestion.lead
                decision.suggested_assists = list(suggestion.assists)
                decision.rule_id, decision.reasons = suggestion.rule_id, list(suggestion.reasons)
                decision.catalogue_version = catalogue_version
        decision.decision, decision.decided_at, decision.decided_by = kind, now, actor
        decision.lead, decision.assists, decision.reason = lead, list(assists), reason
        ticket.round += 1
        ticket.state = "dispatched"
        created = [Assignment(ticket_no=ticket.ticket_no, department_code=code, role=role,
                              round=ticket.round, state="dispatched", dispatched_at=now,
                              dispatched_by=actor, rule_id=rule_id,
                              catalogue_version=catalogue_version if rule_id else None)
                   for code, role in [(lead, "lead"), *[(a, "assist") for a in assists]]]
        self.db.session.add_all(created)
        self.db.session.flush()
        self.db.emit("ticket.dispatched", {
            "ticket_no": ticket.ticket_no, "dispatched_at": now, "actor": actor,
            "round": ticket.round, "category": ticket.category, "urgency": ticket.urgency,
            "rule_id": rule_id,
            "assignments": [{"assignment_id": a.id, "department_code": a.department_code,
                             "role": a.role} for a in created]}, ticket_no=ticket.ticket_no)
        return created


class OutOfOrder(Exception):
    """A fact arrived before the fact it depends on; retried later."""


def _merge(a: Assignment, t: TicketCopy) -> dict[str, Any]:
    item = {c: getattr(a, c) for c in AssignmentSchema().fields}
    for c in ("category", "urgency", "title", "content", "caller_name", "phone", "address",
              "territory_code", "confidential"):
        item[c] = getattr(t, c)
    return item


def _unit(dep: Department | None) -> domain.Unit | None:
    return None if dep is None else domain.Unit(code=dep.code, kind=dep.kind,
                                                parent_code=dep.parent_code, active=dep.active)


def _rule_snapshot(rule: RoutingRule) -> dict[str, Any]:
    return {"category": rule.category, "keywords": list(rule.keywords or ()),
            "territory_code": rule.territory_code, "lead": rule.lead,
            "assists": list(rule.assists or ()), "priority": rule.priority,
            "active": bool(rule.active), "note": rule.note}


def _parents_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order rows so that each parent comes before its children (foreign keys)."""
    by_code = {r["code"]: r for r in rows}
    ordered: list[dict[str, Any]] = []
    seen: set[str] = set()

    def visit(r: dict[str, Any]) -> None:
        if r["code"] in seen:
            return
        seen.add(r["code"])
        parent = r.get("parent_code")
        if parent in by_code:
            visit(by_code[parent])
        ordered.append(r)

    for r in rows:
        visit(r)
    return ordered
