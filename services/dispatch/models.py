"""Dispatch's tables: territories, the department tree, the routing catalogue (派单目录),
dispatch's copy of each order, and assignments (one per department per dispatch round)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import false

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
    # 保密 on the caller's request: the caller's name is masked in the department feed
    caller_privacy: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending | dispatched
    round: Mapped[int] = mapped_column(Integer, default=0)
    # 问题工单: re-dispatches after an approved return (转办) and 重办 rounds, flagged once
    transfers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reopens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    problem_flagged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_ticket_copy_state_no", "state", "ticket_no"),)


class Assignment(Base):
    """A department's share of one dispatch round: lead (主办) or assist (协办)."""

    __tablename__ = "assignment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_no: Mapped[str] = mapped_column(ForeignKey("ticket_copy.ticket_no"), index=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("department.code"))
    role: Mapped[str] = mapped_column(String(8))  # lead | assist
    round: Mapped[int] = mapped_column(Integer)
    # dispatched | signed | replied | opinion_submitted | passed_down | return_requested | returned
    # | recalled (撤回派单)
    state: Mapped[str] = mapped_column(String(20))
    dispatched_at: Mapped[datetime] = mapped_column(UtcDateTime())
    dispatched_by: Mapped[str] = mapped_column(String(50))
    rule_id: Mapped[int | None] = mapped_column(Integer)
    signed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    signed_by: Mapped[str | None] = mapped_column(String(50))
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    replied_by: Mapped[str | None] = mapped_column(String(50))
    reply: Mapped[str | None] = mapped_column(Text)
    # the catalogue version the rule was read from (None: chosen by hand)
    catalogue_version: Mapped[int | None] = mapped_column(Integer)
    # 协办意见 (assist only)
    opinion: Mapped[str | None] = mapped_column(Text)
    opinion_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    opinion_by: Mapped[str | None] = mapped_column(String(50))
    # 下派: the assignment this one took over, and the one that took this one over
    passed_from_id: Mapped[int | None] = mapped_column(Integer)
    passed_to_id: Mapped[int | None] = mapped_column(Integer)
    pass_down_note: Mapped[str | None] = mapped_column(String(500))
    # optimistic lock: of two concurrent actions on one assignment, the second gets 409
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_assignment_dept_id", "department_code", "id"),
                      Index("ix_assignment_dept_state_id", "department_code", "state", "id"))


class ReferenceVersion(Base):
    """Row 1: bumped whenever territories, departments or routing rules change, so every
    dispatch instance can keep them in memory and reload only when this number moves.
    Row 2: the routing catalogue's own version (派单目录版本), moved by each rule change."""

    __tablename__ = "reference_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class DispatchDecision(Base):
    """One dispatch round of an order: what the catalogue (or, for an order no rule matched,
    the knowledge base's routing help) suggested and what was decided.

    ``decision``: ``pending`` (waits for a dispatcher, 预审), ``auto`` (dispatched by the
    catalogue, or by the knowledge base's suggestion where a city enables
    ``DISPATCH_KB_AUTO``), ``accepted`` (a dispatcher accepted the suggestion), ``overridden``
    (a dispatcher chose other departments, with a reason), ``manual`` (nothing was suggested), ``reopened``
    (重办 to the last lead). The dispatch history of an order is its rows, round by round.
    """

    __tablename__ = "dispatch_decision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_no: Mapped[str] = mapped_column(ForeignKey("ticket_copy.ticket_no"))
    round: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    waiting_reason: Mapped[str | None] = mapped_column(String(20))  # unmatched | review | returned
    suggested_lead: Mapped[str | None] = mapped_column(String(32))
    suggested_assists: Mapped[list[str]] = mapped_column(JSON, default=list)
    rule_id: Mapped[int | None] = mapped_column(Integer)
    catalogue_version: Mapped[int | None] = mapped_column(Integer)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    # who suggested: catalogue (a rule, 派单目录) | knowledge (routing help, 派单辅助, for an
    # order no rule matched); knowledge's detail: {score, confidence, alternatives: [{
    # department_code, score, reasons}]}
    suggestion_source: Mapped[str | None] = mapped_column(String(12))
    suggestion_detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    decision: Mapped[str] = mapped_column(String(12))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(50))
    lead: Mapped[str | None] = mapped_column(String(32))
    assists: Mapped[list[str]] = mapped_column(JSON, default=list)
    reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (UniqueConstraint("ticket_no", "round", name="uq_dispatch_decision_round"),)


class CatalogueRevision(Base):
    """One change to one routing rule (派单目录修订): who, when, the rule before and after, and
    the catalogue version it produced. Several rules changed in one load share a version."""

    __tablename__ = "catalogue_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    catalogue_version: Mapped[int] = mapped_column(Integer, index=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("routing_rule.id"))
    action: Mapped[str] = mapped_column(String(12))  # create | update | deactivate | activate
    actor: Mapped[str] = mapped_column(String(50))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (UniqueConstraint("catalogue_version", "rule_id",
                                       name="uq_catalogue_revision_version_rule"),
                      Index("ix_catalogue_revision_rule", "rule_id", "id"))


class AssignmentDeadline(Base):
    """Dispatch's copy of an assignment's handling deadline, learnt from supervision's
    ``assignment.clocks_started`` and moved by an approved ``assignment.extension_decided``:
    the reply gate lets the lead answer once an assistant's deadline has passed."""

    __tablename__ = "assignment_deadline"

    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id"), primary_key=True)
    handle_due: Mapped[datetime] = mapped_column(UtcDateTime())
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


# -- Step 3: departments as endpoints (部门对接方式), the department feed, webhook deliveries ----

class Endpoint(Base):
    """How a department (optionally: for one category of orders) is reached: ``terminal``
    (console and API), ``webhook`` (push, signed with ``secret``), ``pull`` (it reads its feed),
    ``open311``. ``active_slot`` is the category (or ``*``) while active and NULL after
    deactivation, so the unique key allows one active endpoint per (department, category) and
    any number of old ones (NULLs are distinct on SQLite and PostgreSQL)."""

    __tablename__ = "endpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("department.code"))
    category: Mapped[str | None] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(10))
    url: Mapped[str | None] = mapped_column(String(500))
    secret: Mapped[str | None] = mapped_column(String(100))
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=5)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    active_slot: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(50))
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    deactivated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    deactivated_by: Mapped[str | None] = mapped_column(String(50))

    __table_args__ = (UniqueConstraint("department_code", "active_slot",
                                       name="uq_endpoint_active_slot"),)


class FeedHead(Base):
    """One row per department: the last ``seq`` of its feed, and the delivery lease.

    Feed writers take the next ``seq`` with an UPDATE of this row, so a department's entries
    commit in ``seq`` order (the row lock serialises them on PostgreSQL; SQLite has one writer):
    a reader paging by cursor never skips an entry that commits late. The lease (owner, until)
    is what lets one dispatch instance at a time deliver this department's webhooks."""

    __tablename__ = "feed_head"

    department_code: Mapped[str] = mapped_column(ForeignKey("department.code"), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())


class FeedEntry(Base):
    """部门消息: one entry of a department's feed (append-only); ``seq`` rises strictly per
    department. Types and ``data`` as in shared/webhooks.py."""

    __tablename__ = "feed_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("department.code"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ticket_no: Mapped[str | None] = mapped_column(String(20))
    assignment_id: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("department_code", "seq", name="uq_feed_entry_dept_seq"),)


class Delivery(Base):
    """The push of one feed entry to the department's webhook: ``pending`` (in line, retried
    with backoff), ``delivered`` (a 2xx answer) or ``dead`` (its retry window passed; an
    operator may replay it). ``window_start`` is the entry's creation, or the last replay."""

    __tablename__ = "delivery"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    feed_entry_id: Mapped[int] = mapped_column(ForeignKey("feed_entry.id"), unique=True)
    department_code: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(Integer)
    category: Mapped[str | None] = mapped_column(String(20))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoint.id"))
    state: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    window_start: Mapped[datetime] = mapped_column(UtcDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    dead_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    replays: Mapped[int] = mapped_column(Integer, default=0)
    replayed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    replayed_by: Mapped[str | None] = mapped_column(String(50))

    __table_args__ = (Index("ix_delivery_dept_state_seq", "department_code", "state", "seq"),
                      Index("ix_delivery_state_id", "state", "id"))


class DeliveryAttempt(Base):
    """One POST of a delivery: when, the answer's status (None: no answer), latency, and the
    first 500 characters of the answer or the error."""

    __tablename__ = "delivery_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("delivery.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    response: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(String(500))


class ProgressNote(Base):
    """办理进展: a department's note on its open assignment (no clock moves)."""

    __tablename__ = "progress_note"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id"), index=True)
    ticket_no: Mapped[str] = mapped_column(String(20))
    department_code: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(50))
