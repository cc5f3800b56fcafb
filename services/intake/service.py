"""Intake service (受理): registers work orders and owns their registration facts.

Entrypoints are thin: load with marshmallow, call the domain, persist, record events.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Date, bindparam, func, or_, select, text
from sqlalchemy.exc import IntegrityError

from services.intake import domain, similarity
from services.intake.dependencies import RepeatCalls
from services.intake.models import CallLink, Hotspot, Ticket, metadata
from services.intake.schemas import (
    CallerQuerySchema,
    DraftSchema,
    LinkRecordSchema,
    LinkSchema,
    ListFilterSchema,
    RegistrationSchema,
    TicketSchema,
)
from shared.database import Database, translate_db_errors
from shared.errors import Conflict, Invalid, NotFound, load_or_invalid
from shared.events import Event, utcnow
from shared.logs import LogContext, bind
from shared.messaging import event_handler
from shared.operations import Operations
from shared.rpc import rpc
from shared.types import UtcDateTime
from shared.vocabulary import CATEGORIES, CHANNELS, URGENCIES

log = logging.getLogger(__name__)

_ticket_schema = TicketSchema()
_link_schema = LinkRecordSchema()

# the columns matching needs (not the content: its tokens were kept at registration)
_MATCH_COLUMNS = (Ticket.ticket_no, Ticket.registered_at, Ticket.phone, Ticket.category,
                  Ticket.territory_code, Ticket.tokens, Ticket.title, Ticket.urgency,
                  Ticket.caller_name, Ticket.confidential, Ticket.agent)


class UnknownOrder(Exception):
    """A fact about an order intake never registered: retried, then dead-lettered."""


class IntakeService(Operations):
    name = "intake"

    db = Database(metadata)
    log_context = LogContext()
    repeat_calls = RepeatCalls()

    @rpc
    @translate_db_errors
    def register_ticket(self, payload: dict[str, Any], actor: str,
                        idempotency_key: str | None = None) -> dict[str, Any]:
        """Register one order; the same ``idempotency_key`` returns the first order again."""
        form = load_or_invalid(RegistrationSchema(), payload)
        existing = self._by_idempotency_key(idempotency_key)
        if existing is not None:
            return self._replayed(existing)
        session = self.db.session
        now = utcnow()
        phone = domain.normalize_phone(form["phone"])
        named = list(dict.fromkeys(form["related_ticket_nos"]))
        if named:
            known = set(session.scalars(select(Ticket.ticket_no).where(Ticket.ticket_no.in_(named))))
            if unknown := [n for n in named if n not in known]:
                raise Invalid.fields({"related_ticket_nos": [
                    f"工单不存在 unknown orders: {', '.join(unknown)}"]})
        title = form["title"] or _title_from(form["content"])
        tokens = self.repeat_calls.tokens(title, form["content"])
        # 重复来电 is shown, not enforced: the agent links or registers anyway
        related = self._related(similarity.Draft(phone, form["category"],
                                                 form["territory_code"], tokens))
        day = domain.business_day(now)
        seq = _next_daily_sequence(self.db, day)
        ticket = Ticket(
            ticket_no=domain.format_ticket_no(day, seq), registered_at=now,
            channel=form["channel"], category=form["category"], urgency=form["urgency"],
            title=title, content=form["content"],
            caller_name=form["caller_name"], phone=phone,
            address=form["address"], territory_code=form["territory_code"],
            confidential=form["confidential"], caller_privacy=form["caller_privacy"],
            related_ticket_nos=named, agent=actor, call_id=form["call_id"],
            recording_ref=form["recording_ref"],
            idempotency_key=idempotency_key, tokens=similarity.dump_tokens(tokens),
            is_open=not form["resolution"], state_sequence=0)
        resolution = form["resolution"]
        if resolution:
            ticket.resolved_at, ticket.resolution = now, resolution["answer"]
            ticket.resolution_article_id = resolution["article_id"]
        session.add(ticket)
        bind(ticket_no=ticket.ticket_no)
        self.db.emit("ticket.registered", _ticket_schema.dump(ticket) | {
            "registered_at": now, "resolved_at_intake": bool(resolution)},
            ticket_no=ticket.ticket_no)
        if resolution:
            self.db.emit("ticket.resolved_at_intake", {
                "ticket_no": ticket.ticket_no, "resolved_at": now, "actor": actor,
                "answer": resolution["answer"], "article_id": resolution["article_id"]},
                ticket_no=ticket.ticket_no)
        try:
            self.db.commit()
        except IntegrityError:
            # the same key committed by a concurrent request between our lookup and commit
            self.db.rollback()
            existing = self._by_idempotency_key(idempotency_key)
            if existing is None:
                raise
            return self._replayed(existing)
        return {**_ticket_schema.dump(ticket), "replayed": False, "related": related}

    def _replayed(self, ticket: Ticket) -> dict[str, Any]:
        draft = similarity.Draft(ticket.phone, ticket.category, ticket.territory_code,
                                 similarity.load_tokens(ticket.tokens))
        return {**_ticket_schema.dump(ticket), "replayed": True,
                "related": self._related(draft, exclude=ticket.ticket_no)}

    def _by_idempotency_key(self, key: str | None) -> Ticket | None:
        if not key:
            return None
        return self.db.session.scalar(select(Ticket).where(Ticket.idempotency_key == key))

    @rpc
    @translate_db_errors
    def get_ticket(self, ticket_no: str) -> dict[str, Any]:
        """The registration facts, with the linked calls (重复来电) and the hotspot (热点)."""
        session = self.db.session
        ticket = self._ticket(ticket_no)
        links = list(session.scalars(select(CallLink).where(CallLink.ticket_no == ticket_no)
                                     .order_by(CallLink.id)))
        hotspot = session.get(Hotspot, ticket_no)
        return {**_ticket_schema.dump(ticket), "open": ticket.is_open,
                "links": [_link_schema.dump(link) for link in links],
                "callers": similarity.distinct_callers([ticket.phone, *(x.phone for x in links)]),
                "hotspot": None if hotspot is None else {
                    "raised_at": hotspot.raised_at.isoformat(), "callers": hotspot.callers}}

    def _ticket(self, ticket_no: str, *, for_update: bool = False) -> Ticket:
        ticket = self.db.session.get(Ticket, ticket_no, with_for_update=for_update or None)
        if ticket is None:
            raise NotFound(f"工单不存在 order {ticket_no} not found", {"ticket_no": ticket_no})
        return ticket

    @rpc
    @translate_db_errors
    def list_tickets(self, filters: dict[str, Any]) -> dict[str, Any]:
        """Newest first, cursor-paged by order number."""
        f = load_or_invalid(ListFilterSchema(), filters or {})
        stmt = select(Ticket).order_by(Ticket.ticket_no.desc()).limit(f["limit"] + 1)
        if f["category"]:
            stmt = stmt.where(Ticket.category == f["category"])
        if f["phone"]:
            stmt = stmt.where(Ticket.phone == domain.normalize_phone(f["phone"]))
        if f["registered_from"]:
            stmt = stmt.where(Ticket.registered_at >= f["registered_from"])
        if f["registered_to"]:
            stmt = stmt.where(Ticket.registered_at < f["registered_to"])
        if f["cursor"]:
            stmt = stmt.where(Ticket.ticket_no < f["cursor"])
        if f["ticket_nos"] is not None:
            stmt = stmt.where(Ticket.ticket_no.in_(f["ticket_nos"]))
        if f["hide_confidential"]:
            stmt = stmt.where(or_(Ticket.confidential.is_(False), Ticket.agent == f["own_agent"])
                              if f["own_agent"] else Ticket.confidential.is_(False))
        rows = list(self.db.session.scalars(stmt))
        more = len(rows) > f["limit"]
        rows = rows[: f["limit"]]
        return {"items": [_ticket_schema.dump(t) for t in rows],
                "next_cursor": rows[-1].ticket_no if more else None}

    @rpc
    def vocabulary(self) -> dict[str, Any]:
        return {"categories": CATEGORIES, "urgencies": URGENCIES, "channels": CHANNELS}

    # -- repeat calls (重复来电) -----------------------------------------------------------------
    @rpc
    @translate_db_errors
    def find_related(self, draft: dict[str, Any]) -> dict[str, Any]:
        """Open orders a call being taken may be about, best first, each with score and reason."""
        d = load_or_invalid(DraftSchema(), draft or {})
        phone = domain.normalize_phone(d["phone"]) if d["phone"] else None
        tokens = self.repeat_calls.tokens(d["title"], d["content"])
        return {"items": self._related(similarity.Draft(phone, d["category"],
                                                        d["territory_code"], tokens)),
                "threshold": self.repeat_calls.settings.threshold}

    def _related(self, draft: similarity.Draft, exclude: str | None = None) -> list[dict[str, Any]]:
        """Two bounded queries on the open ledger (same phone; same territory and category),
        newest first within the window; the stored token sets are compared in Python."""
        settings = self.repeat_calls.settings
        since = utcnow() - settings.window
        base = (select(*_MATCH_COLUMNS)
                .where(Ticket.is_open.is_(True), Ticket.registered_at >= since)
                .order_by(Ticket.registered_at.desc()).limit(settings.max_compared))
        if exclude:
            base = base.where(Ticket.ticket_no != exclude)
        rows: dict[str, Any] = {}
        session = self.db.session
        if draft.phone:
            rows.update((r.ticket_no, r) for r in session.execute(
                base.where(Ticket.phone == draft.phone)))
        if draft.territory_code and draft.category and draft.tokens:
            rows.update((r.ticket_no, r) for r in session.execute(
                base.where(Ticket.territory_code == draft.territory_code,
                           Ticket.category == draft.category)))
        orders = [similarity.OpenOrder(r.ticket_no, r.registered_at, r.phone, r.category,
                                       r.territory_code, similarity.load_tokens(r.tokens))
                  for r in rows.values()]
        ranked = similarity.rank(draft, orders, settings.threshold, settings.max_candidates)
        return [{"ticket_no": c.ticket_no, "score": c.score, "reason": c.reason,
                 "registered_at": rows[c.ticket_no].registered_at.isoformat(),
                 "title": rows[c.ticket_no].title, "category": rows[c.ticket_no].category,
                 "urgency": rows[c.ticket_no].urgency,
                 "territory_code": rows[c.ticket_no].territory_code,
                 "phone": rows[c.ticket_no].phone, "caller_name": rows[c.ticket_no].caller_name,
                 "confidential": rows[c.ticket_no].confidential,
                 "agent": rows[c.ticket_no].agent} for c in ranked]

    @rpc
    @translate_db_errors
    def link_call(self, ticket_no: str, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        """Link a new caller to an open order (``ticket.linked``); the order's N-th distinct
        caller raises its hotspot (``ticket.hotspot_raised``), once.

        The order row is locked (PostgreSQL ``FOR UPDATE``; SQLite's write lock) so concurrent
        links of one order count their callers one after another; the hotspot row's primary key
        is the claim, so no path raises it twice. A repeated command with the same ``call_id``
        returns the first link and emits nothing.
        """
        form = load_or_invalid(LinkSchema(), payload or {})
        bind(ticket_no=ticket_no)
        session = self.db.session
        ticket = self._ticket(ticket_no, for_update=True)
        if form["call_id"]:
            first = session.scalar(select(CallLink).where(CallLink.ticket_no == ticket_no,
                                                          CallLink.call_id == form["call_id"]))
            if first is not None:
                return self._link_result(ticket, first, raised=False, replayed=True)
        if not ticket.is_open:
            state = "resolved_at_intake" if ticket.resolved_at else "closed"
            raise Conflict("工单已办结，不能关联来电，请登记新工单 order is not open; register a "
                           "new order", {"action": "link", "state": state})
        now = utcnow()
        link = CallLink(ticket_no=ticket_no, linked_at=now, caller_name=form["caller_name"],
                        phone=domain.normalize_phone(form["phone"]), content=form["content"],
                        channel=form["channel"], agent=actor, call_id=form["call_id"],
                        reason=form["reason"])
        session.add(link)
        session.flush()
        self.db.emit("ticket.linked", {
            "ticket_no": ticket_no, "link_id": link.id, "linked_at": now,
            "caller_name": link.caller_name, "phone": link.phone, "content": link.content,
            "channel": link.channel, "agent": actor, "call_id": link.call_id,
            "reason": link.reason}, ticket_no=ticket_no)
        callers = self._callers(ticket)
        raised = False
        if similarity.is_hotspot(callers, self.repeat_calls.settings.hotspot_callers):
            raised = session.execute(_CLAIM_HOTSPOT, {
                "ticket_no": ticket_no, "raised_at": now, "callers": callers}).first() is not None
            if raised:
                self.db.emit("ticket.hotspot_raised", {
                    "ticket_no": ticket_no, "callers": callers, "at": now,
                    "category": ticket.category, "territory_code": ticket.territory_code,
                    "title": ticket.title}, ticket_no=ticket_no)
        result = self._link_result(ticket, link, raised=raised, replayed=False, callers=callers)
        try:
            self.db.commit()
        except IntegrityError:
            # the same call_id linked by a concurrent request (SQLite without the row lock)
            self.db.rollback()
            first = self.db.session.scalar(select(CallLink).where(
                CallLink.ticket_no == ticket_no, CallLink.call_id == form["call_id"]))
            if first is None:
                raise
            return self._link_result(self._ticket(ticket_no), first, raised=False, replayed=True)
        return result

    def _callers(self, ticket: Ticket) -> int:
        phones = self.db.session.scalars(select(CallLink.phone).where(
            CallLink.ticket_no == ticket.ticket_no))
        return similarity.distinct_callers([ticket.phone, *phones])

    def _link_result(self, ticket: Ticket, link: CallLink, *, raised: bool, replayed: bool,
                     callers: int | None = None) -> dict[str, Any]:
        hotspot = self.db.session.get(Hotspot, ticket.ticket_no)
        return {"link": _link_schema.dump(link), "replayed": replayed,
                "callers": callers if callers is not None else self._callers(ticket),
                "hotspot": hotspot is not None or raised, "hotspot_raised": raised}

    @rpc
    @translate_db_errors
    def caller_history(self, query: dict[str, Any]) -> dict[str, Any]:
        """来电人历史: this number's earlier orders, newest first — the ones it registered and
        the ones it was linked to — each marked open or not (intake's projection)."""
        q = load_or_invalid(CallerQuerySchema(), query or {})
        phone = domain.normalize_phone(q["phone"])
        session = self.db.session
        linked = select(CallLink.ticket_no).where(CallLink.phone == phone)
        stmt = (select(Ticket).where(or_(Ticket.phone == phone, Ticket.ticket_no.in_(linked)))
                .order_by(Ticket.registered_at.desc(), Ticket.ticket_no.desc()).limit(q["limit"]))
        items = [{**_ticket_schema.dump(t), "open": t.is_open,
                  "relation": "caller" if t.phone == phone else "linked"}
                 for t in session.scalars(stmt)]
        total = session.scalar(select(func.count()).select_from(Ticket).where(
            or_(Ticket.phone == phone, Ticket.ticket_no.in_(linked)))) or 0
        return {"phone": phone, "items": items, "total": int(total)}

    @event_handler("ticket.closed", "ticket.reopened")
    def on_open_ledger_fact(self, event: Event) -> None:
        """Intake's open ledger: closed orders stop being candidates, reopened ones are again.
        An older fact than the one applied (per-order sequence of supervision) is ignored."""
        if not self.db.claim(event):
            return
        ticket = self.db.session.get(Ticket, event.data["ticket_no"])
        if ticket is None:
            raise UnknownOrder(f"order {event.data['ticket_no']} is not intake's")
        sequence = event.sequence or 0
        if sequence and sequence <= ticket.state_sequence:
            log.info("older open-ledger fact ignored", extra={"event_id": event.event_id})
        else:
            ticket.is_open = event.type == "ticket.reopened"
            ticket.state_sequence = sequence or ticket.state_sequence
        self.db.commit()


def _next_daily_sequence(uow: Any, day: Any) -> int:
    """Atomically take the next number of ``day``.

    The counter commits with the order: a number is issued only if its order is, and an issued
    number is never handed out again.
    """
    return int(uow.session.execute(_NEXT_DAILY, {"day": day}).scalar_one())


# Hand-written (SQLite ≥ 3.35 and PostgreSQL alike): SQLAlchemy recompiles its ON CONFLICT
# constructs on every execution.
_NEXT_DAILY = text(
    'INSERT INTO daily_sequence (day, "last") VALUES (:day, 1) '
    'ON CONFLICT (day) DO UPDATE SET "last" = daily_sequence."last" + 1 RETURNING "last"'
).bindparams(bindparam("day", type_=Date()))


_CLAIM_HOTSPOT = text(
    "INSERT INTO hotspot (ticket_no, raised_at, callers) VALUES (:ticket_no, :raised_at, :callers) "
    "ON CONFLICT (ticket_no) DO NOTHING RETURNING ticket_no"
).bindparams(bindparam("raised_at", type_=UtcDateTime()))


def _title_from(content: str) -> str:
    first = content.strip().splitlines()[0]
    return first[:30] + ("…" if len(first) > 30 else "")
