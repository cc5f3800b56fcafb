"""Department assessment 部门考核 (DOMAIN.md §5; seed 004 第四篇): the versioned rule set, the
facts a quarter's result is computed from, and the computation with every point explained.

Plain module: no nameko. :func:`gather` reads reporting's facts with a session — the rates
from the KPI engine (``kpis.kpi_report``) and 超期 by ``metrics.overdue_day``, so the assessment
never defines a KPI a second time; everything else is pure.

The score: ``base`` (100) minus what each base item lost, plus the bonus (加分) capped at
``bonus_cap`` (20) in total, plus the deductions (减分, no floor). Every item of the result lists
the orders (ticket numbers, assignment ids, deadlines, reply times) or the manual entries
behind its points, and the item points add up to ``score − base``.

Rule files: ``assessment_rules/<version>.yaml`` (see 004-2011.yaml for the format). The set used
for a quarter is the one with the latest ``effective_from`` on or before the quarter's first day.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from services.reporting import kpis, metrics
from services.reporting.domain import Rate
from services.reporting.models import AssignmentFact, CallbackFact, ReturnFact, TicketFact
from services.reporting.periods import Period, day_number

RULES_DIR = Path(__file__).with_name("assessment_rules")
KINDS = {"base": "基础分", "bonus": "加分", "deduction": "减分"}
SOURCES = ("auto", "manual")
# the rules the computation needs (their parameters are checked below)
REQUIRED = {"on_time_completion": ("base", "auto"), "satisfaction": ("base", "auto"),
            "valid_complaints": ("base", "manual"), "satisfaction_bonus": ("bonus", "auto"),
            "overdue": ("deduction", "auto"), "rejected_return": ("deduction", "auto")}
_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_CENT = Decimal("0.01")


class RuleError(ValueError):
    """A rule file that cannot be used; ``field`` names the entry at fault (``rules[3].points``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Rule:
    code: str
    name: str  # 中文
    kind: str  # base | bonus | deduction
    source: str  # auto | manual
    points: Decimal  # base: the item's maximum; bonus/deduction: one occurrence (signed)
    article: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    variable: bool = False  # the supervisor sets the points (比照类似情形), within max_points
    max_points: Decimal | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "article": self.article,
                "kind": self.kind, "kind_label": KINDS[self.kind], "source": self.source,
                "points": float(self.points), "params": dict(self.params),
                "variable": self.variable,
                "max_points": None if self.max_points is None else float(self.max_points)}


@dataclass(frozen=True)
class RuleSet:
    version: str
    title: str
    effective_from: date
    base: Decimal
    bonus_cap: Decimal
    rules: Mapping[str, Rule]

    def rule(self, code: str) -> Rule:
        return self.rules[code]

    def manual(self) -> list[Rule]:
        """The rules a supervisor enters items for (加分, 减分, 有效投诉)."""
        return [r for r in self.rules.values() if r.source == "manual"]

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "title": self.title,
                "effective_from": self.effective_from.isoformat(), "base": float(self.base),
                "bonus_cap": float(self.bonus_cap),
                "rules": [r.as_dict() for r in self.rules.values()]}


# -- loading and validating the rule files ------------------------------------------------------

def _number(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(where, "应为数字 must be a number")
    return Decimal(str(value))


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleError(where, "不能为空 must be a non-empty string")
    return value.strip()


def _params(rule: Rule, where: str) -> None:
    """The parameters the computation reads, present and in range."""
    p = rule.params

    def rate(name: str) -> None:
        v = p.get(name)
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 1:
            raise RuleError(f"{where}.params.{name}", "应为0到1之间的比率 must be a rate in (0, 1]")

    def positive(name: str, integer: bool = False) -> None:
        v = p.get(name)
        kinds: Any = int if integer else int | float
        if isinstance(v, bool) or not isinstance(v, kinds) or v <= 0:
            raise RuleError(f"{where}.params.{name}", "应为正数 must be a positive number")

    if rule.code == "on_time_completion":
        rate("required_rate")
    elif rule.code == "satisfaction":
        rate("threshold")
    elif rule.code == "satisfaction_bonus":
        rate("threshold")
        if not isinstance(p.get("whole_points", True), bool):
            raise RuleError(f"{where}.params.whole_points", "应为 true/false must be a boolean")
    elif rule.code == "valid_complaints":
        positive("each")
        positive("each_from_nth")
        positive("nth", integer=True)
        if not isinstance(p.get("floor_at_zero", True), bool):
            raise RuleError(f"{where}.params.floor_at_zero", "应为 true/false must be a boolean")


def _rule(entry: Any, where: str) -> Rule:
    if not isinstance(entry, dict):
        raise RuleError(where, "应为映射 must be a mapping")
    unknown = set(entry) - {"code", "name", "article", "kind", "source", "points", "params",
                            "variable", "max_points"}
    if unknown:
        raise RuleError(f"{where}.{sorted(unknown)[0]}", "未知的字段 unknown field")
    code = _text(entry.get("code"), f"{where}.code")
    if not _CODE.match(code):
        raise RuleError(f"{where}.code", "代码只能是小写字母、数字和下划线 lowercase letters, "
                        "digits and _ only")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise RuleError(f"{where}.kind", f"应为 must be one of {', '.join(KINDS)}")
    source = entry.get("source")
    if source not in SOURCES:
        raise RuleError(f"{where}.source", f"应为 must be one of {', '.join(SOURCES)}")
    points = _number(entry.get("points"), f"{where}.points")
    if kind in ("base", "bonus") and points <= 0:
        raise RuleError(f"{where}.points", "基础分和加分应为正数 base and bonus points must be > 0")
    if kind == "deduction" and points >= 0:
        raise RuleError(f"{where}.points", "减分应为负数 deduction points must be < 0")
    params = entry.get("params") or {}
    if not isinstance(params, dict):
        raise RuleError(f"{where}.params", "应为映射 must be a mapping")
    variable = entry.get("variable", False)
    if not isinstance(variable, bool):
        raise RuleError(f"{where}.variable", "应为 true/false must be a boolean")
    max_points = None
    if variable:
        if source != "manual" or kind == "base":
            raise RuleError(f"{where}.variable", "只有手工加减分可以自定分值 only manual bonus or "
                            "deduction rules may be variable")
        max_points = _number(entry.get("max_points"), f"{where}.max_points")
        if max_points <= 0:
            raise RuleError(f"{where}.max_points", "应为正数 must be > 0")
    elif "max_points" in entry:
        raise RuleError(f"{where}.max_points", "只用于 variable 规则 only for variable rules")
    rule = Rule(code=code, name=_text(entry.get("name"), f"{where}.name"), kind=kind,
                source=source, points=points, article=str(entry.get("article") or ""),
                params=params, variable=variable, max_points=max_points)
    _params(rule, where)
    return rule


def parse_rules(doc: Any) -> RuleSet:
    """A rule set from a rule file's parsed content; :class:`RuleError` names the first fault."""
    if not isinstance(doc, dict):
        raise RuleError("_file", "规则文件应为映射 the rule file must be a mapping")
    version = doc.get("version")
    if isinstance(version, int | float) and not isinstance(version, bool):
        version = str(version)
    version = _text(version, "version")
    if len(version) > 32:
        raise RuleError("version", "最长32个字符 at most 32 characters")
    effective = doc.get("effective_from")
    if isinstance(effective, str):
        try:
            effective = date.fromisoformat(effective)
        except ValueError:
            effective = None
    if not isinstance(effective, date) or isinstance(effective, datetime):
        raise RuleError("effective_from", "应为日期 must be a date (YYYY-MM-DD)")
    base = _number(doc.get("base"), "base")
    if base <= 0:
        raise RuleError("base", "应为正数 must be > 0")
    cap = _number(doc.get("bonus_cap"), "bonus_cap")
    if cap < 0:
        raise RuleError("bonus_cap", "不能为负数 must be ≥ 0")
    entries = doc.get("rules")
    if not isinstance(entries, list) or not entries:
        raise RuleError("rules", "应为非空列表 must be a non-empty list")
    rules: dict[str, Rule] = {}
    for i, entry in enumerate(entries):
        rule = _rule(entry, f"rules[{i}]")
        if rule.code in rules:
            raise RuleError(f"rules[{i}].code", f"重复的规则代码 duplicate code {rule.code}")
        rules[rule.code] = rule
    for code, (kind, source) in REQUIRED.items():
        if code not in rules:
            raise RuleError("rules", f"缺少规则 missing rule {code}")
        if (rules[code].kind, rules[code].source) != (kind, source):
            raise RuleError(f"rules[{list(rules).index(code)}].kind",
                            f"{code} 应为 must be kind {kind}, source {source}")
    base_items = sum((r.points for r in rules.values() if r.kind == "base"), Decimal(0))
    if base_items > base:
        raise RuleError("rules", f"基础分项合计 {base_items} 超过基础分 base items add up to more "
                        f"than the base {base}")
    return RuleSet(version=version, title=str(doc.get("title") or version),
                   effective_from=effective, base=base, bonus_cap=cap, rules=rules)


def load_rules(path: Path) -> RuleSet:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RuleError("_file", f"{path.name}: YAML 无法解析 not valid YAML: {exc}") from exc
    return parse_rules(doc)


@lru_cache(maxsize=8)
def load_rule_sets(directory: Path = RULES_DIR) -> tuple[RuleSet, ...]:
    """Every rule set in ``directory``, oldest first; a bad file or a repeated version stops the
    service at start (RuleError naming the file and entry)."""
    sets: list[RuleSet] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            sets.append(load_rules(path))
        except RuleError as exc:
            raise RuleError(f"{path.name}:{exc.field}", exc.message) from exc
    versions = [s.version for s in sets]
    for v in versions:
        if versions.count(v) > 1:
            raise RuleError("version", f"规则版本重复 version {v} defined twice")
    if not sets:
        raise RuleError("_file", f"没有考核规则文件 no rule file in {directory}")
    return tuple(sorted(sets, key=lambda s: s.effective_from))


def rules_for(sets: Sequence[RuleSet], day: date) -> RuleSet:
    """The rule set in force on ``day`` (a quarter's first day)."""
    usable = [s for s in sets if s.effective_from <= day]
    if not usable:
        raise RuleError("quarter", f"{day.isoformat()} 之前没有生效的考核规则 no rule set in force "
                        "on that day")
    return usable[-1]


def rules_by_version(sets: Sequence[RuleSet], version: str) -> RuleSet:
    for s in sets:
        if s.version == version:
            return s
    raise RuleError("rules_version", f"未知的规则版本 unknown rule version {version}")


# -- the facts of one department's quarter -----------------------------------------------------

@dataclass(frozen=True)
class OverdueOrder:
    """超期件: an assignment past its (extended) deadline without a reply, or replied late."""

    ticket_no: str
    assignment_id: int
    role: str | None
    due: datetime
    replied_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {"ticket_no": self.ticket_no, "assignment_id": self.assignment_id,
                "role": self.role, "due": _iso(self.due), "replied_at": _iso(self.replied_at),
                "state": "超期办结 replied late" if self.replied_at else "超期未办结 not replied"}


@dataclass(frozen=True)
class RejectedReturn:
    """无正当理由退件: a return the center rejected."""

    ticket_no: str
    assignment_id: int
    return_id: int
    reason_code: str | None
    requested_at: datetime | None
    decided_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"ticket_no": self.ticket_no, "assignment_id": self.assignment_id,
                "return_id": self.return_id, "reason_code": self.reason_code,
                "requested_at": _iso(self.requested_at), "decided_at": _iso(self.decided_at)}


@dataclass(frozen=True)
class ManualEntry:
    """A supervisor's item (AssessmentItem) that is not revoked."""

    id: int
    rule: str
    points: Decimal  # one occurrence
    count: int
    reason: str
    ticket_no: str | None
    occurred_on: date | None
    entered_by: str
    entered_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"item_id": self.id, "rule": self.rule, "points_each": float(self.points),
                "count": self.count, "reason": self.reason, "ticket_no": self.ticket_no,
                "occurred_on": self.occurred_on.isoformat() if self.occurred_on else None,
                "entered_by": self.entered_by, "entered_at": _iso(self.entered_at)}


@dataclass
class QuarterFacts:
    department_code: str
    year: int
    quarter: int
    period: Period
    completion: Rate  # 按时办结率 of the department's lead assignments
    satisfaction: Rate  # 满意率 of the callbacks of its orders
    overdue: list[OverdueOrder] = field(default_factory=list)
    rejected_returns: list[RejectedReturn] = field(default_factory=list)
    entries: list[ManualEntry] = field(default_factory=list)


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at is not None else None


def overdue_in(assignments: Iterable[AssignmentFact], period: Period) -> list[OverdueOrder]:
    """超期件 of the quarter exactly as the KPI engine counts them (``metrics.overdue_day``: a
    lead assignment replied late, or reported breached by supervision and unreplied; counted
    once, on its deadline day; one that ended by return, recall or passing down does not
    count)."""
    first, last = day_number(period.start), day_number(period.end)
    out = [OverdueOrder(f.ticket_no, f.assignment_id, f.role, f.handle_due, f.replied_at)
           for f in assignments
           if f.handle_due is not None and first <= metrics.overdue_day(f) <= last]
    return sorted(out, key=lambda o: (o.due, o.assignment_id))


def _rate(row: Mapping[str, Any] | None, name: str) -> Rate:
    r = (row or {}).get(name) or {}
    return Rate(int(r.get("numerator") or 0), int(r.get("sample") or 0))


def gather(session: Session, department: str, year: int, quarter: int, period: Period,
           now: datetime, entries: Sequence[ManualEntry]) -> QuarterFacts:
    """The department's facts for the quarter (``entries``: its manual items, not revoked):
    按时办结率 and 满意率 from the KPI engine's report (``kpis.kpi_report``), and the orders
    behind the overdue and rejected-return counts from the facts, by the same definitions."""
    report = kpis.kpi_report(session, period.start, period.end, "department", now,
                             department=department)
    row = next((r for r in report["rows"] if r["group"] == department), None)
    a, b = period.bounds()
    af = AssignmentFact
    # deadlines a day either side: the KPI engine places them by business day
    slack = timedelta(days=1)
    assignments = session.scalars(select(af).where(
        af.department_code == department, af.role == "lead",
        af.handle_due >= a - slack, af.handle_due < b + slack))
    returns = [RejectedReturn(r.ticket_no, r.assignment_id, r.return_id, r.reason_code,
                              r.requested_at, r.decided_at)
               for r in session.scalars(select(ReturnFact).where(
                   ReturnFact.department_code == department, ReturnFact.approved.is_(False),
                   ReturnFact.decided_at >= a, ReturnFact.decided_at < b)
                   .order_by(ReturnFact.decided_at, ReturnFact.return_id))
               if r.decided_at is not None]
    return QuarterFacts(department_code=department, year=year, quarter=quarter, period=period,
                        completion=_rate(row, "on_time_completion"),
                        satisfaction=_rate(row, "satisfaction"),
                        overdue=overdue_in(assignments, period), rejected_returns=returns,
                        entries=list(entries))


def departments_with_facts(session: Session, period: Period) -> set[str]:
    """Departments that had work in the quarter (assignments due or replied, callbacks of their
    orders, rejected returns)."""
    a, b = period.bounds()
    af = AssignmentFact
    found = set(session.scalars(select(af.department_code).distinct().where(
        or_(and_(af.handle_due > a, af.handle_due <= b),
            and_(af.replied_at >= a, af.replied_at < b),
            and_(af.dispatched_at >= a, af.dispatched_at < b)))))
    found |= set(session.scalars(select(TicketFact.lead_department).distinct().join(
        CallbackFact, CallbackFact.ticket_no == TicketFact.ticket_no).where(
        CallbackFact.at >= a, CallbackFact.at < b)))
    found |= set(session.scalars(select(ReturnFact.department_code).distinct().where(
        ReturnFact.decided_at >= a, ReturnFact.decided_at < b)))
    return {d for d in found if d}


# -- the computation ----------------------------------------------------------------------------

def _f(x: Decimal) -> float:
    return float(x.quantize(_CENT, rounding=ROUND_HALF_UP)) + 0.0  # no -0.0


def _pct(rate: Rate) -> str:
    return "无样本 no sample" if rate.value is None else f"{rate.value * 100:.2f}%"


def _entries_of(facts: QuarterFacts, code: str) -> list[ManualEntry]:
    return sorted((e for e in facts.entries if e.rule == code),
                  key=lambda e: (e.occurred_on or date.max, e.entered_at, e.id))


def _complaints(rule: Rule, entries: list[ManualEntry]) -> tuple[Decimal, list[dict[str, Any]]]:
    """有效投诉: −each for each of the first nth−1, −each_from_nth from the nth on."""
    p = rule.params
    each, later, nth = (Decimal(str(p["each"])), Decimal(str(p["each_from_nth"])), int(p["nth"]))
    n = 0
    lost = Decimal(0)
    explained = []
    for e in entries:
        cost = Decimal(0)
        for _ in range(e.count):
            n += 1
            cost += each if n < nth else later
        lost += cost
        explained.append({**e.as_dict(), "points": _f(-cost)})
    if p.get("floor_at_zero", True):
        lost = min(lost, rule.points)
    return -lost, explained


def compute(rules: RuleSet, facts: QuarterFacts, computed_at: datetime) -> dict[str, Any]:
    """The department's result for the quarter with every point explained (the snapshot that
    publishing freezes)."""
    items: list[dict[str, Any]] = []

    def item(rule: Rule, points: Decimal, explanation: str, **extra: Any) -> Decimal:
        row: dict[str, Any] = {"code": rule.code, "name": rule.name, "article": rule.article,
                               "kind": rule.kind, "kind_label": KINDS[rule.kind],
                               "source": rule.source, "points": _f(points),
                               "explanation": explanation}
        if rule.kind == "base":
            row["max"] = _f(rule.points)
            row["earned"] = _f(rule.points + points)
        row.update(extra)
        items.append(row)
        return points

    base_lost = Decimal(0)
    bonus = Decimal(0)
    deductions = Decimal(0)

    # 按时办结率 (9): one overdue order → 0
    r = rules.rule("on_time_completion")
    required = Decimal(str(r.params["required_rate"]))
    rate = facts.completion
    failed = bool(facts.overdue) or (rate.value is not None
                                     and Decimal(rate.numerator) < required * rate.denominator)
    base_lost += item(
        r, -r.points if failed else Decimal(0),
        (f"本季度超期 {len(facts.overdue)} 件，此项不得分" if facts.overdue else
         f"按时办结率 {_pct(rate)} 未达 {required * 100:.0f}%，此项不得分" if failed else
         f"按时办结率 {_pct(rate)}，无超期件"),
        measure=rate.as_dict(), orders=[o.as_dict() for o in facts.overdue])

    # 满意率 (6) and its bonus
    r = rules.rule("satisfaction")
    threshold = Decimal(str(r.params["threshold"]))
    sat = facts.satisfaction
    below = sat.denominator > 0 and Decimal(sat.numerator) < threshold * sat.denominator
    base_lost += item(
        r, -r.points if below else Decimal(0),
        ("无回访评价，此项得满分 no rated callback: full points" if not sat.denominator else
         f"满意率 {_pct(sat)} 低于 {threshold * 100:.0f}%，此项不得分" if below else
         f"满意率 {_pct(sat)}，达到 {threshold * 100:.0f}%"), measure=sat.as_dict())
    r = rules.rule("satisfaction_bonus")
    threshold = Decimal(str(r.params["threshold"]))
    above = Decimal(0)
    if sat.denominator:
        exact = Decimal(sat.numerator) * 100 / sat.denominator - threshold * 100
        above = max(Decimal(0), exact.to_integral_value(rounding=ROUND_FLOOR)
                    if r.params.get("whole_points", True) else exact)
    bonus += item(r, above * r.points,
                  (f"满意率超过 {threshold * 100:.0f}% {above.normalize():f} 个百分点，每点加 "
                   f"{r.points.normalize():f} 分" if above else "未超过门槛，不加分"),
                  measure=sat.as_dict())

    # 有效投诉 (6): manual entries
    r = rules.rule("valid_complaints")
    complaints = _entries_of(facts, r.code)
    lost, explained = _complaints(r, complaints)
    n = sum(e.count for e in complaints)
    p = r.params
    base_lost += item(r, lost, (
        f"有效投诉 {n} 件：每件减 {p['each']} 分，第 {p['nth']} 件起每件减 {p['each_from_nth']} 分，"
        f"此项得 {_f(r.points + lost):g} 分" if n else "无有效投诉"), entries=explained)

    # automatic deductions
    r = rules.rule("overdue")
    deductions += item(r, r.points * len(facts.overdue),
                       f"超期 {len(facts.overdue)} 件，每件 {r.points.normalize():f} 分",
                       orders=[{**o.as_dict(), "points": _f(r.points)} for o in facts.overdue])
    r = rules.rule("rejected_return")
    deductions += item(r, r.points * len(facts.rejected_returns),
                       f"无正当理由退件 {len(facts.rejected_returns)} 件，每件 "
                       f"{r.points.normalize():f} 分",
                       orders=[{**x.as_dict(), "points": _f(r.points)}
                               for x in facts.rejected_returns])

    # manual bonus and deductions
    for r in rules.manual():
        if r.kind == "base":
            continue
        entries = _entries_of(facts, r.code)
        if not entries:
            continue
        total = sum((e.points * e.count for e in entries), Decimal(0))
        n = sum(e.count for e in entries)
        explained = [{**e.as_dict(), "points": _f(e.points * e.count)} for e in entries]
        points = item(r, total, f"{r.name} {n} 次", entries=explained)
        if r.kind == "bonus":
            bonus += points
        else:
            deductions += points
    unknown = sorted({e.rule for e in facts.entries} - set(rules.rules))
    if unknown:  # an item whose rule the quarter's rule set does not have: shown, not counted
        items.append({"code": "unknown_rules", "name": "规则集中不存在的条目（未计分）",
                      "kind": "note", "points": 0.0, "explanation": ", ".join(unknown),
                      "entries": [e.as_dict() for e in facts.entries if e.rule in unknown]})

    counted = min(bonus, rules.bonus_cap)
    if bonus > rules.bonus_cap:
        items.append({"code": "bonus_cap", "name": "加分封顶", "kind": "bonus",
                      "kind_label": KINDS["bonus"], "source": "auto",
                      "points": _f(counted - bonus), "article": "第七条",
                      "explanation": f"加分合计 {bonus.normalize():f} 分，最高计 "
                                     f"{rules.bonus_cap.normalize():f} 分"})
    score = rules.base + base_lost + counted + deductions
    return {
        "department_code": facts.department_code, "year": facts.year, "quarter": facts.quarter,
        "period": facts.period.as_dict(), "rules_version": rules.version,
        "rules_title": rules.title, "computed_at": _iso(computed_at),
        "base": _f(rules.base), "bonus_cap": _f(rules.bonus_cap), "score": _f(score),
        "summary": {"base_lost": _f(base_lost), "bonus_earned": _f(bonus),
                    "bonus_counted": _f(counted), "deductions": _f(deductions)},
        "measures": {"on_time_completion": facts.completion.as_dict(),
                     "satisfaction": facts.satisfaction.as_dict(),
                     "overdue": len(facts.overdue),
                     "rejected_returns": len(facts.rejected_returns)},
        "items": items,
    }


def ranks(scores: Mapping[str, float]) -> dict[str, int]:
    """Competition ranking (1, 2, 2, 4) by score, highest first."""
    ordered = sorted(scores.values(), reverse=True)
    return {k: ordered.index(v) + 1 for k, v in scores.items()}
