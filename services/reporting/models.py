"""Reporting's tables: the append-only event log, the facts and aggregates built only from
events, and what reporting itself owns (assessments, periodic reports, hotspot alerts).

Sections, each with one owner module:
- event log and facts (``facts.py`` projects events into them; ``hotline reporting rebuild``
  replays the log);
- the KPI aggregate ``kpi_cube`` (``cube.py``; definitions in ``metrics.py``);
- department assessment 部门考核 (``assessment.py`` rules, ``entrypoints/assessment.py``);
- periodic reports 通报 (``reports.py``, ``entrypoints/reports.py``);
- hotspots 热点 (``hotspots.py``, ``entrypoints/hotspots.py``).
"""

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
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.database import add_messaging_tables
from shared.types import UtcDateTime


class Base(DeclarativeBase):
    metadata = MetaData()


metadata = Base.metadata
add_messaging_tables(metadata)


# -- the event log and the facts ---------------------------------------------------------------

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
    # the title only (for hotspots' keywords); never the content, caller or phone. 涉密
    # (confidential) orders are counted but never shown in hotspots or exports.
    title: Mapped[str | None] = mapped_column(String(200))
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    lead_department: Mapped[str | None] = mapped_column(String(32))
    dispatch_round: Mapped[int] = mapped_column(Integer, default=0)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_at_intake: Mapped[datetime | None] = mapped_column(UtcDateTime())
    first_replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # 回访: the first completed (reached) callback, and unreached attempts (3 → 无法回访)
    callback_done_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    callback_failures: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    reopened_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # the first 重办
    linked_calls: Mapped[int] = mapped_column(Integer, default=0)  # 重复来电 linked to it
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    close_reason: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str | None] = mapped_column(String(24))
    status_seq: Mapped[int] = mapped_column(Integer, default=0)


class AssignmentFact(Base):
    """One row per assignment: its clocks, when it was signed and replied, and how it ended."""

    __tablename__ = "assignment_fact"

    assignment_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_no: Mapped[str] = mapped_column(String(20), index=True)
    department_code: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str | None] = mapped_column(String(8))
    round: Mapped[int | None] = mapped_column(Integer)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    sign_due: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    handle_due: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    extended: Mapped[bool] = mapped_column(Boolean, default=False)  # an approved 延期
    signed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    # supervision's ``ticket.overdue`` per clock: the deadline passed without the action
    sign_overdue_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    handle_overdue_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # returned (approved 退单) | recalled (撤回派单) | passed_down (下派): its clocks stopped
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (Index("ix_assignment_fact_dept", "department_code", "role"),)


class CallbackFact(Base):
    """One row per callback attempt of the original caller (``ticket.callback_recorded``)."""

    __tablename__ = "callback_fact"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket_no: Mapped[str] = mapped_column(String(20), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    reached: Mapped[bool] = mapped_column(Boolean)
    solved: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[str | None] = mapped_column(String(24))


class ReturnFact(Base):
    """退单: one row per return request and its outcome."""

    __tablename__ = "return_fact"

    return_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(Integer, index=True)
    ticket_no: Mapped[str] = mapped_column(String(20), index=True)
    department_code: Mapped[str | None] = mapped_column(String(32), index=True)
    reason_code: Mapped[str | None] = mapped_column(String(32))
    requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    approved: Mapped[bool | None] = mapped_column(Boolean)  # False: 无正当理由退件
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class UrgeFact(Base):
    """催办: one row per urge of an assignment, and its answer."""

    __tablename__ = "urge_fact"

    urge_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_no: Mapped[str] = mapped_column(String(20), index=True)
    assignment_id: Mapped[int] = mapped_column(Integer)
    department_code: Mapped[str | None] = mapped_column(String(32), index=True)
    clock: Mapped[str | None] = mapped_column(String(8))
    kind: Mapped[str | None] = mapped_column(String(12))
    issued_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class SupervisionFact(Base):
    """督办单: opened, explained (late or not), escalated to 通报."""

    __tablename__ = "supervision_fact"

    supervision_order_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_no: Mapped[str] = mapped_column(String(20), index=True)
    assignment_id: Mapped[int | None] = mapped_column(Integer)
    department_code: Mapped[str | None] = mapped_column(String(32), index=True)
    source: Mapped[str | None] = mapped_column(String(12))
    opened_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    explained_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    explained_late: Mapped[bool | None] = mapped_column(Boolean)
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)


class LinkFact(Base):
    """重复来电: a call linked to an already open order instead of a new registration."""

    __tablename__ = "link_fact"

    link_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_no: Mapped[str] = mapped_column(String(20), index=True)
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    channel: Mapped[str | None] = mapped_column(String(20))


class InstructionUnitFact(Base):
    """领导批示件: one row per instruction × unit (identifiers, deadlines and outcomes only;
    the leader's words stay in supervision)."""

    __tablename__ = "instruction_unit_fact"

    instruction_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    number: Mapped[str | None] = mapped_column(String(40))
    leader_level: Mapped[str | None] = mapped_column(String(24))
    kind: Mapped[str | None] = mapped_column(String(8))  # handle 办件 | read 阅件
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    registered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    feedback_due: Mapped[datetime | None] = mapped_column(UtcDateTime())
    first_feedback_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    submissions: Mapped[int] = mapped_column(Integer, default=0)
    returned_feedbacks: Mapped[int] = mapped_column(Integer, default=0)  # 退回修改
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    overdue_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    urges: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


# -- the KPI aggregate (cube.py) -----------------------------------------------------------------

class KpiCube(Base):
    """Counts of one KPI's sample by dimension, group and the one or two business days that
    place it in a period (``day_a``/``day_b`` as YYYYMMDD integers, 0 = none): a sample counts
    in a period when either of its days falls in it (DOMAIN.md §5's "or"). ``good`` splits the
    sample into numerator (1) and the rest (0). Maintained per order from the facts."""

    __tablename__ = "kpi_cube"

    metric: Mapped[str] = mapped_column(String(24), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(12), primary_key=True)
    group_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    day_a: Mapped[int] = mapped_column(Integer, primary_key=True)
    day_b: Mapped[int] = mapped_column(Integer, primary_key=True)
    good: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)

    # covering indexes for a period's two range scans (``kpis.cube_counts``): day_a in the
    # period, and day_b in it with day_a outside; the report reads only the index
    __table_args__ = (Index("ix_kpi_cube_a", "dimension", "day_a", "group_key", "metric", "good",
                            "n"),
                      Index("ix_kpi_cube_b", "dimension", "day_b", "day_a", "group_key", "metric",
                            "good", "n"))


# -- department assessment 部门考核 (assessment.py) --------------------------------------------

class Assessment(Base):
    """One department's result for one quarter of the assessment year (December → November).

    ``draft`` rows are recomputed on request; publishing freezes ``snapshot`` (score, every
    item and the orders behind it). An upheld objection publishes a new revision and marks the
    old one ``superseded`` (kept for history).
    """

    __tablename__ = "assessment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    department_code: Mapped[str] = mapped_column(String(32), index=True)
    year: Mapped[int] = mapped_column(Integer)  # the assessment year (ends in November)
    quarter: Mapped[int] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(12))  # draft | published | superseded
    rules_version: Mapped[str] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(Float)
    snapshot: Mapped[dict] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    published_by: Mapped[str | None] = mapped_column(String(64))
    correction_of: Mapped[int | None] = mapped_column(Integer)  # the revision it corrects

    __table_args__ = (UniqueConstraint("department_code", "year", "quarter", "revision"),)


class AssessmentItem(Base):
    """A manual item (加分/减分, or a verified 有效投诉) entered by a supervisor with a reason."""

    __tablename__ = "assessment_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    department_code: Mapped[str] = mapped_column(String(32), index=True)
    year: Mapped[int] = mapped_column(Integer)
    quarter: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(40))  # a manual rule's code in the rule set
    points: Mapped[float] = mapped_column(Float)
    count: Mapped[int] = mapped_column(Integer, default=1)
    reason: Mapped[str] = mapped_column(Text)
    ticket_no: Mapped[str | None] = mapped_column(String(20))
    occurred_on: Mapped[date | None] = mapped_column(Date)
    entered_by: Mapped[str] = mapped_column(String(64))
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    revoke_reason: Mapped[str | None] = mapped_column(Text)


class AssessmentObjection(Base):
    """异议: a department objects to its published result with evidence; the center answers
    within 5 working days (tracked and urged like any deadline)."""

    __tablename__ = "assessment_objection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assessment_id: Mapped[int] = mapped_column(Integer, index=True)
    department_code: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list] = mapped_column(JSON)
    submitted_by: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    status: Mapped[str] = mapped_column(String(12))  # pending | upheld | rejected
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    answered_by: Mapped[str | None] = mapped_column(String(64))
    answer: Mapped[str | None] = mapped_column(Text)
    urged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    correction_id: Mapped[int | None] = mapped_column(Integer)


class ReportingAudit(Base):
    """Who changed what in reporting's own records (manual items, publications, objections)."""

    __tablename__ = "reporting_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(64), index=True)
    detail: Mapped[dict] = mapped_column(JSON)


# -- periodic reports 通报 (reports.py) -----------------------------------------------------------

class Report(Base):
    """A periodic report (半月报, 月度通报, 季报, 年报, 批示件汇总): a draft is rebuilt on request;
    publishing freezes ``snapshot`` and every chart and export is rendered from it."""

    __tablename__ = "report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12))  # draft | published
    weights: Mapped[dict] = mapped_column(JSON)
    snapshot: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    published_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_report_kind_period", "kind", "period_start"),)


# -- hotspots 热点 (hotspots.py) -------------------------------------------------------------------

class TicketTerm(Base):
    """The keywords of an order's title, for hotspots (not kept for 涉密 orders)."""

    __tablename__ = "ticket_term"

    ticket_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    term: Mapped[str] = mapped_column(String(40), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    day: Mapped[int] = mapped_column(Integer)  # YYYYMMDD, as kpi_cube
    category: Mapped[str | None] = mapped_column(String(20))
    territory_code: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_ticket_term_day", "day", "term"),)


class HotspotAlert(Base):
    """突发热点: many calls about one matter in one place in a short window, raised once per
    matter and window to the supervisors; acknowledged by one of them."""

    __tablename__ = "hotspot_alert"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    matter_key: Mapped[str] = mapped_column(String(120), unique=True)
    category: Mapped[str | None] = mapped_column(String(20))
    territory_code: Mapped[str | None] = mapped_column(String(32))
    terms: Mapped[list] = mapped_column(JSON)
    calls: Mapped[int] = mapped_column(Integer)
    ticket_nos: Mapped[list] = mapped_column(JSON)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime())
    window_end: Mapped[datetime] = mapped_column(UtcDateTime())
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
