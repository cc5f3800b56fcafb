"""Dispatch service (派单): routes orders to departments and owns assignments.

Departments act on their assignments here (sign-for 签收, reply 答复); every call that acts for
a department names it, and an assignment of another department is reported as not found.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from services.dispatch import domain, reference
from services.dispatch.models import (
    Assignment,
    Department,
    RoutingRule,
    Territory,
    TicketCopy,
    metadata,
)
from services.dispatch.reference import ReferenceCache
from services.dispatch.schemas import (
    AssignmentSchema,
    DepartmentSchema,
    InboxItemSchema,
    InboxQuerySchema,
    ManualDispatchSchema,
    ReferenceSchema,
    ReplySchema,
    TerritorySchema,
)
from shared.database import Database, translate_db_errors
from shared.errors import Conflict, Invalid, NotFound, load_or_invalid
from shared.events import Event, utcnow
from shared.logs import LogContext, bind
from shared.messaging import event_handler
from shared.operations import Operations
from shared.rpc import rpc

_assignment = AssignmentSchema()
_inbox_item = InboxItemSchema()


class DispatchService(Operations):
    name = "dispatch"

    db = Database(metadata)
    reference = ReferenceCache()
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
            state="pending", round=0)
        session.add(ticket)
        if d.get("resolved_at_intake"):  # answered on the spot: nothing to dispatch
            ticket.state = "resolved"
            self.db.commit()
            return
        decision = self._route(ticket)
        if decision is None:
            self.db.emit("ticket.pending_dispatch",
                         {"ticket_no": ticket.ticket_no, "at": utcnow(),
                          "reason": "派单目录无匹配规则 no routing rule matched"},
                         ticket_no=ticket.ticket_no)
        else:
            self._dispatch(ticket, decision.lead, decision.assists, "system", decision.rule_id)
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
            Assignment.ticket_no == no, Assignment.role == "lead").order_by(Assignment.id.desc()))
        if ticket is None or last_lead is None:
            raise OutOfOrder(f"reopened {no} before its dispatch reached dispatch")
        self._dispatch(ticket, last_lead.department_code, [], event.data["actor"], None)
        self.db.commit()

    @event_handler("assignment.return_requested", "assignment.return_decided")
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
        elif d["approved"]:
            for other in session.scalars(select(Assignment).where(
                    Assignment.ticket_no == a.ticket_no, Assignment.round == a.round)):
                if other.state != "replied":
                    other.state = "returned"
            ticket.state = "pending"
        elif a.state == "return_requested":
            a.state = "signed" if a.signed_at else "dispatched"
        self.db.commit()

    # -- commands --------------------------------------------------------------------------
    @rpc
    @translate_db_errors
    def dispatch(self, ticket_no: str, payload: dict[str, Any], actor: str) -> list[dict[str, Any]]:
        """Manual dispatch by a dispatcher (人工派单) of an order waiting for one."""
        form = load_or_invalid(ManualDispatchSchema(), payload)
        bind(ticket_no=ticket_no)
        session = self.db.session
        ticket = session.get(TicketCopy, ticket_no)
        if ticket is None:
            raise NotFound(f"工单不存在 order {ticket_no} not found", {"ticket_no": ticket_no})
        if ticket.state != "pending":
            raise Conflict(f"工单已派单，不能重复派单 order is already {ticket.state}",
                           {"action": "dispatch", "state": ticket.state})
        assists = domain.check_dispatch(form["lead"], form["assists"])
        unknown = [c for c in [form["lead"], *assists] if session.get(Department, c) is None]
        if unknown:
            raise Invalid.fields({"lead" if form["lead"] in unknown else "assists":
                                  [f"未知部门 unknown department {', '.join(unknown)}"]})
        created = self._dispatch(ticket, form["lead"], assists, actor, None)
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
        a.replied_at, a.replied_by, a.reply = utcnow(), actor, form["reply"]
        self.db.emit("assignment.replied", {
            "assignment_id": a.id, "ticket_no": a.ticket_no, "department_code": a.department_code,
            "replied_at": a.replied_at, "actor": actor, "reply": a.reply}, ticket_no=a.ticket_no)
        self.db.commit()
        return _assignment.dump(a)

    # -- queries ---------------------------------------------------------------------------
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
        items = [_inbox_item.dump(_merge(a, t)) for a, t in rows]
        return {"items": items, "next_cursor": rows[-1][0].id if more else None}

    @rpc
    @translate_db_errors
    def assignments_of(self, ticket_no: str) -> list[dict[str, Any]]:
        rows = self.db.session.scalars(
            select(Assignment).where(Assignment.ticket_no == ticket_no).order_by(Assignment.id))
        return [_assignment.dump(a) for a in rows]

    @rpc
    @translate_db_errors
    def get_assignment(self, assignment_id: int) -> dict[str, Any]:
        a = self.db.session.get(Assignment, assignment_id)
        if a is None:
            raise NotFound(f"任务不存在 assignment {assignment_id} not found",
                           {"assignment_id": assignment_id})
        return _assignment.dump(a)

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
    def load_reference(self, payload: dict[str, Any]) -> dict[str, int]:
        """Insert or update territories, departments and routing rules (admin, demo data)."""
        data = load_or_invalid(ReferenceSchema(), payload)
        session = self.db.session
        for t in _parents_first(data["territories"]):
            session.merge(Territory(**t))
            session.flush()
        for dep in _parents_first(data["departments"]):
            session.merge(Department(**dep))
            session.flush()
        for r in data["rules"]:
            rule_id = r.pop("id", None)
            if rule_id is not None:
                session.merge(RoutingRule(id=rule_id, **r))
            else:
                session.add(RoutingRule(**r))
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
                  rule_id: int | None) -> list[Assignment]:
        now = utcnow()
        ticket.round += 1
        ticket.state = "dispatched"
        created = [Assignment(ticket_no=ticket.ticket_no, department_code=code, role=role,
                              round=ticket.round, state="dispatched", dispatched_at=now,
                              dispatched_by=actor, rule_id=rule_id)
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
