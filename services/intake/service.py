"""Intake service (受理): registers work orders and owns their registration facts.

Entrypoints are thin: load with marshmallow, call the domain, persist, record events.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, bindparam, select, text
from sqlalchemy.exc import IntegrityError

from services.intake import domain
from services.intake.models import Ticket, metadata
from services.intake.schemas import ListFilterSchema, RegistrationSchema, TicketSchema
from shared.database import Database, translate_db_errors
from shared.errors import NotFound, load_or_invalid
from shared.events import utcnow
from shared.logs import LogContext, bind
from shared.operations import Operations
from shared.rpc import rpc
from shared.vocabulary import CATEGORIES, CHANNELS, URGENCIES

_ticket_schema = TicketSchema()


class IntakeService(Operations):
    name = "intake"

    db = Database(metadata)
    log_context = LogContext()

    @rpc
    @translate_db_errors
    def register_ticket(self, payload: dict[str, Any], actor: str,
                        idempotency_key: str | None = None) -> dict[str, Any]:
        """Register one order; the same ``idempotency_key`` returns the first order again."""
        form = load_or_invalid(RegistrationSchema(), payload)
        existing = self._by_idempotency_key(idempotency_key)
        if existing is not None:
            return {**_ticket_schema.dump(existing), "replayed": True}
        session = self.db.session
        now = utcnow()
        day = domain.business_day(now)
        seq = _next_daily_sequence(self.db, day)
        ticket = Ticket(
            ticket_no=domain.format_ticket_no(day, seq), registered_at=now,
            channel=form["channel"], category=form["category"], urgency=form["urgency"],
            title=(form["title"] or _title_from(form["content"])), content=form["content"],
            caller_name=form["caller_name"], phone=domain.normalize_phone(form["phone"]),
            address=form["address"], territory_code=form["territory_code"],
            confidential=form["confidential"], agent=actor, call_id=form["call_id"],
            recording_ref=form["recording_ref"], idempotency_key=idempotency_key)
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
            return {**_ticket_schema.dump(existing), "replayed": True}
        return {**_ticket_schema.dump(ticket), "replayed": False}

    def _by_idempotency_key(self, key: str | None) -> Ticket | None:
        if not key:
            return None
        return self.db.session.scalar(select(Ticket).where(Ticket.idempotency_key == key))

    @rpc
    @translate_db_errors
    def get_ticket(self, ticket_no: str) -> dict[str, Any]:
        ticket = self.db.session.get(Ticket, ticket_no)
        if ticket is None:
            raise NotFound(f"工单不存在 order {ticket_no} not found", {"ticket_no": ticket_no})
        return _ticket_schema.dump(ticket)

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
        rows = list(self.db.session.scalars(stmt))
        more = len(rows) > f["limit"]
        rows = rows[: f["limit"]]
        return {"items": [_ticket_schema.dump(t) for t in rows],
                "next_cursor": rows[-1].ticket_no if more else None}

    @rpc
    def vocabulary(self) -> dict[str, Any]:
        return {"categories": CATEGORIES, "urgencies": URGENCIES, "channels": CHANNELS}


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


def _title_from(content: str) -> str:
    first = content.strip().splitlines()[0]
    return first[:30] + ("…" if len(first) > 30 else "")
