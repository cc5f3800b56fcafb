"""What several of dispatch's entrypoint mixins share: a round dispatched and an order held
for a dispatcher (预审 / 待派单), the 问题工单 flag, the department feed's entries and the
commit that wakes the deliverer, and the catalogue's rule checks and revisions.

Every mixin of :class:`services.dispatch.service.DispatchService` derives from
:class:`DispatchBase`; the dependencies (``self.db``, ``self.reference``, ``self.settings``,
``self.deliverer``) are declared on the service class, and a mixin may call another area's
helpers through ``self`` (they are one class at run time).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.dispatch import domain, feed
from services.dispatch import endpoints as endpoint_rules
from services.dispatch.models import (
    Assignment,
    CatalogueRevision,
    Department,
    DispatchDecision,
    RoutingRule,
    Territory,
    TicketCopy,
)
from services.dispatch.schemas import AssignmentSchema, ProgressRecordSchema
from shared.errors import Invalid
from shared.events import utcnow
from shared.vocabulary import CATEGORIES

_assignment = AssignmentSchema()
_progress = ProgressRecordSchema()


class OutOfOrder(Exception):
    """A fact arrived before the fact it depends on; retried later."""


def _rule_snapshot(rule: RoutingRule) -> dict[str, Any]:
    return {"category": rule.category, "keywords": list(rule.keywords or ()),
            "territory_code": rule.territory_code, "lead": rule.lead,
            "assists": list(rule.assists or ()), "priority": rule.priority,
            "active": bool(rule.active), "note": rule.note}


class DispatchBase:
    """The helpers several areas use; the dependencies are the service class's."""

    db: Any
    reference: Any
    settings: Any
    deliverer: Any

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

    def _record_revision(self, rule: RoutingRule, before: dict[str, Any] | None, version: int,
                         actor: str, note: str | None) -> None:
        after = _rule_snapshot(rule)
        self.db.session.add(CatalogueRevision(
            catalogue_version=version, rule_id=rule.id,
            action=domain.revision_action(before, after), actor=actor, at=utcnow(),
            before=before, after=after, changes=domain.rule_diff(before, after), note=note))

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
