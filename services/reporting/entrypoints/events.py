"""The event log (事件日志) and the facts projected from it; ``rebuild`` replays the log."""

from __future__ import annotations

from sqlalchemy import JSON, bindparam, delete, func, select, text

from services.reporting import cube, projections
from services.reporting.entrypoints.base import ReportingBase
from services.reporting.models import (
    AssignmentFact,
    CallbackFact,
    EventLog,
    InstructionUnitFact,
    LinkFact,
    ReturnFact,
    SupervisionFact,
    TicketFact,
    UrgeFact,
)
from shared.database import translate_db_errors
from shared.events import Event, load_envelope, utcnow
from shared.messaging import event_handler
from shared.rpc import rpc
from shared.types import UtcDateTime

# Plain SQL (SQLite ≥ 3.35 and PostgreSQL alike): SQLAlchemy recompiles ON CONFLICT constructs
# on every execution, and this runs for every event of the system.
_APPEND = text(
    "INSERT INTO event_log (event_id, type, version, producer, ticket_no, sequence, "
    "occurred_at, received_at, envelope) VALUES (:event_id, :type, :version, :producer, "
    ":ticket_no, :sequence, :occurred_at, :received_at, :envelope) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING id"
).bindparams(bindparam("occurred_at", type_=UtcDateTime()),
             bindparam("received_at", type_=UtcDateTime()), bindparam("envelope", type_=JSON()))

# every table built only from events: emptied and refilled by ``rebuild``
FACT_TABLES = (TicketFact, AssignmentFact, CallbackFact, ReturnFact, UrgeFact, SupervisionFact,
               LinkFact, InstructionUnitFact)


class EventEntrypoints(ReportingBase):
    @event_handler("#")
    def on_any_event(self, event: Event) -> None:
        """Append every event to the log once, and project it.

        The log's unique ``event_id`` is this consumer's inbox: a redelivered event inserts
        nothing and is skipped, in the same transaction as the projection.
        """
        appended = self.db.session.execute(_APPEND, {
            "event_id": event.event_id, "type": event.type, "version": event.version,
            "producer": event.producer, "ticket_no": event.ticket_no,
            "sequence": event.sequence, "occurred_at": event.occurred_at,
            "received_at": utcnow(), "envelope": event.raw}).first()
        if appended is None:
            return
        session = self.db.session
        ticket_no = cube.affected_ticket(event.type, event.ticket_no, event.data)
        before = cube.contributions_for(session, [ticket_no]) if ticket_no else None
        projections.apply(session, event)
        if ticket_no and before is not None:
            cube.refresh_tickets(session, [ticket_no], before)
        self.db.commit()

    @rpc
    @translate_db_errors
    def rebuild(self) -> dict[str, int]:
        """Drop the facts and replay the whole event log into them."""
        session = self.db.session
        for model in FACT_TABLES:
            session.execute(delete(model))
        n = 0
        last_id = 0
        while True:
            batch = list(session.scalars(select(EventLog).where(EventLog.id > last_id)
                                         .order_by(EventLog.id).limit(1000)))
            if not batch:
                break
            n += projections.project_all(session, (load_envelope(r.envelope) for r in batch))
            last_id = batch[-1].id
        cube_rows = cube.rebuild_cube(session)
        self.db.commit()
        return {"events_replayed": n, "cube_rows": cube_rows}

    @rpc
    @translate_db_errors
    def event_counts(self) -> dict[str, int]:
        rows = self.db.session.execute(select(EventLog.type, func.count()).group_by(EventLog.type))
        return {t: n for t, n in rows}
