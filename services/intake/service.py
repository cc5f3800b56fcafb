"""Intake service (受理): registers work orders and owns their registration facts.

Entrypoints are thin: load with marshmallow, call the domain, persist, record events.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from sqlalchemy import Date, bindparam, func, or_, select, text
from sqlalchemy.exc import IntegrityError

from services.intake import domain, progress, similarity
from services.intake.dependencies import RepeatCalls
from services.intake.models import (
    CallLink,
    Hotspot,
    Open311Submission,
    ProgressUpdate,
    Ticket,
    TicketProgress,
    metadata,
)
from services.intake.schemas import (
    CallerQuerySchema,
    DraftSchema,
    LinkRecordSchema,
    LinkSchema,
    ListFilterSchema,
    Open311SubmissionSchema,
    ProgressQuerySchema,
    RegistrationSchema,
    TicketSchema,
    UpdatesQuerySchema,
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
        return self._register(form, actor, idempotency_key)

    def _register(self, form: dict[str, Any], actor: str, idempotency_key: str | None,
                  submission: dict[str, Any] | None = None) -> dict[str, Any]:
        """Register a loaded form (and, for channel open311, its submission row) with its
        events and its progress row, in one transaction."""
        session = self.db.session
        now = utcnow()
        phone = domain.normalize_phone(form["phone"]) if form["phone"] else None
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
        session.add(TicketProgress(ticket_no=ticket.ticket_no,
                                   status="resolved_at_intake" if resolution else "registered",
                                   status_sequence=0, deadlines={}, updated_at=now))
        if submission is not None:
            session.add(Open311Submission(ticket_no=ticket.ticket_no, **submission))
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

    # -- Open311 submissions and the citizen progress read model (流程查询) ---------------------
    @rpc
    @translate_db_errors
    def register_open311(self, payload: dict[str, Any], client: str,
                         idempotency_key: str | None = None) -> dict[str, Any]:
        """Register an Open311 ``POST requests`` (channel ``open311``): the order and its
        submission row with a fresh token. ``client`` is the API key's principal; the same
        ``idempotency_key`` returns the first order again (``replayed``)."""
        sub = load_or_invalid(Open311SubmissionSchema(), payload or {})
        existing = self._by_idempotency_key(idempotency_key)
        if existing is None:
            form = {"channel": "open311", "confidential": False, "related_ticket_nos": [],
                    "call_id": None, "recording_ref": None, "resolution": None,
                    **{k: sub[k] for k in ("category", "urgency", "title", "content",
                                           "caller_name", "phone", "address", "territory_code",
                                           "caller_privacy")}}
            submission = {k: sub[k] for k in ("lat", "long", "address_id", "media_url",
                                              "account_id", "email", "device_id")}
            submission.update(client=client, token=secrets.token_urlsafe(18))
            ticket = self._register(form, client, idempotency_key, submission)
            if not ticket.pop("replayed"):
                return {"ticket_no": ticket["ticket_no"], "token": submission["token"],
                        "account_id": submission["account_id"], "replayed": False,
                        "registered_at": ticket["registered_at"]}
            existing = self._ticket(ticket["ticket_no"])
        row = self.db.session.get(Open311Submission, existing.ticket_no)
        return {"ticket_no": existing.ticket_no, "token": row.token if row else None,
                "account_id": row.account_id if row else None, "replayed": True,
                "registered_at": existing.registered_at.isoformat()}

    @rpc
    @translate_db_errors
    def open311_token(self, token: str) -> dict[str, Any]:
        """The order an Open311 token stands for (GeoReport ``GET tokens``)."""
        row = self.db.session.scalar(select(Open311Submission).where(
            Open311Submission.token == token))
        if row is None:
            raise NotFound(f"令牌不存在 token {token} not found", {"token": token})
        return {"ticket_no": row.ticket_no, "token": row.token}

    @rpc
    @translate_db_errors
    def citizen_progress(self, query: dict[str, Any]) -> dict[str, Any]:
        """流程查询: public views of orders, newest first, ``page``-d (Open311 ``GET requests``).

        Confidential (涉密) orders are never in it. A view has no personal field (caller,
        phone, e-mail, account, device): see :func:`_public_view` for what it has.

        ``listing``: ``all`` (default) lists every non-confidential order; ``open311`` only
        those submitted through Open311. ``text``: whose free text — description, address,
        coordinates, media, the reply — is shown: ``open311`` (default) only for orders
        submitted through Open311, whose submitters chose a public channel; ``all``; ``none``.
        Why: the content and address of a phoned-in complaint can identify the caller (a
        neighbour dispute, a named shop), so by default those orders are listed with their
        category, stage, department and dates only — the transparency of the figures without
        exposing the citizen. A city that publishes redacted summaries can switch to ``all``.
        """
        q = load_or_invalid(ProgressQuerySchema(), query or {})
        stmt = self._progress_select(q["listing"])
        if q["ticket_nos"] is not None:  # overrides every other filter (GeoReport v2)
            stmt = stmt.where(Ticket.ticket_no.in_(q["ticket_nos"] or [""]))
        else:
            if q["categories"]:
                stmt = stmt.where(Ticket.category.in_(q["categories"]))
            if q["start"]:
                stmt = stmt.where(Ticket.registered_at >= q["start"])
            if q["end"]:
                stmt = stmt.where(Ticket.registered_at <= q["end"])
            if q["states"] and set(q["states"]) != {"open", "closed"}:
                closed = TicketProgress.status.in_(sorted(progress.CLOSED_STATUSES))
                stmt = stmt.where(closed if q["states"] == ["closed"] else ~closed)
        total = self.db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        stmt = (stmt.order_by(Ticket.registered_at.desc(), Ticket.ticket_no.desc())
                .offset((q["page"] - 1) * q["page_size"]).limit(q["page_size"]))
        items = [_public_view(t, p, s, q["text"]) for t, p, s in self.db.session.execute(stmt)]
        return {"items": items, "total": int(total), "page": q["page"],
                "page_size": q["page_size"]}

    @rpc
    @translate_db_errors
    def citizen_progress_of(self, ticket_no: str, text: str = "open311",
                            listing: str = "all") -> dict[str, Any]:
        """One order's public view; a confidential (涉密) or unknown one is not found."""
        q = load_or_invalid(ProgressQuerySchema(), {"text": text, "listing": listing})
        row = self.db.session.execute(self._progress_select(q["listing"]).where(
            Ticket.ticket_no == ticket_no)).first()
        if row is None:
            raise NotFound(f"工单不存在 order {ticket_no} not found", {"ticket_no": ticket_no})
        return _public_view(*row, q["text"])

    @rpc
    @translate_db_errors
    def progress_updates(self, query: dict[str, Any]) -> dict[str, Any]:
        """The public steps of non-confidential orders between ``start`` and ``end``, oldest
        first (servicerequestupdates ``GET``). A step's text follows the same ``text`` policy
        as :meth:`citizen_progress`; without it a step still says its stage."""
        q = load_or_invalid(UpdatesQuerySchema(), query or {})
        stmt = (select(ProgressUpdate, Ticket.channel, Ticket.caller_privacy)
                .join(Ticket, Ticket.ticket_no == ProgressUpdate.ticket_no)
                .where(Ticket.confidential.is_(False), ProgressUpdate.at >= q["start"],
                       ProgressUpdate.at <= q["end"]))
        if q["listing"] == "open311":
            stmt = stmt.where(Ticket.channel == "open311")
        stmt = (stmt.order_by(ProgressUpdate.at, ProgressUpdate.id)
                .offset((q["page"] - 1) * q["page_size"]).limit(q["page_size"]))
        items = []
        for u, channel, privacy in self.db.session.execute(stmt):
            public = _text_public(q["text"], channel, privacy)
            description = u.description if (u.kind == "status" or public) else None
            items.append({"update_id": u.id, "ticket_no": u.ticket_no, "at": u.at.isoformat(),
                          "status": "closed" if progress.is_closed(u.status) else "open",
                          "stage": progress.STAGES.get(u.status, u.status), "kind": u.kind,
                          "description": description or progress.STAGES.get(u.status, u.status)})
        return {"items": items, "page": q["page"], "page_size": q["page_size"]}

    def _progress_select(self, listing: str) -> Any:
        stmt = (select(Ticket, TicketProgress, Open311Submission)
                .join(TicketProgress, TicketProgress.ticket_no == Ticket.ticket_no)
                .outerjoin(Open311Submission, Open311Submission.ticket_no == Ticket.ticket_no)
                .where(Ticket.confidential.is_(False)))
        if listing == "open311":
            stmt = stmt.where(Ticket.channel == "open311")
        return stmt

    # The read model's feeds. Each claims its event (inbox), applies it through
    # services/intake/progress.py and records a public step when something changed.
    @event_handler("ticket.status_changed", "ticket.dispatched", "ticket.recalled",
                   "assignment.clocks_started", "assignment.extension_decided",
                   "assignment.passed_down", "assignment.replied", "assignment.progress_noted")
    def on_progress_fact(self, event: Event) -> None:
        """流程查询: one fact about an order's progress. Orders intake never registered are
        retried, then dead-lettered (:class:`UnknownOrder`)."""
        if not self.db.claim(event):
            return
        d = event.data
        row = self.db.session.get(TicketProgress, d["ticket_no"], with_for_update=True)
        if row is None:
            if self.db.session.get(Ticket, d["ticket_no"]) is None:
                raise UnknownOrder(f"order {d['ticket_no']} is not intake's")
            row = TicketProgress(ticket_no=d["ticket_no"], status="registered",
                                 status_sequence=0, deadlines={}, updated_at=event.occurred_at)
            self.db.session.add(row)
        p = _progress_of(row)
        step: tuple[str, str | None, Any] | None = None  # kind, description, at
        if event.type == "ticket.status_changed":
            if progress.apply_status(p, d["to_status"], event.sequence, d["at"]):
                step = ("status", None, d["at"])
            else:
                log.info("older status ignored", extra={"event_id": event.event_id})
        elif event.type == "ticket.dispatched":
            progress.apply_dispatch(p, d["assignments"], d["dispatched_at"])
        elif event.type == "ticket.recalled":
            progress.apply_recall(p, d["assignment_ids"], d["at"])
        elif event.type == "assignment.clocks_started":
            progress.apply_clock(p, d["assignment_id"], d["department_code"], d["role"],
                                 d["handle_due"])
        elif event.type == "assignment.extension_decided":
            progress.apply_extension(p, d["assignment_id"], d["approved"], d["new_due"], d["at"])
        elif event.type == "assignment.passed_down":
            if d["role"] == "lead":
                progress.adopt_lead(p, d["new_assignment_id"], d["to_department"])
            progress.touch(p, d["at"])
        elif event.type == "assignment.replied":
            if progress.apply_reply(p, d["reply"], d["replied_at"]):
                step = ("reply", d["reply"], d["replied_at"])
        elif event.type == "assignment.progress_noted":
            progress.touch(p, d["at"])
            step = ("progress", d["note"], d["at"])
        _store_progress(row, p)
        if step is not None:
            kind, description, at = step
            status = d["to_status"] if kind == "status" else p.status
            self.db.session.add(ProgressUpdate(
                ticket_no=d["ticket_no"], at=at, kind=kind, status=status,
                description=description or progress.STAGES.get(status, status)))
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


def _progress_of(row: TicketProgress) -> progress.Progress:
    return progress.Progress(
        status=row.status, status_sequence=row.status_sequence,
        lead_assignment_id=row.lead_assignment_id, lead_department=row.lead_department,
        deadlines={k: dict(v) for k, v in (row.deadlines or {}).items()}, reply=row.reply,
        replied_at=row.replied_at, closed_at=row.closed_at, updated_at=row.updated_at)


def _store_progress(row: TicketProgress, p: progress.Progress) -> None:
    row.status, row.status_sequence = p.status, p.status_sequence
    row.lead_assignment_id, row.lead_department = p.lead_assignment_id, p.lead_department
    row.deadlines = p.deadlines  # a new dict: SQLAlchemy sees the JSON change
    row.reply, row.replied_at, row.closed_at = p.reply, p.replied_at, p.closed_at
    row.updated_at = p.updated_at or row.updated_at


def _text_public(policy: str, channel: str, caller_privacy: bool) -> bool:
    if policy == "none" or caller_privacy:
        return False
    return policy == "all" or channel == "open311"


def _public_view(ticket: Ticket, row: TicketProgress, sub: Open311Submission | None,
                 text: str) -> dict[str, Any]:
    """What anyone may read of an order (流程查询): never the caller, phone, e-mail, account or
    device; its free text and location only under the ``text`` policy."""
    p = _progress_of(row)
    public = _text_public(text, ticket.channel, ticket.caller_privacy)
    return {
        "ticket_no": ticket.ticket_no, "category": ticket.category, "channel": ticket.channel,
        "status": row.status, "closed": progress.is_closed(row.status),
        "stage": progress.stage(p), "lead_department": progress.responsible(p),
        "expected_at": progress.expected(p) if not progress.is_closed(row.status) else None,
        "registered_at": ticket.registered_at.isoformat(),
        "updated_at": max(row.updated_at, ticket.registered_at).isoformat(),
        "description": ticket.content if public else None,
        "address": ticket.address if public else None,
        "address_id": sub.address_id if public and sub else None,
        "lat": sub.lat if public and sub else None,
        "long": sub.long if public and sub else None,
        "media_url": sub.media_url if public and sub else None,
        "reply": row.reply if public else None,
        "open311": sub is not None}
