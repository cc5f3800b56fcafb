"""Intake's tables: registration facts of work orders (工单登记), the daily number sequence,
linked repeat calls (重复来电) and hotspots (热点)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.database import add_messaging_tables
from shared.types import UtcDateTime


class Base(DeclarativeBase):
    metadata = MetaData()


metadata = Base.metadata
add_messaging_tables(metadata)


class Ticket(Base):
    """What the caller reported, as registered. Lifecycle status lives in supervision."""

    __tablename__ = "ticket"

    ticket_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(20))
    urgency: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    caller_name: Mapped[str | None] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    address: Mapped[str | None] = mapped_column(String(200))
    territory_code: Mapped[str | None] = mapped_column(String(32))
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    agent: Mapped[str | None] = mapped_column(String(50))
    call_id: Mapped[str | None] = mapped_column(String(64))
    recording_ref: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolution: Mapped[str | None] = mapped_column(Text)
    resolution_article_id: Mapped[int | None] = mapped_column(Integer)
    # 保密: the caller asked that their identity be kept from the departments (not 涉密)
    caller_privacy: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # 关联的历史工单: earlier orders the agent named as related at registration
    related_ticket_nos: Mapped[list[str] | None] = mapped_column(JSON)
    # the folded token set of title + content, kept from registration so that matching a new
    # call never re-segments the open orders (services/intake/similarity.py)
    tokens: Mapped[str | None] = mapped_column(Text)
    # intake's projection of the open ledger (台账): false once resolved at intake or closed
    # (ticket.closed), true again when reopened (ticket.reopened); ``state_sequence`` is the
    # last supervision sequence applied, so an older fact is ignored
    is_open: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    state_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (Index("ix_ticket_category_registered", "category", "registered_at"),
                      Index("ix_ticket_open_territory", "is_open", "territory_code", "category",
                            "registered_at"))


class DailySequence(Base):
    """Last number handed out per business day (Asia/Shanghai); numbers are never reused."""

    __tablename__ = "daily_sequence"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class CallLink(Base):
    """重复来电: a later call about an open order, linked to it instead of registered again.

    Each linked caller keeps their own callback (supervision, from ``ticket.linked``). A
    repeated command with the same ``call_id`` finds its first link (unique per order).
    """

    __tablename__ = "call_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_no: Mapped[str] = mapped_column(String(20), index=True)
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime())
    caller_name: Mapped[str | None] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    content: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(20))
    agent: Mapped[str] = mapped_column(String(50))
    call_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(20))

    __table_args__ = (UniqueConstraint("ticket_no", "call_id", name="uq_call_link_call"),)


class Hotspot(Base):
    """热点: raised once per order (the primary key is the claim) when enough distinct callers
    called about it."""

    __tablename__ = "hotspot"

    ticket_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime())
    callers: Mapped[int] = mapped_column(Integer)


# -- Open311 submissions and the citizen-facing progress read model (流程查询) -------------------

class Open311Submission(Base):
    """What an Open311 client sent beside the registration facts (GeoReport v2 ``POST
    requests``): the location as given, media, the client (its API key) and the token a client
    looks the order up by. One row per order registered through channel ``open311``.

    ``email``, ``device_id``, ``account_id`` are personal: stored for the center (it may need to
    answer the citizen), never returned by the public read routes."""

    __tablename__ = "open311_submission"

    ticket_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    client: Mapped[str] = mapped_column(String(64), index=True)  # the API key's principal
    token: Mapped[str] = mapped_column(String(64), unique=True)
    lat: Mapped[float | None] = mapped_column(Float)
    long: Mapped[float | None] = mapped_column(Float)
    address_id: Mapped[str | None] = mapped_column(String(64))
    media_url: Mapped[str | None] = mapped_column(String(500))
    account_id: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(254))
    device_id: Mapped[str | None] = mapped_column(String(100))


class TicketProgress(Base):
    """流程查询: the citizen-facing progress of one order, built only from events.

    Where the order stands (the lifecycle status from supervision), who leads it (the lead
    department from dispatch), by when (the lead's handling deadline, extended if approved),
    and the public reply. Each fact is applied so that reordering cannot undo a newer one
    (services/intake/progress.py): the status by supervision's per-order sequence, the lead by
    assignment id (a later dispatch round or 下派 always has a larger id), the reply by time.
    """

    __tablename__ = "ticket_progress"

    ticket_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    status: Mapped[str] = mapped_column(String(30))
    status_sequence: Mapped[int] = mapped_column(Integer, default=0)
    lead_assignment_id: Mapped[int | None] = mapped_column(Integer)
    lead_department: Mapped[str | None] = mapped_column(String(32))
    # {"<assignment_id>": {"due": iso, "extended": iso | null}} of every assignment seen
    deadlines: Mapped[dict | None] = mapped_column(JSON)
    reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class ProgressUpdate(Base):
    """One public step of an order's progress (servicerequestupdates): a status change, the
    lead's reply, a department's progress note."""

    __tablename__ = "progress_update"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_no: Mapped[str] = mapped_column(String(20), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # status | reply | progress
    status: Mapped[str] = mapped_column(String(30))  # the lifecycle status after it
    description: Mapped[str | None] = mapped_column(Text)
