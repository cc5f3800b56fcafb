"""Intake's tables: registration facts of work orders (工单登记), the daily number sequence,
linked repeat calls (重复来电) and hotspots (热点)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
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
