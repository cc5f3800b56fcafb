"""Dispatch's tables: territories, the department tree, the routing catalogue (派单目录),
dispatch's copy of each order, and assignments (one per department per dispatch round)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.database import add_messaging_tables
from shared.types import UtcDateTime


class Base(DeclarativeBase):
    metadata = MetaData()


metadata = Base.metadata
add_messaging_tables(metadata)


class Territory(Base):
    """属地: city → district → street → community."""

    __tablename__ = "territory"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))  # city | district | street | community
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("territory.code"))


class Department(Base):
    """承办单位: a city bureau, or the government of a district / street / community."""

    __tablename__ = "department"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # bureau | district | street | community | center
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("department.code"))
    territory_code: Mapped[str | None] = mapped_column(ForeignKey("territory.code"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class RoutingRule(Base):
    """One line of the routing catalogue (派单目录): category × keywords × territory → departments.

    ``lead`` is a department code, or ``@district`` / ``@street``: the government of the order's
    own district or street (属地派单).
    """

    __tablename__ = "routing_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    category: Mapped[str | None] = mapped_column(String(20))
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    territory_code: Mapped[str | None] = mapped_column(String(32))
    lead: Mapped[str] = mapped_column(String(32))
    assists: Mapped[list[str]] = mapped_column(JSON, default=list)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(String(200))


class TicketCopy(Base):
    """Dispatch's own copy of what it needs of an order (fed by ``ticket.registered``)."""

    __tablename__ = "ticket_copy"

    ticket_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    category: Mapped[str] = mapped_column(String(20))
    urgency: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    caller_name: Mapped[str | None] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(200))
    territory_code: Mapped[str | None] = mapped_column(String(32))
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending | dispatched
    round: Mapped[int] = mapped_column(Integer, default=0)


class Assignment(Base):
    """A department's share of one dispatch round: lead (主办) or assist (协办)."""

    __tablename__ = "assignment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_no: Mapped[str] = mapped_column(ForeignKey("ticket_copy.ticket_no"), index=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("department.code"))
    role: Mapped[str] = mapped_column(String(8))  # lead | assist
    round: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # dispatched | signed | replied
    dispatched_at: Mapped[datetime] = mapped_column(UtcDateTime())
    dispatched_by: Mapped[str] = mapped_column(String(50))
    rule_id: Mapped[int | None] = mapped_column(Integer)
    signed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    signed_by: Mapped[str | None] = mapped_column(String(50))
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    replied_by: Mapped[str | None] = mapped_column(String(50))
    reply: Mapped[str | None] = mapped_column(Text)
    # optimistic lock: of two concurrent actions on one assignment, the second gets 409
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_assignment_dept_id", "department_code", "id"),
                      Index("ix_assignment_dept_state_id", "department_code", "state", "id"))


class ReferenceVersion(Base):
    """Bumped whenever territories, departments or routing rules change, so every dispatch
    instance can keep them in memory and reload only when this number moves."""

    __tablename__ = "reference_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
