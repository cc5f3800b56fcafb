"""The event log (事件日志) and the facts projected from it; ``rebuild`` replays the log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, bindparam, func, select, text

from services.reporting import cube, replay
from services.reporting.entrypoints.base import ReportingBase
from services.reporting.models import (
    EventLog,
)
from shared.database import translate_db_errors
from shared.events import Event, utcnow
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

FACT_TABLES = replay.FACT_TABLES  # every table built only from events


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
        cube.project_event(self.db.session, event)  # the facts, and the order's KPI cube cells
        self.db.commit()

    @rpc
    @translate_db_errors
    def rebuild(self) -> dict[str, Any]:
        """Drop the facts and the KPI cube and rebuild them by replaying the whole event log
        (``replay.py``): events replayed, seconds and events/s."""
        result = replay.replay(self.db.session)
        self.db.commit()
        return result

    @rpc
    @translate_db_errors
    def event_counts(self) -> dict[str, int]:
        rows = self.db.session.execute(select(EventLog.type, func.count()).group_by(EventLog.type))
        return {t: n for t, n in rows}
