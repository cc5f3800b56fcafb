"""Routing help (派单辅助): departments ranked by their 部门职能 entries and by where similar
past orders went (the rules: services/knowledge/routing.py).

- Learning: every order's analysed terms are kept at registration (``ticket.registered``; 涉密
  and 直接办结 orders are not learned), counted for the lead of its dispatch round
  (``ticket.dispatched``), and uncounted when the lead was wrong (an approved
  ``assignment.return_decided`` of the lead, ``ticket.recalled``) — a re-dispatch moves them.
- Suggesting: an order no catalogue rule matched (``ticket.pending_dispatch``), or back in the
  queue because its lead was wrong (approved return, recall: that department left out), gets
  ``kb.departments_suggested``, which dispatch shows in its 预审 queue; the dispatcher's console
  asks ``suggest_departments`` for any text.

Every handler claims its event in the transaction of its effect (exactly-once effects); a fact
that needs the order's registration and arrives first raises :class:`OutOfOrder`, retried with
backoff (shared/messaging.py).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from services.knowledge import routing
from services.knowledge.entrypoints.base import KnowledgeBase, OutOfOrder
from services.knowledge.models import OrderProfile, TermDepartment
from services.knowledge.schemas import RouteSuggestionQuerySchema
from shared.business_time import business_today
from shared.database import translate_db_errors
from shared.errors import Unavailable, load_or_invalid
from shared.events import Event, utcnow
from shared.messaging import event_handler
from shared.rpc import rpc

EXAMPLE_CANDIDATES = 200  # recent orders of a department searched for the reason's example


class RoutingEntrypoints(KnowledgeBase):
    """Learn where orders go; suggest departments for the ones the catalogue cannot route."""

    routing_help: Any  # RoutingKit (services/knowledge/routing_index.py)
    dispatch_rpc: Any

    # -- learning --------------------------------------------------------------------------
    @event_handler("ticket.registered")
    def keep_order_profile(self, event: Event) -> None:
        """The order's analysed terms (never its text), territory and category; a 涉密 or
        直接办结 order is remembered only as excluded."""
        d = event.data
        excluded = ("confidential" if d["confidential"] else
                    "resolved" if d.get("resolved_at_intake") else None)
        # segmentation before the session opens: the database is held only for the writes
        terms = [] if excluded else self.routing_help.terms(f"{d['title']}\n{d['content']}")
        if not self.db.claim(event):
            return
        session = self.db.session
        if session.get(OrderProfile, d["ticket_no"]) is None:
            session.add(OrderProfile(
                ticket_no=d["ticket_no"], registered_at=d["registered_at"],
                category=d["category"], excluded=excluded, terms=terms,
                territory_code=None if excluded else d.get("territory_code"),
                round=0, counted=False))
        self.db.commit()

    @event_handler("ticket.dispatched", "assignment.return_decided", "ticket.recalled")
    def learn_dispatch(self, event: Event) -> None:
        """Count the order once, for the lead of its latest round (services/knowledge/routing.py
        ``on_dispatched``, ``on_return_approved``, ``on_recalled``). When the lead turns out
        wrong (its return approved, the round recalled) the order waits for a dispatcher again
        with no catalogue suggestion: it gets one from routing help, the wrong lead left out."""
        d = event.data
        wrong_lead = event.type == "ticket.recalled" or (
            event.type == "assignment.return_decided" and d["approved"])
        # before the session (no RPC while it is open); learning does not wait for dispatch
        directory = self._directory_if_available() if wrong_lead else None
        if not self.db.claim(event):
            return
        # locked: two facts of one order handled at once (two workers) must not both move it
        profile = self.db.session.get(OrderProfile, d["ticket_no"], with_for_update=True)
        if profile is None:
            if event.type == "ticket.dispatched":
                raise OutOfOrder(f"dispatch of {d['ticket_no']} before its registration")
            # a return or recall ahead of the registration: the re-dispatch will move the count
            self.db.commit()
            return
        if profile.excluded:
            self.db.commit()
            return
        state = routing.LeadState(profile.lead_department, profile.lead_assignment_id,
                                  profile.round, profile.counted)
        if event.type == "ticket.dispatched":
            lead = next(a for a in d["assignments"] if a["role"] == "lead")
            learning = routing.on_dispatched(state, d["round"], lead["department_code"],
                                             lead["assignment_id"])
        elif event.type == "ticket.recalled":
            learning = routing.on_recalled(state, d["round"])
        elif d["approved"]:
            learning = routing.on_return_approved(state, d["assignment_id"])
        else:
            learning = routing.Learning(state)
        delta: dict[tuple[str, str], float] = {}
        for department, sign in ((learning.uncount, -1), (learning.count, 1)):
            if department:
                for key, n in routing.count_delta(profile.terms, department, sign).items():
                    delta[key] = delta.get(key, 0.0) + n
        self._add_counts(delta)
        new = learning.state
        profile.lead_department, profile.lead_assignment_id = (new.lead_department,
                                                               new.lead_assignment_id)
        profile.round, profile.counted = new.round, new.counted
        if wrong_lead and learning.uncount and directory is not None:
            self._emit_suggestion(directory, profile, exclude=(learning.uncount,))
        self.db.commit()

    # -- suggesting ------------------------------------------------------------------------
    @event_handler("ticket.pending_dispatch")
    def suggest_for_pending_order(self, event: Event) -> None:
        """An order no rule matched waits for a dispatcher: rank departments for it and say so
        (``kb.departments_suggested``, also when nothing is found: the fact that the knowledge
        base has no suggestion)."""
        directory = self._directory()  # before the session: no RPC while it is open
        if not self.db.claim(event):
            return
        d = event.data
        if d.get("waiting_reason") not in (None, "unmatched"):
            self.db.commit()  # 预审 of the catalogue's own suggestion: not ours to second-guess
            return
        profile = self.db.session.get(OrderProfile, d["ticket_no"])
        if profile is None:
            raise OutOfOrder(f"pending dispatch of {d['ticket_no']} before its registration")
        if profile.excluded:
            self.db.commit()  # 涉密: its text was never kept, nothing to rank
            return
        self._emit_suggestion(directory, profile)
        self.db.commit()

    @rpc
    @translate_db_errors
    def suggest_departments(self, query: dict[str, Any]) -> dict[str, Any]:
        """派单辅助 on demand: ``{text, category?, territory_code?, limit?}`` →
        ``{terms, confidence, suggestions: [{department_code, department_name, score,
        reasons}]}``, best first. Read-only."""
        q = load_or_invalid(RouteSuggestionQuerySchema(), query)
        terms = self.routing_help.terms(q["text"])
        ranking, suggestions = self._suggest(self._directory(), terms, q["territory_code"],
                                             q["category"], q["limit"])
        return {"terms": terms, "confidence": ranking.confidence, "suggestions": suggestions}

    # -- helpers ---------------------------------------------------------------------------
    def _emit_suggestion(self, directory: routing.Directory, profile: OrderProfile,
                         exclude: tuple[str, ...] = ()) -> None:
        """``kb.departments_suggested`` for the order's next round."""
        ranking, suggestions = self._suggest(directory, list(profile.terms),
                                             profile.territory_code, profile.category,
                                             exclude=exclude)
        self.db.emit("kb.departments_suggested", {
            "ticket_no": profile.ticket_no, "at": utcnow(), "round": profile.round + 1,
            "confidence": ranking.confidence,
            "suggestions": [{k: s[k] for k in ("department_code", "score", "reasons")}
                            for s in suggestions]}, ticket_no=profile.ticket_no)

    def _directory_if_available(self) -> routing.Directory | None:
        try:
            return self._directory()
        except Unavailable:
            return None

    def _directory(self) -> routing.Directory:
        """Dispatch's departments (cached per process): asked before the session opens, as
        no entrypoint does network I/O while it holds the database (shared/database.py)."""
        return self.routing_help.directory(
            lambda: (self.dispatch_rpc.departments(), self.dispatch_rpc.territories()))

    def _suggest(self, directory: routing.Directory, terms: list[str],
                 territory_code: str | None, category: str | None = None,
                 limit: int | None = None,
                 exclude: tuple[str, ...] = ()) -> tuple[routing.Ranking, list[dict[str, Any]]]:
        kit = self.routing_help
        session = self.db.session
        hits = kit.hits(session, terms, territory_code, business_today(), category)
        td = TermDepartment
        counts = routing.Counts.from_rows(session.execute(
            select(td.term, td.department_code, td.count)
            .where(td.term.in_([*routing.order_terms(terms), routing.TOTAL]))).all())
        settings = kit.settings if limit is None else replace(kit.settings, limit=limit)
        ranking = routing.rank_departments(terms, territory_code, hits, counts, directory,
                                           settings, exclude)
        out = []
        for s in ranking.suggestions:
            example = self._example(terms, s.department_code) if s.history_count else None
            dep = directory.departments.get(s.department_code)
            out.append({"department_code": s.department_code,
                        "department_name": dep.name if dep else s.department_code,
                        "score": s.score, "reasons": routing.reasons(s, directory, example)})
        return ranking, out

    def _example(self, terms: list[str], department_code: str) -> str | None:
        op = OrderProfile
        rows = self.db.session.execute(
            select(op.ticket_no, op.terms).where(op.lead_department == department_code,
                                                 op.counted.is_(True))
            .order_by(op.registered_at.desc()).limit(EXAMPLE_CANDIDATES))
        return routing.best_example(terms, (routing.PastOrder(no, department_code,
                                                              frozenset(t or ()))
                                            for no, t in rows))

    def _add_counts(self, delta: dict[tuple[str, str], float]) -> None:
        """Add to the term × department counters in one statement (an upsert; keys in order,
        so two transactions lock the rows in the same order on PostgreSQL)."""
        if not delta:
            return
        session = self.db.session
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        table = TermDepartment.__table__
        rows = [{"term": t, "department_code": d, "count": n}
                for (t, d), n in sorted(delta.items()) if n]
        if not rows:
            return
        stmt = insert(table).values(rows)
        session.execute(stmt.on_conflict_do_update(
            index_elements=["term", "department_code"],
            set_={"count": table.c.count + stmt.excluded.count}))
