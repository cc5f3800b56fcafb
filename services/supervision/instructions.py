"""Leader instructions (领导批示件, DOMAIN.md §4, seed 000 第一篇): the business rules.

A leader's written instruction on a document is registered and numbered by the supervision
office (督查室), dispatched to units (承办单位), and tracked to each unit's feedback, which the
office approves before it is reported ("批必办、办必清、清必果、果必报").

Plain Python: no nameko, no database session. What is here:

* :func:`classify` — 办件 (needs feedback, supervised) or 阅件 (read only) from the leader's
  words (seed 000 第一篇 五(一));
* :class:`DeadlinePolicy` — the deadline of each leader level, configurable;
* :func:`format_number` — the office's yearly number, ``批〔2026〕12号``;
* the per-unit state machine (:func:`unit_transition`) and the completion rule
  (:func:`is_complete`);
* :func:`share_outcome` — on time / overdue of one unit's share, for the summary;
* :func:`can_see` — who may see an instruction (涉密 items: DOMAIN.md §4, §6).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from shared.calendar import WorkCalendar
from shared.errors import Conflict, Invalid

# -- vocabulary ----------------------------------------------------------------------------------

LEVELS: dict[str, str] = {
    "provincial": "省部级以上领导",
    "mayor": "市长",
    "vice_mayor": "副市长",
    "mayor_assistant": "市长助理",
    "petition": "信访批示件",
    "other": "其他领导",
}

HANDLE, READ = "handle", "read"
KINDS: dict[str, str] = {HANDLE: "办件", READ: "阅件"}

OPEN, COMPLETED = "open", "completed"
STATUSES: dict[str, str] = {OPEN: "办理中", COMPLETED: "已办结"}

# one unit's share (承办单位): dispatched → submitted → approved | returned (→ submitted again);
# a 阅件 share is dispatched → read
UNIT_STATUSES: dict[str, str] = {
    "dispatched": "已交办", "submitted": "已反馈待审核", "approved": "反馈已审定",
    "returned": "反馈退回修改", "read": "已阅知",
}

# action → (kind it applies to, {from status: to status})
UNIT_TRANSITIONS: dict[str, tuple[str, dict[str, str]]] = {
    "submit_feedback": (HANDLE, {"dispatched": "submitted", "returned": "submitted"}),
    "approve_feedback": (HANDLE, {"submitted": "approved"}),
    "return_feedback": (HANDLE, {"submitted": "returned"}),
    "acknowledge_read": (READ, {"dispatched": "read"}),
}

ACTION_NAMES: dict[str, str] = {
    "register": "登记交办", "reclassify": "更改办件/阅件", "submit_feedback": "提交反馈",
    "approve_feedback": "审定反馈", "return_feedback": "退回反馈", "acknowledge_read": "阅知",
    "complete": "办结", "overdue": "超期催办", "urge": "人工催办",
}

# units still owing feedback on a 办件: what the deadline sweep urges
OWING = ("dispatched", "returned")

# -- classification (办件 / 阅件) -----------------------------------------------------------------

# 办件: "阅研" / "阅处" / "酌" (酌办, 酌处, 酌定 …) or an explicit request of the leader
# (请…办理/研办/落实/处理/报送/反馈, 抓紧, 督促 …). Checked first: 办件 words win over 阅.
HANDLE_WORDS: tuple[str, ...] = (
    "阅研", "阅处", "酌", "研办", "研处", "办理", "落实", "处理", "报送", "反馈", "抓紧", "督促",
    "督办", "核实", "核查", "调查", "研究", "解决", "答复", "回复", "跟踪", "拿出意见", "提出意见",
    "报我", "妥处", "妥善", "尽快", "限期",
)
# 阅件: "阅", "参考" (阅知, 已阅, 参阅, 圈阅 …): read only, no feedback
READ_WORDS: tuple[str, ...] = ("阅", "参考", "知悉", "存档")

# "不必反馈" asks for nothing: the request word after a negation does not make a 办件
_NEGATED = re.compile(r"(不必|无需|无须|不需要|不需|毋需|毋须|不用)(再)?"
                      r"(办理|落实|处理|报送|反馈|答复|回复|报告|报我)")


@dataclass(frozen=True)
class Classification:
    kind: str  # handle | read
    matched: str | None  # the word that decided, None when nothing was recognised
    reason: str


def classify(words: str) -> Classification:
    """办件 or 阅件 by the leader's words (seed 000 第一篇 五(一)).

    Words asking for action make a 办件 even when they also contain 阅 ("阅研", "请阅处");
    only words of reading ("阅", "已阅", "参考") make a 阅件. Words with neither are a 办件:
    a missed 办件 goes unsupervised, a wrong 办件 costs one override by the office.
    """
    text = _NEGATED.sub("", re.sub(r"\s+", "", words or ""))
    for word in HANDLE_WORDS:
        if word in text:
            return Classification(HANDLE, word, f"批示含「{word}」，作为办件办理 "
                                                f"'{word}' asks for action: 办件")
    for word in READ_WORDS:
        if word in text:
            return Classification(READ, word, f"批示含「{word}」，作为阅件处理 "
                                              f"'{word}' is for reading: 阅件")
    return Classification(HANDLE, None, "未识别批示用语，按办件办理 no known words: 办件 by default")


def check_kind_choice(classified: str, chosen: str | None, reason: str | None) -> str:
    """The kind the office settles on: its own choice wins over :func:`classify`, with a reason."""
    if chosen is None or chosen == classified:
        return classified
    if not reason or not reason.strip():
        raise Invalid.fields({"kind_reason": ["更改办件/阅件须说明理由 a reason is required to "
                                              "override the classification"]})
    return chosen


# -- numbering ---------------------------------------------------------------------------------

NUMBER_PREFIX = "批"
_NUMBER = re.compile(r"^(?P<prefix>\S+?)〔(?P<year>\d{4})〕(?P<seq>\d+)号$")


def format_number(year: int, seq: int, prefix: str = NUMBER_PREFIX) -> str:
    """The office's number of an instruction: ``批〔2026〕12号`` (a yearly sequence from 1)."""
    if seq < 1:
        raise ValueError(f"seq must be >= 1, got {seq}")
    return f"{prefix}〔{year}〕{seq}号"


def parse_number(number: str) -> tuple[str, int, int]:
    """``批〔2026〕12号`` → ``("批", 2026, 12)``; ValueError for anything else."""
    m = _NUMBER.match(number.strip())
    if not m:
        raise ValueError(f"not an instruction number: {number!r}")
    return m.group("prefix"), int(m.group("year")), int(m.group("seq"))


# -- deadlines -----------------------------------------------------------------------------------

DEFAULT_DEADLINES: dict[str, str] = {
    # 省部级以上领导批示件: 从收件之日起15天内办结 (calendar days)
    "provincial": "15d",
    # 市长 / 副市长 / 市长助理: 10个工作日内反馈
    "mayor": "10wd",
    "vice_mayor": "10wd",
    "mayor_assistant": "10wd",
    "other": "10wd",
    # 信访批示件: 3日内交办到位, 紧急的当日交办 (the office's dispatch deadline) …
    "petition_dispatch": "3d",
    "petition_dispatch_urgent": "0d",
    # … and the units' 办结 by the petition rules (信访工作条例: 60日), unless the office
    # enters the deadline the upper-level unit set
    "petition": "60d",
}

# levels whose feedback deadline counts from dispatch (交办) rather than receipt (收件)
FROM_DISPATCH = frozenset({"mayor"})

_LIMIT = re.compile(r"^\s*(\d+)\s*(wd|d)\s*$")


@dataclass(frozen=True)
class Limit:
    """A deadline: ``Nd`` calendar days or ``Nwd`` working days, counted from the day after
    receipt (次日起算; 民法典 第201条: the first day is not counted), ending at the end of
    the last day in business time. ``0d`` is the end of the day of receipt (当日)."""

    amount: int
    unit: str  # d | wd

    @classmethod
    def parse(cls, text: str) -> Limit:
        m = _LIMIT.match(str(text))
        if not m or (m.group(2) == "wd" and int(m.group(1)) < 1):
            raise ValueError(f"invalid instruction deadline {text!r}: use e.g. 15d, 10wd, 0d")
        return cls(int(m.group(1)), m.group(2))

    def after(self, start: datetime, calendar: WorkCalendar) -> datetime:
        if self.unit == "wd":
            return calendar.add_working_days(start, self.amount)
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        last_day = start.astimezone(calendar.tz).date() + timedelta(days=self.amount)
        end = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=calendar.tz)
        return end.astimezone(UTC)

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


@dataclass(frozen=True)
class Deadlines:
    feedback_due: datetime | None  # None for a 阅件: nothing to feed back
    dispatch_due: datetime | None  # petition items only: when they must have been dispatched
    rule: str  # which limit applied, for the record


class DeadlinePolicy:
    """The deadline of each leader level; a city overrides entries under
    ``INSTRUCTION_DEADLINES`` in the configuration (e.g. ``{provincial: "10d"}``)."""

    def __init__(self, overrides: Mapping[str, Any] | None = None):
        merged = {**DEFAULT_DEADLINES, **{k: str(v) for k, v in (overrides or {}).items()}}
        unknown = set(merged) - set(DEFAULT_DEADLINES)
        if unknown:
            raise ValueError(f"unknown INSTRUCTION_DEADLINES keys: {sorted(unknown)}")
        self.limits = {k: Limit.parse(v) for k, v in merged.items()}

    def deadlines(self, level: str, kind: str, received_at: datetime, urgent: bool,
                  calendar: WorkCalendar, override: datetime | None = None,
                  dispatched_at: datetime | None = None) -> Deadlines:
        """Deadlines of an instruction received at ``received_at`` (收件) and dispatched to its
        units at ``dispatched_at`` (交办; default: on receipt).

        The mayor's instructions count from dispatch (seed 000 第一篇 二(四): 交办后10个工作日);
        every other level from receipt (一(七) 从收件之日起15天; 三(三) 批示后10个工作日).
        ``override`` is a deadline set by the upper-level unit (按原上级交办单位的要求): it
        replaces the level's feedback deadline of a 办件.
        """
        if level not in LEVELS:
            raise Invalid.fields({"leader_level": [f"未知领导级别 unknown level {level!r}"]})
        dispatch_due = None
        if level == "petition":
            key = "petition_dispatch_urgent" if urgent else "petition_dispatch"
            dispatch_due = self.limits[key].after(received_at, calendar)
        if kind == READ:
            return Deadlines(None, dispatch_due, "read:none")
        if override is not None:
            return Deadlines(override, dispatch_due, "override")
        limit = self.limits[level]
        start = (dispatched_at or received_at) if level in FROM_DISPATCH else received_at
        return Deadlines(limit.after(start, calendar), dispatch_due, f"{level}={limit}")


# -- per-unit state and completion ----------------------------------------------------------------


def unit_transition(action: str, kind: str, status: str) -> str:
    """The status of a unit's share after ``action``, or :class:`Conflict` naming both."""
    applies_to, moves = UNIT_TRANSITIONS[action]
    if kind != applies_to:
        raise Conflict(f"{KINDS.get(kind, kind)}不能{ACTION_NAMES[action]} "
                       f"({action} is not allowed on a {kind} instruction)",
                       {"action": action, "state": kind})
    target = moves.get(status)
    if target is None:
        raise Conflict(f"承办单位当前状态「{UNIT_STATUSES.get(status, status)}」不能"
                       f"{ACTION_NAMES[action]} ({action} is not allowed in status {status})",
                       {"action": action, "state": status})
    return target


def is_complete(kind: str, unit_statuses: Iterable[str]) -> bool:
    """办件: every unit's feedback approved; 阅件: every unit has read it. No units: not done."""
    statuses = list(unit_statuses)
    done = "approved" if kind == HANDLE else "read"
    return bool(statuses) and all(s == done for s in statuses)


def check_reclassify(status: str, unit_statuses: Iterable[str]) -> None:
    """The office may change 办件/阅件 only before any unit has acted on the instruction."""
    if status != OPEN:
        raise Conflict("批示件已办结，不能更改办件/阅件 (reclassify a completed instruction)",
                       {"action": "reclassify", "state": status})
    acted = sorted({s for s in unit_statuses if s != "dispatched"})
    if acted:
        raise Conflict("承办单位已反馈或阅知，不能更改办件/阅件 (units already acted)",
                       {"action": "reclassify", "state": acted[0]})


def is_overdue(kind: str, status: str, feedback_due: datetime | None, now: datetime) -> bool:
    """A unit's 办件 share still owing feedback after its deadline (超期)."""
    return kind == HANDLE and status in OWING and feedback_due is not None and now >= feedback_due


def urge_key(unit_id: int, due: datetime) -> str:
    """One automatic urge per share and deadline, however many instances sweep (claim key)."""
    return f"instr:{unit_id}:{int(due.timestamp())}"


def share_outcome(feedback_due: datetime | None, approved_submitted_at: datetime | None,
                  pending_submitted_at: datetime | None, now: datetime) -> str:
    """``on_time`` / ``overdue`` / ``open`` of one unit's 办件 share, for the summary.

    What counts is when the feedback that the office approved was submitted; a submission
    still awaiting the office's decision is not late if it came in time.
    """
    if feedback_due is None:
        return "open"
    if approved_submitted_at is not None:
        return "on_time" if approved_submitted_at <= feedback_due else "overdue"
    if pending_submitted_at is not None and pending_submitted_at <= feedback_due:
        return "open"
    return "overdue" if now >= feedback_due else "open"


# -- visibility ---------------------------------------------------------------------------------

OFFICE_ROLES = frozenset({"supervisor", "leader", "admin"})


def can_see(viewer: Mapping[str, Any], confidential: bool, unit_codes: Iterable[str]) -> bool:
    """Who sees an instruction: the office and leaders all; a department user only those its
    unit is on; a department's own system (API key) never a 涉密 one (DOMAIN.md §6: never sent
    to external systems)."""
    role = viewer.get("role")
    if role in OFFICE_ROLES:
        return True
    if role != "department":
        return False
    if confidential and viewer.get("via") == "api_key":
        return False
    return viewer.get("department_code") in set(unit_codes)
