"""待派单 / 预审: the orders waiting for a dispatcher; the knowledge base's suggestion (派单辅助)
for one waiting without the catalogue's (dispatched to it at once with ``DISPATCH_KB_AUTO`` and
a clear top); dispatch by a dispatcher (accept or override the suggestion, or name the
departments); and each round's decision history."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select

from services.dispatch import domain
from services.dispatch.entrypoints.base import DispatchBase, OutOfOrder, _assignment
from services.dispatch.models import Assignment, Department, DispatchDecision, TicketCopy
from services.dispatch.schemas import (
    DecisionSchema,
    ManualDispatchSchema,
    QueueItemSchema,
    QueueQuerySchema,
)
from shared.database import translate_db_errors
from shared.errors import Conflict, Invalid, NotFound, load_or_invalid
from shared.events import Event
from shared.logs import bind
from shared.messaging import event_handler
from shared.rpc import rpc

_decision = DecisionSchema()
_queue_item = QueueItemSchema()


class QueueEntrypoints(DispatchBase):
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

    def _active_department(self, code: str) -> bool:
        dep = self.db.session.get(Department, code)
        return dep is not None and dep.active
