"""Orders arriving and coming back: a registered order is kept and routed by the catalogue
(派单目录) — dispatched at once, or held for a dispatcher (预审 / 待派单) as the review policy
says; a reopened order (重办) gets a new round for the department that led the last one. And
the reconciliation of orders marked dispatched without an assignment. Routing rules in
:mod:`..domain`."""

from __future__ import annotations

from sqlalchemy import select

from services.dispatch import domain
from services.dispatch.entrypoints.base import DispatchBase, OutOfOrder
from services.dispatch.models import Assignment, TicketCopy
from shared.database import translate_db_errors
from shared.events import Event, utcnow
from shared.messaging import event_handler
from shared.rpc import rpc


class DispatchingEntrypoints(DispatchBase):
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

    @rpc
    @translate_db_errors
    def dispatched_without_assignments(self) -> list[str]:
        """Orders marked dispatched that have no assignment (reconciliation)."""
        has_assignment = select(Assignment.id).where(Assignment.ticket_no == TicketCopy.ticket_no)
        rows = self.db.session.scalars(select(TicketCopy.ticket_no).where(
            TicketCopy.state == "dispatched", ~has_assignment.exists()).limit(1000))
        return list(rows)

    def _route(self, ticket: TicketCopy) -> domain.RoutingDecision | None:
        ref = self.reference(self.db.session)
        order = domain.OrderFacts(category=ticket.category, title=ticket.title,
                                  content=ticket.content, territory_code=ticket.territory_code)
        decision = domain.route(order, ref.rules, ref.parents, ref.levels, ref.government)
        if decision is None or decision.lead not in ref.departments:
            return None
        decision.assists = [a for a in decision.assists if a in ref.departments]
        return decision
