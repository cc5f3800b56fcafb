"""Supervision's tables: each order's lifecycle status (the single source of truth), its
history of transitions, the clocks of every assignment, callbacks, and calendar overrides."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, MetaData, String, Text, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.database import add_messaging_tables
from shared.types import UtcDateTime


class Base(DeclarativeBase):
    metadata = MetaData()


metadata = Base.metadata
add_messaging_tables(metadata)


class TicketState(Base):
    __tablename__ = "ticket_state"

    ticket_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    category: Mapped[str | None] = mapped_column(String(20))
    urgency: Mapped[str | None] = mapped_column(String(10))
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    registered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    callback_due: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    close_reason: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # optimistic lock: of two concurrent transitions of one order, the second gets 409
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}


class Transition(Base):
    """One lifecycle transition: who, when, why (DOMAIN.md §3: the history is complete)."""

    __tablename__ = "transition"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_no: Mapped[str] = mapped_column(ForeignKey("ticket_state.ticket_no"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(50))
    reason: Mapped[str | None] = mapped_column(String(500))


class Clock(Base):
    """The sign-for (签收) and handling (办理) clocks of one assignment, started at dispatch."""

    __tablename__ = "clock"

    assignment_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_no: Mapped[str] = mapped_column(ForeignKey("ticket_state.ticket_no"), index=True)
    department_code: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(8))
    policy: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sign_due: Mapped[datetime] = mapped_column(UtcDateTime())
    handle_due: Mapped[datetime] = mapped_column(UtcDateTime())
    signed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    sign_warn_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    handle_warn_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # the next threshold the deadline sweep must look at; NULL when nothing is left to urge
    next_check_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # 退单 window: a return may be requested until then (DOMAIN.md §4: 2 working days)
    return_due: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # set when the assignment was given back by an approved return: its clocks stop
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_clock_open_handle_due", "replied_at", "handle_due"),)


class Callback(Base):
    """回访: one attempt to call the citizen back."""

    __tablename__ = "callback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_no: Mapped[str] = mapped_column(ForeignKey("ticket_state.ticket_no"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(50))
    reached: Mapped[bool] = mapped_column(Boolean)
    solved: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)


class CalendarOverride(Base):
    """A date the holiday package does not know or gets wrong: 调休 working day or holiday."""

    __tablename__ = "calendar_override"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(100))


class Urge(Base):
    """催办: one urge of one assignment, automatic (at 80 % and at breach) or by hand.

    ``auto_key`` is set for automatic urges only and is unique, so each threshold is urged
    exactly once however many supervision instances sweep at the same moment.
    """

    __tablename__ = "urge"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_no: Mapped[str] = mapped_column(ForeignKey("ticket_state.ticket_no"), index=True)
    assignment_id: Mapped[int] = mapped_column(Integer, index=True)
    department_code: Mapped[str] = mapped_column(String(32))
    clock: Mapped[str] = mapped_column(String(8))  # sign | handle
    kind: Mapped[str] = mapped_column(String(8))  # warning | breach | manual
    channel: Mapped[str] = mapped_column(String(16))  # system | phone | notice | onsite
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    issuer: Mapped[str] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(String(500))
    auto_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # the urged department's answer (催办答复), once
    answer: Mapped[str | None] = mapped_column(String(2000))
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    answered_by: Mapped[str | None] = mapped_column(String(50))


class Extension(Base):
    """延期: a department's request for more time on one assignment, and the decision on it.

    At most one per assignment (unique): an approved extension moves the deadline once.
    """

    __tablename__ = "extension"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_no: Mapped[str] = mapped_column(ForeignKey("ticket_state.ticket_no"), index=True)
    assignment_id: Mapped[int] = mapped_column(Integer, unique=True)
    department_code: Mapped[str] = mapped_column(String(32))
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    requested_by: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(10))  # pending | approved | rejected | lapsed
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(50))
    decision_note: Mapped[str | None] = mapped_column(String(500))
    old_due: Mapped[datetime] = mapped_column(UtcDateTime())
    new_due: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ReturnRequest(Base):
    """退单: the lead department says the order is not its to handle; the center adjudicates."""

    __tablename__ = "return_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_no: Mapped[str] = mapped_column(ForeignKey("ticket_state.ticket_no"), index=True)
    assignment_id: Mapped[int] = mapped_column(Integer, index=True)
    department_code: Mapped[str] = mapped_column(String(32))
    reason_code: Mapped[str] = mapped_column(String(24))
    basis: Mapped[str] = mapped_column(String(1000))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    requested_by: Mapped[str] = mapped_column(String(50))
    status_before: Mapped[str] = mapped_column(String(24))
    state: Mapped[str] = mapped_column(String(10))  # pending | approved | rejected | withdrawn | lapsed
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(50))
    decision_note: Mapped[str | None] = mapped_column(String(500))


# -- 督办单, urge answers, monthly urge, 回头看, linked callers, reopen --
class SupervisionOrder(Base):
    """督办单: an overdue (or problem) assignment put under supervision, with a deadline for
    the department's explanation; still not replied ``escalate_after`` later → escalated (通报).

    ``auto_key`` is set for the automatic one opened at an assignment's handling breach and is
    unique, so it is opened once however many instances sweep; ``escalated_at`` is claimed by
    a conditional UPDATE, so the escalation happens once too.
    """

    __tablename__ = "supervision_order"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_no: Mapped[str] = mapped_column(ForeignKey("ticket_state.ticket_no"), index=True)
    # NULL for an order-level 督办单 (a problem order with no open assignment)
    assignment_id: Mapped[int | None] = mapped_column(Integer, index=True)
    department_code: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(10))  # breach | manual | problem
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    opened_by: Mapped[str] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(String(500))
    explanation_due: Mapped[datetime] = mapped_column(UtcDateTime())
    escalate_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    explanation: Mapped[str | None] = mapped_column(String(2000))
    explained_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    explained_by: Mapped[str | None] = mapped_column(String(50))
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # set by the sweep when the assignment was replied (or stopped) before escalation
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    auto_key: Mapped[str | None] = mapped_column(String(64), unique=True)


class Recheck(Base):
    """回头看: a supervisor's re-check of a closed order, its own record; the closure (closed_at,
    close_reason, history) is never edited."""

    __tablename__ = "recheck"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_no: Mapped[str] = mapped_column(ForeignKey("ticket_state.ticket_no"), index=True)
    picked_at: Mapped[datetime] = mapped_column(UtcDateTime())
    picked_by: Mapped[str] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(String(500))
    finding: Mapped[str | None] = mapped_column(String(16))  # confirmed | problem_found
    result_note: Mapped[str | None] = mapped_column(String(2000))
    recorded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    recorded_by: Mapped[str | None] = mapped_column(String(50))


class CallerLink(Base):
    """A linked caller (重复来电) of an order: their own callback target (DOMAIN.md §2).

    Their callbacks are recorded here and announced; only the original caller's callback
    closes or reopens the order.
    """

    __tablename__ = "caller_link"

    link_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ticket_no: Mapped[str] = mapped_column(ForeignKey("ticket_state.ticket_no"), index=True)
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime())
    caller_name: Mapped[str | None] = mapped_column(String(50))
    channel: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(24))
    callback_status: Mapped[str] = mapped_column(String(12))  # pending | done | unreachable
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reached: Mapped[bool | None] = mapped_column(Boolean)
    solved: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    called_back_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    called_back_by: Mapped[str | None] = mapped_column(String(50))


class ProblemFlag(Base):
    """问题工单: the order was transferred or re-handled three times (from dispatch)."""

    __tablename__ = "problem_flag"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_no: Mapped[str] = mapped_column(ForeignKey("ticket_state.ticket_no"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    transfers: Mapped[int] = mapped_column(Integer)
    reopens: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))




# -- leader instructions 领导批示件 --
from sqlalchemy import UniqueConstraint  # noqa: E402  (kept inside this area)


class InstructionSequence(Base):
    """Last instruction number handed out per business year (批〔2026〕N号); never reused."""

    __tablename__ = "instruction_sequence"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


class Instruction(Base):
    """领导批示件: a leader's written instruction, registered and numbered by the office."""

    __tablename__ = "instruction"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    leader_name: Mapped[str] = mapped_column(String(50))
    leader_level: Mapped[str] = mapped_column(String(20))
    words: Mapped[str] = mapped_column(Text)  # 批示内容
    source_title: Mapped[str] = mapped_column(String(200))
    source_doc_no: Mapped[str | None] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    registered_by: Mapped[str] = mapped_column(String(50))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)  # 涉密
    kind: Mapped[str] = mapped_column(String(8), index=True)  # handle 办件 | read 阅件
    classified_kind: Mapped[str] = mapped_column(String(8))  # what the words said
    kind_reason: Mapped[str | None] = mapped_column(String(500))
    deadline_rule: Mapped[str] = mapped_column(String(64))
    due_override: Mapped[datetime | None] = mapped_column(UtcDateTime())
    dispatch_due: Mapped[datetime | None] = mapped_column(UtcDateTime())  # 信访: 3日/当日交办
    dispatched_late: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), index=True)  # open | completed
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("year", "seq", name="uq_instruction_year_seq"),)


class InstructionUnit(Base):
    """One unit's share of an instruction (承办单位), with its own status and deadline."""

    __tablename__ = "instruction_unit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instruction_id: Mapped[int] = mapped_column(ForeignKey("instruction.id"), index=True)
    department_code: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(12))
    feedback_due: Mapped[datetime | None] = mapped_column(UtcDateTime())
    dispatched_at: Mapped[datetime] = mapped_column(UtcDateTime())
    submissions: Mapped[int] = mapped_column(Integer, default=0)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    # when the deadline sweep must look at this share; NULL when nothing is left to urge
    next_check_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    # optimistic lock: of two concurrent actions on one share, the second gets 409
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __table_args__ = (UniqueConstraint("instruction_id", "department_code",
                                       name="uq_instruction_unit"),)
    __mapper_args__ = {"version_id_col": version}


class InstructionTicket(Base):
    """A work order linked to an instruction (关联工单)."""

    __tablename__ = "instruction_ticket"

    instruction_id: Mapped[int] = mapped_column(ForeignKey("instruction.id"), primary_key=True)
    ticket_no: Mapped[str] = mapped_column(String(20), primary_key=True)


class InstructionFeedback(Base):
    """One feedback (反馈材料) of a unit, and the office's decision on it (审定 / 退回)."""

    __tablename__ = "instruction_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instruction_id: Mapped[int] = mapped_column(ForeignKey("instruction.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("instruction_unit.id"), index=True)
    department_code: Mapped[str] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    submitted_by: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(10))  # pending | approved | returned
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(50))
    decision_reason: Mapped[str | None] = mapped_column(String(500))


class InstructionAction(Base):
    """The history of an instruction: every action with actor, time and reason."""

    __tablename__ = "instruction_action"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instruction_id: Mapped[int] = mapped_column(ForeignKey("instruction.id"), index=True)
    action: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(50))
    department_code: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(500))


class InstructionUrge(Base):
    """催办 of a unit's share: automatic at its deadline, or by the office by hand (phone,
    催办单, on site). ``claim_key`` (share + deadline) is set for automatic urges only and is
    unique, so they happen exactly once however many supervision instances sweep."""

    __tablename__ = "instruction_urge"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instruction_id: Mapped[int] = mapped_column(ForeignKey("instruction.id"), index=True)
    unit_id: Mapped[int] = mapped_column(Integer)
    department_code: Mapped[str] = mapped_column(String(32))
    due: Mapped[datetime] = mapped_column(UtcDateTime())
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    issuer: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(8))  # auto | manual
    channel: Mapped[str] = mapped_column(String(16))  # system | phone | notice | onsite
    note: Mapped[str | None] = mapped_column(String(500))
    claim_key: Mapped[str | None] = mapped_column(String(64), unique=True)

