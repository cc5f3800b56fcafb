"""Reporting's tables: the append-only event log and read models built only from events."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, Index, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.database import add_messaging_tables
from shared.types import UtcDateTime


class Base(DeclarativeBase):
    metadata = MetaData()


metadata = Base.metadata
add_messaging_tables(metadata)


class EventLog(Base):
    """Every event reporting received, once (append-only; projections are rebuilt from it)."""

    __tablename__ = "event_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(80), index=True)
    version: Mapped[int] = mapped_column(Integer)
    producer: Mapped[str] = mapped_column(String(32))
    ticket_no: Mapped[str | None] = mapped_column(String(20), index=True)
    sequence: Mapped[int | None] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    envelope: Mapped[dict] = mapped_column(JSON)


class TicketFact(Base):
    """One row per order: when it passed each milestone and its grouping dimensions."""

    __tablename__ = "ticket_fact"

    ticket_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    registered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    registered_day: Mapped[date | None] = mapped_column(Date, index=True)
    channel: Mapped[str | None] = mapped_column(String(20))
    category: Mapped[str | None] = mapped_column(String(20))
    urgency: Mapped[str | None] = mapped_column(String(10))
    territory_code: Mapped[str | None] = mapped_column(String(32))
    lead_department: Mapped[str | None] = mapped_column(String(32))
    dispatch_round: Mapped[int] = mapped_column(Integer, default=0)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_at_intake: Mapped[datetime | None] = mapped_column(UtcDateTime())
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    close_reason: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str | None] = mapped_column(String(24))
    status_seq: Mapped[int] = mapped_column(Integer, default=0)


class AssignmentFact(Base):
    """One row per assignment: its clocks and when it was signed and replied."""

    __tablename__ = "assignment_fact"

    assignment_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_no: Mapped[str] = mapped_column(String(20), index=True)
    department_code: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str | None] = mapped_column(String(8))
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    sign_due: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    handle_due: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    signed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)

    __table_args__ = (Index("ix_assignment_fact_dept", "department_code", "role"),)


class CallbackFact(Base):
    __tablename__ = "callback_fact"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket_no: Mapped[str] = mapped_column(String(20), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    reached: Mapped[bool] = mapped_column(Boolean)
    solved: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[str | None] = mapped_column(String(24))

