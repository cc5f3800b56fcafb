"""Dispatch service (派单): routes orders to departments and owns assignments.

Departments act on their assignments here (sign-for 签收, 协办意见, 下派, reply 答复); every call
that acts for a department names it, and an assignment of another department is reported as not
found. Dispatchers review routing suggestions (预审) and dispatch by hand; administrators edit
the routing catalogue (派单目录), every change a revision with the catalogue version it made.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select

from services.dispatch import domain, feed, reference
from services.dispatch import endpoints as endpoint_rules
from services.dispatch.deliverer import Deliverer
from services.dispatch.dependencies import Settings
from services.dispatch.models import (
    Assignment,
    AssignmentDeadline,
    CatalogueRevision,
    Delivery,
    DeliveryAttempt,
    Department,
    DispatchDecision,
    Endpoint,
    FeedEntry,
    ProgressNote,
    RoutingRule,
    Territory,
    TicketCopy,
    metadata,
)
from services.dispatch.reference import ReferenceCache
from services.dispatch.schemas import (
    AssignmentSchema,
    AssistViewSchema,
    AttemptRecordSchema,
    ChangeLogQuerySchema,
    DeactivateSchema,
    DecisionSchema,
    DeliveryQuerySchema,
    DeliveryRecordSchema,
    DepartmentSchema,
    EndpointCreateSchema,
    EndpointRecordSchema,
    FeedQuerySchema,
    InboxItemSchema,
    InboxQuerySchema,
    ManualDispatchSchema,
    OpinionSchema,
    PassDownSchema,
    ProgressRecordSchema,
    ProgressSchema,
    QueueItemSchema,
    QueueQuerySchema,
    RecallSchema,
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
_endpoint_record = EndpointRecordSchema()
_delivery_record = DeliveryRecordSchema()
_attempt_record = AttemptRecordSchema()
_progress = ProgressRecordSchema()


class DispatchService(Operations):
    name = "dispatch"

    db = Database(metadata)
    reference = ReferenceCache()
    settings = Settings()
    deliverer = Deliverer()
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
            caller_privacy=bool(d.get("caller_privacy")),
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
                         {"ticket_no": ticket.ticket_no, "at": utcnow(), "reason": reason,
                          "waiting_reason": waiting}, ticket_no=ticket.ticket_no)
        else:
            assert decision is not None
            created = self._dispatch(ticket, decision.lead, decision.assists, "system",
                                     decision.rule_id, kind="auto",
                                     catalogue_version=ref.catalogue_version,
                                     suggestion=decision)
            self._feed(ticket, self._dispatched_entries(ticket, created))
        self._commit()

    @event_handler("kb.departments_suggested")
    def on_departments_suggested(self, event: Event) -> None:
        """派单辅助: the knowledge base's ranking for an order waiting without a catalogue
        suggestion (no rule matched; back after an approved return or a recall) becomes the
        suggestion of its held round (lead only; the reasons and the alternatives kept) — one
        that arrives after a dispatcher acted is moot. With ``DISPATCH_KB_AUTO`` enabled and a
        top that is clear enough, the order is dispatched to it at once."""
        if not self.db.claim(event):
            return
        d = event.data
        session = self.db.session
        ticket = session.get(TicketCopy, d["ticket_no"])
        if (ticket is not None and ticket.state != "pending" and d.get("round") == ticket.round + 1
                and session.scalar(select(Assignment.id).where(
                    Assignment.ticket_no == ticket.ticket_no, Assignment.round == ticket.round,
                    Assignment.state == "return_requested").limit(1)) is not None):
            # knowledge learnt of the approved return before dispatch did: apply it first
            raise OutOfOrder(f"suggestion for round {d['round']} of {ticket.ticket_no} before "
                             f"its return was approved here")
        held = self._pending_decision(ticket) if ticket and ticket.state == "pending" else None
        usable = [s for s in d["suggestions"] if self._active_department(s["department_code"])]
        if (held is None or held.suggested_lead or not usable
                or d.get("round") not in (None, held.round)):
            self.db.commit()
            return
        top = usable[0]
        held.suggested_lead, held.suggested_assists = top["department_code"], []
        held.rule_id = held.catalogue_version = None
        held.reasons = list(top["reasons"])
        held.suggestion_source = "knowledge"
        held.suggestion_detail = {"score": top["score"], "confidence": d.get("confidence"),
                                  "alternatives": usable[1:]}
        if self.settings.kb_auto.allows(top["score"], d.get("confidence")):
            assert ticket is not None
            created = self._dispatch(ticket, top["department_code"], [], "knowledge", None,
                                     kind="auto")
            self._feed(ticket, self._dispatched_entries(ticket, created))
        self._commit()

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
        created = self._dispatch(ticket, last_lead.department_code, [], event.data["actor"],
                                 None, kind="reopened", reason=event.data["reason"])
        ticket.reopens += 1
        self._flag_if_problem(ticket)
        # 重办 in the lead's feed: the reopening, then the new round's assignment
        self._feed(ticket, [self._entry(last_lead, "assignment.reopened", {
            "reason": event.data["reason"], "round": ticket.round,
            "new_assignment_id": created[0].id})] + self._dispatched_entries(ticket, created))
        self._commit()

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
            # (an approval of a round the center has recalled since does not hold the order)
            if ticket.state != "pending" and a.round == ticket.round:
                ticket.state = "pending"
                # back in the dispatchers' queue; the catalogue's choice was just returned
                self._hold(ticket, "returned", None, None)
        elif a.state == "return_requested":
            a.state = "signed" if a.signed_at else "dispatched"
        elif a.state in ("dispatched", "signed"):
            # the rejection overtook its own request (two workers of this queue at once): apply
            # the request first, or it would arrive later and hold the assignment for good
            raise OutOfOrder(f"return {d['return_id']} decided before its request was applied")
        if event.type == "assignment.return_decided":
            self._feed(ticket, [self._entry(a, "assignment.return_decided", {
                "return_id": d["return_id"], "approved": d["approved"], "note": d.get("note"),
                "at": d["at"]})])
        self._commit()

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
        holder = chain[-1]  # the unit holding the assignment now (after any 下派)
        ticket = session.get(TicketCopy, a.ticket_no)
        if event.type == "assignment.clocks_started":
            entry = self._entry(holder, "assignment.deadlines_set", {
                "started_at": d["started_at"], "sign_due": d["sign_due"],
                "handle_due": d["handle_due"], "policy": d["policy"]})
        else:
            entry = self._entry(holder, "assignment.extension_decided", {
                "extension_id": d["extension_id"], "approved": d["approved"],
                "old_due": d["old_due"], "new_due": d.get("new_due"), "note": d.get("note"),
                "at": d["at"]})
        if holder.state != "recalled":  # a recalled assignment's department is told no more
            self._feed(ticket, [entry])
        self._commit()

    @event_handler("ticket.urged", "ticket.supervised")
    def on_oversight(self, event: Event) -> None:
        """催办 and 督办单 reach the urged / supervised department's feed (a 督办单 of a whole
        problem order, with no assignment, has no department feed to go to)."""
        if not self.db.claim(event):
            return
        d = event.data
        session = self.db.session
        if d.get("assignment_id") is None:
            self.db.commit()
            return
        a = session.get(Assignment, d["assignment_id"])
        if a is None:
            raise OutOfOrder(f"{event.type} of assignment {d['assignment_id']} before its "
                             f"dispatch")
        if event.type == "ticket.urged":
            entry = self._entry(a, "assignment.urged", {
                "urge_id": d["urge_id"], "clock": d["clock"], "kind": d["kind"],
                "channel": d["channel"], "note": d.get("note"), "issued_at": d["issued_at"]})
        else:
            entry = self._entry(a, "assignment.supervised", {
                "supervision_order_id": d["supervision_order_id"], "source": d["source"],
                "explanation_due": d["explanation_due"], "note": d.get("note"),
                "opened_at": d["opened_at"]})
        if a.state != "recalled":
            self._feed(session.get(TicketCopy, a.ticket_no), [entry])
        self._commit()

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
            # the catalogue's suggestion is the city's rule: departing from it is explained; the
            # knowledge base's is evidence offered to the dispatcher, who may simply choose
            assert pending is not None
            if not form["reason"] and pending.suggestion_source != "knowledge":
                raise Invalid.fields({"reason": ["改派须说明理由 overriding the suggestion "
                                                 "needs the dispatcher's reason"]})
            kind = "overridden"
        else:
            kind = "manual"
        # pending again after a round: an approved return (转办), or the center's own recall
        # (撤回派单, not the department's doing: not counted towards 问题工单)
        transfer = ticket.round >= 1 and (pending is None or pending.waiting_reason != "recalled")
        created = self._dispatch(ticket, lead, assists, actor, rule_id, kind=kind,
                                 catalogue_version=version, reason=form["reason"])
        if transfer:
            ticket.transfers += 1
            self._flag_if_problem(ticket)
        self._feed(ticket, self._dispatched_entries(ticket, created))
        self._commit()
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
        ticket = session.get(TicketCopy, a.ticket_no)
        self._feed(ticket, self._dispatched_entries(ticket, [child]))
        self._commit()
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
        """待派单: orders waiting for a dispatcher, oldest first, with the suggestion where
        there is one: the catalogue's (lead, assists, rule, catalogue version, reasons; source
        ``catalogue``) or, for an order no rule matched, the knowledge base's (lead, reasons,
        score, confidence, alternatives; source ``knowledge``)."""
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
                              "reasons": dec.reasons,
                              "source": dec.suggestion_source or "catalogue",
                              **(dec.suggestion_detail or {})}
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
        notes = self.db.session.scalars(select(ProgressNote).where(
            ProgressNote.assignment_id == a.id).order_by(ProgressNote.id))
        return {**_assignment.dump(a), "assists": [_assist_view.dump(v) for v in assists],
                "progress": [_progress.dump(n) for n in notes]}

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

    # -- Step 3: recall (撤回派单) and progress (办理进展) -------------------------------------
    @rpc
    @translate_db_errors
    def recall(self, ticket_no: str, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """撤回派单: withdraw the current round (sent to the wrong department) while its lead has
        not replied; its assignments stop (``recalled``) and the order waits for a dispatcher
        again (预审 queue, waiting reason ``recalled``)."""
        form = load_or_invalid(RecallSchema(), payload or {})
        bind(ticket_no=ticket_no)
        session = self.db.session
        ticket = session.get(TicketCopy, ticket_no)
        if ticket is None:
            raise NotFound(f"工单不存在 order {ticket_no} not found", {"ticket_no": ticket_no})
        if ticket.state != "dispatched":
            raise Conflict(f"工单当前不在派单状态，不能撤回 order is {ticket.state}, not dispatched",
                           {"action": "recall", "state": ticket.state})
        round_rows = list(session.scalars(select(Assignment).where(
            Assignment.ticket_no == ticket_no, Assignment.round == ticket.round)
            .order_by(Assignment.id)))
        lead = next((a for a in round_rows if a.role == "lead" and a.state != "passed_down"),
                    None)
        if lead is not None and lead.state == "replied":
            raise Conflict("主办单位已答复，不能撤回 the lead department has replied",
                           {"action": "recall", "state": "replied"})
        recalled = [a for a in round_rows if a.state not in ("passed_down", "returned")]
        now = utcnow()
        for a in recalled:
            a.state = "recalled"
        ticket.state = "pending"
        self._hold(ticket, "recalled", None, None)
        ids = [a.id for a in recalled]
        departments = list(dict.fromkeys(a.department_code for a in recalled))
        self.db.emit("ticket.recalled", {
            "ticket_no": ticket_no, "round": ticket.round, "at": now, "actor": actor,
            "reason": form["reason"], "assignment_ids": ids, "departments": departments},
            ticket_no=ticket_no)
        self._feed(ticket, [self._entry(a, "assignment.recalled", {
            "reason": form["reason"], "round": ticket.round, "at": now}) for a in recalled])
        self._commit()
        return {"ticket_no": ticket_no, "round": ticket.round, "assignment_ids": ids}

    @rpc
    @translate_db_errors
    def note_progress(self, assignment_id: int, department_code: str, payload: dict[str, Any],
                      actor: str) -> dict[str, Any]:
        """办理进展: the department's note on its open assignment (no clock moves)."""
        form = load_or_invalid(ProgressSchema(), payload or {})
        a = self._own_assignment(assignment_id, department_code)
        if a.state not in endpoint_rules.PROGRESS_STATES:
            raise Conflict(f"当前状态「{domain.STATE_NAMES.get(a.state, a.state)}」不能记录办理进展 "
                           f"the assignment is no longer open",
                           {"action": "note_progress", "state": a.state})
        note = ProgressNote(assignment_id=a.id, ticket_no=a.ticket_no,
                            department_code=a.department_code, note=form["note"], at=utcnow(),
                            actor=actor)
        self.db.session.add(note)
        self.db.session.flush()
        self.db.emit("assignment.progress_noted", {
            "note_id": note.id, "assignment_id": a.id, "ticket_no": a.ticket_no,
            "department_code": a.department_code, "note": note.note, "at": note.at,
            "actor": actor}, ticket_no=a.ticket_no)
        self.db.commit()
        return _progress.dump(note)

    # -- Step 3: the department feed (部门消息流), pulled ------------------------------------------
    @rpc
    @translate_db_errors
    def feed(self, department_code: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """A department's feed entries after ``cursor`` (a seq), oldest first; ``next_cursor``
        is the last item's seq (None when there are none: keep the cursor you have)."""
        q = load_or_invalid(FeedQuerySchema(), query or {})
        session = self.db.session
        if session.get(Department, department_code) is None:
            raise NotFound(f"部门不存在 department {department_code} not found",
                           {"department_code": department_code})
        stmt = (select(FeedEntry).where(FeedEntry.department_code == department_code)
                .order_by(FeedEntry.seq).limit(q["limit"]))
        if q["cursor"] is not None:
            stmt = stmt.where(FeedEntry.seq > q["cursor"])
        items = [feed.body_of(e) for e in session.scalars(stmt)]
        return {"items": items, "next_cursor": items[-1]["seq"] if items else None}

    # -- Step 3: endpoints (部门对接方式), admin -----------------------------------------------
    @rpc
    @translate_db_errors
    def create_endpoint(self, department_code: str, payload: dict[str, Any],
                        actor: str) -> dict[str, Any]:
        """A department's endpoint; it supersedes the active one of the same (department,
        category), in this transaction (no moment without one). A webhook's secret is in this
        answer only (and in a rotation's)."""
        form = load_or_invalid(EndpointCreateSchema(), payload or {})
        session = self.db.session
        if session.get(Department, department_code) is None:
            raise NotFound(f"部门不存在 department {department_code} not found",
                           {"department_code": department_code})
        if form["category"] is not None and form["category"] not in CATEGORIES:
            raise Invalid.fields({"category": [f"未知类别 unknown category {form['category']}"]})
        url = secret = None
        if form["kind"] == "webhook":
            url = endpoint_rules.check_webhook_url(form["url"])
            secret = endpoint_rules.new_secret()
        elif form["url"] is not None:
            raise Invalid.fields({"url": ["只有 webhook 端点有 URL only a webhook endpoint has "
                                          "a url"]})
        now = utcnow()
        slot = endpoint_rules.slot(form["category"])
        old = session.scalar(select(Endpoint).where(Endpoint.department_code == department_code,
                                                    Endpoint.active_slot == slot))
        if old is not None:
            self._deactivate(old, actor, now)
            session.flush()
        ep = Endpoint(department_code=department_code, category=form["category"],
                      kind=form["kind"], url=url, secret=secret,
                      timeout_seconds=form["timeout_seconds"], active=True, active_slot=slot,
                      created_at=now, created_by=actor)
        session.add(ep)
        session.flush()
        self.db.commit()
        result = {**_endpoint_record.dump(ep), "replaced_endpoint_id": old.id if old else None}
        if secret is not None:
            result["secret"] = secret
        return result

    @rpc
    @translate_db_errors
    def list_endpoints(self, department_code: str) -> dict[str, Any]:
        session = self.db.session
        if session.get(Department, department_code) is None:
            raise NotFound(f"部门不存在 department {department_code} not found",
                           {"department_code": department_code})
        rows = session.scalars(select(Endpoint).where(
            Endpoint.department_code == department_code).order_by(Endpoint.id))
        return {"items": [_endpoint_record.dump(e) for e in rows]}

    @rpc
    @translate_db_errors
    def rotate_endpoint_secret(self, endpoint_id: int, actor: str) -> dict[str, Any]:
        """A new secret for an active webhook, effective at once (every attempt is signed
        anew); the old one stops working."""
        ep = self._endpoint(endpoint_id)
        if not ep.active or ep.kind != "webhook":
            raise Conflict("只有启用中的 webhook 端点有密钥 only an active webhook has a secret",
                           {"action": "rotate_secret",
                            "state": ep.kind if ep.active else "inactive"})
        ep.secret = endpoint_rules.new_secret()
        ep.secret_rotated_at = utcnow()
        self.db.commit()
        return {"id": ep.id, "secret": ep.secret, "secret_rotated_at": ep.secret_rotated_at}

    @rpc
    @translate_db_errors
    def deactivate_endpoint(self, endpoint_id: int, actor: str) -> dict[str, Any]:
        ep = self._endpoint(endpoint_id)
        if not ep.active:
            raise Conflict("该端点已停用 the endpoint is already inactive",
                           {"action": "deactivate", "state": "inactive"})
        self._deactivate(ep, actor, utcnow())
        self.db.commit()
        return _endpoint_record.dump(ep)

    # -- Step 3: webhook deliveries, operators --------------------------------------------------
    @rpc
    @translate_db_errors
    def deliver_due(self, now: str | None = None) -> dict[str, int]:
        """Run delivery passes synchronously as of ``now`` (ISO-8601 with a time zone; default
        the current time): every department's due entries, in seq order, until none is due.
        The clock is injectable for operators and tests, like supervision's ``sweep``."""
        self.db.rollback()  # no transaction of this worker stays open across the HTTP calls
        at = None if now is None else _parse_instant(now)
        return self.deliverer.deliver_due(at)

    @rpc
    @translate_db_errors
    def list_deliveries(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        q = load_or_invalid(DeliveryQuerySchema(), query or {})
        stmt = (select(Delivery, FeedEntry.type, FeedEntry.ticket_no, FeedEntry.assignment_id)
                .join(FeedEntry, FeedEntry.id == Delivery.feed_entry_id)
                .order_by(Delivery.id).limit(q["limit"] + 1))
        if q["department_code"]:
            stmt = stmt.where(Delivery.department_code == q["department_code"])
        if q["state"]:
            stmt = stmt.where(Delivery.state == q["state"])
        if q["ticket_no"]:
            stmt = stmt.where(FeedEntry.ticket_no == q["ticket_no"])
        if q["cursor"]:
            stmt = stmt.where(Delivery.id > q["cursor"])
        rows = list(self.db.session.execute(stmt))
        more = len(rows) > q["limit"]
        rows = rows[: q["limit"]]
        # what each delivery carries (the entry's type, order and assignment), so an operator
        # can answer "was this order pushed?" from the list
        return {"items": [{**_delivery_record.dump(d), "feed_type": kind, "ticket_no": no,
                           "assignment_id": aid} for d, kind, no, aid in rows],
                "next_cursor": rows[-1][0].id if more else None}

    @rpc
    @translate_db_errors
    def get_delivery(self, delivery_id: int) -> dict[str, Any]:
        """One delivery with every attempt, and the entry it carries."""
        session = self.db.session
        d = session.get(Delivery, delivery_id)
        if d is None:
            raise NotFound(f"推送记录不存在 delivery {delivery_id} not found",
                           {"delivery_id": delivery_id})
        attempts = session.scalars(select(DeliveryAttempt).where(
            DeliveryAttempt.delivery_id == d.id).order_by(DeliveryAttempt.id))
        entry = session.get(FeedEntry, d.feed_entry_id)
        return {**_delivery_record.dump(d), "entry": feed.body_of(entry, d.id),
                "attempt_log": [_attempt_record.dump(a) for a in attempts]}

    @rpc
    @translate_db_errors
    def replay_delivery(self, delivery_id: int, actor: str) -> dict[str, Any]:
        """重放: a dead-lettered delivery goes back in line (at its seq: the department's later
        entries wait behind it again) with a fresh retry window."""
        session = self.db.session
        d = session.get(Delivery, delivery_id)
        if d is None:
            raise NotFound(f"推送记录不存在 delivery {delivery_id} not found",
                           {"delivery_id": delivery_id})
        if d.state != "dead":
            raise Conflict(f"只有死信可以重放 only a dead-lettered delivery is replayed ({d.state})",
                           {"action": "replay", "state": d.state})
        now = utcnow()
        d.state, d.dead_at, d.next_attempt_at, d.window_start = "pending", None, now, now
        d.replays += 1
        d.replayed_at, d.replayed_by = now, actor
        self.db.emit("delivery.replayed", {"delivery_id": d.id,
                                           "department_code": d.department_code, "at": now,
                                           "actor": actor},
                     ticket_no=session.get(FeedEntry, d.feed_entry_id).ticket_no)
        self.db.commit()
        self.deliverer.wake()
        return _delivery_record.dump(d)

    @rpc
    @translate_db_errors
    def delivery_problems(self, older_than_seconds: int = 3600) -> dict[str, Any]:
        """For ``hotline reconcile``: deliveries dead-lettered, and pending for longer than
        ``older_than_seconds`` (by their entry's creation), with a few ids of each."""
        session = self.db.session
        cutoff = utcnow() - timedelta(seconds=older_than_seconds)
        dead = list(session.scalars(select(Delivery.id).where(Delivery.state == "dead")
                                    .order_by(Delivery.id).limit(1000)))
        stale = list(session.scalars(select(Delivery.id).where(
            Delivery.state == "pending", Delivery.created_at < cutoff)
            .order_by(Delivery.id).limit(1000)))
        return {"dead": len(dead), "dead_ids": dead[:20], "stale_pending": len(stale),
                "stale_pending_ids": stale[:20]}

    # -- helpers ---------------------------------------------------------------------------
    # -- Step 3 helpers: the department feed --------------------------------------------------
    def _entry(self, a: Assignment, entry_type: str, data: dict[str, Any]) -> feed.NewEntry:
        return feed.NewEntry(department_code=a.department_code, type=entry_type,
                             ticket_no=a.ticket_no, assignment_id=a.id, data=data, category=None)

    def _dispatched_entries(self, ticket: TicketCopy,
                            created: list[Assignment]) -> list[feed.NewEntry]:
        facts = {c: getattr(ticket, c) for c in (
            "category", "urgency", "title", "content", "address", "territory_code", "phone",
            "caller_name", "caller_privacy")}
        return [self._entry(a, "assignment.dispatched", endpoint_rules.dispatched_data(
            facts, role=a.role, round_=a.round, dispatched_at=a.dispatched_at,
            passed_from_id=a.passed_from_id, note=a.pass_down_note)) for a in created]

    def _feed(self, ticket: TicketCopy | None, entries: list[feed.NewEntry]) -> None:
        """Append to the departments' feeds in this transaction; 涉密 orders never enter a
        feed (their departments handle them in the console)."""
        if ticket is None or ticket.confidential or not entries:
            return
        for e in entries:
            e.category = ticket.category
        made = feed.append(self.db.session, entries, utcnow())
        self._deliveries_made = getattr(self, "_deliveries_made", 0) + made

    def _commit(self) -> None:
        """Commit, then wake this process's deliverer if the transaction made deliveries."""
        self.db.commit()
        if getattr(self, "_deliveries_made", 0):
            self._deliveries_made = 0
            self.deliverer.wake()

    def _endpoint(self, endpoint_id: int) -> Endpoint:
        ep = self.db.session.get(Endpoint, endpoint_id)
        if ep is None:
            raise NotFound(f"端点不存在 endpoint {endpoint_id} not found",
                           {"endpoint_id": endpoint_id})
        return ep

    def _deactivate(self, ep: Endpoint, actor: str, now: datetime) -> None:
        ep.active, ep.active_slot = False, None
        ep.deactivated_at, ep.deactivated_by = now, actor

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
        row.suggestion_source = "catalogue" if suggestion else None
        row.suggestion_detail = None
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
                decision.suggestion_source = "catalogue"
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


def _parse_instant(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise Invalid.fields({"now": ["须为 ISO-8601 时间 must be an ISO-8601 instant"]}) from None
    if at.tzinfo is None:
        raise Invalid.fields({"now": ["须带时区 must include a time zone"]})
    return at


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
