"""Periodic reports 通报 (DOMAIN.md §4, §5): 半月报, 月度通报, 季报, 年报 and the
leader-instruction summary 批示件汇总, built as a JSON snapshot.

A snapshot is everything a report shows, computed once: the period's KPI figures overall and
by department, category, territory and channel (from the KPI engine, ``kpis.kpi_report``), the
departments' ranking by the 三率 composite, the overdue and escalated (通报) orders of the
period (ticket numbers only), the daily intake, the comparison with the previous period of the
same kind and Chinese highlights. Charts (``charts.py``) and exports (``exports.py``) are
rendered from the snapshot alone, so a published report never changes.

Decisions:
- 三率 composite: ``metrics.three_rates_score`` (Σ weight × rate ÷ Σ weight × 100; 响应率 =
  按时签收率, 解决率, 满意率), weights 30/35/35 unless the report says otherwise; a department
  with any of the three rates unmeasured has no score.
- Small samples (FixMyStreet's users complained tiny samples skewed statistics): a department
  is ranked only when each of its three rates has at least ``min_sample`` samples (default
  :data:`MIN_SAMPLE` = 10, settable per report). Others are listed with their figures and
  ``ranked: false`` ("样本不足"), never given a place.
- Ties share a place (1, 2, 2, 4); order within a tie by department code.
- The overdue orders listed are exactly the 超期件 the figures count (``metrics.overdue_day``:
  lead assignments whose deadline day is in the period, replied late or reported breached and
  unreplied); escalated ones are the 督办单 escalated (通报) in the period.
- Department and territory names: the caller may pass them (``names``, from dispatch); the
  KPI engine knows codes only. They are kept in the snapshot.
- 涉密 (confidential) orders and instructions are counted in every figure but their numbers
  are never listed (``confidential`` counts stand in for them).
- The 批示件汇总 is a cohort: the instruction units registered in the period, with their state
  as of the snapshot (on-time / late feedback, overdue without feedback, still in time).

Plain Python over a SQLAlchemy session: no nameko.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from services.reporting import kpis, metrics, periods
from services.reporting.domain import Rate
from services.reporting.models import (
    AssignmentFact,
    InstructionUnitFact,
    SupervisionFact,
    TicketFact,
)
from services.reporting.periods import Period, PeriodError

SNAPSHOT_VERSION = 1
KINDS: dict[str, str] = {"half_month": "半月报", "month": "月度通报", "quarter": "季报",
                         "year": "年报", "instructions": "批示件汇总"}
# the period kinds a 批示件汇总 may cover (DOMAIN.md §4: half-monthly and monthly, and longer)
INSTRUCTION_PERIODS = ("half_month", "month", "quarter", "year")
DIMENSIONS: dict[str, str] = {"department": "部门", "category": "分类", "territory": "属地",
                              "channel": "渠道"}
THREE_RATES: dict[str, str] = {"response": "响应率", "resolution": "解决率",
                               "satisfaction": "满意率"}
DEFAULT_WEIGHTS: dict[str, float] = {"response": 30.0, "resolution": 35.0, "satisfaction": 35.0}
MIN_SAMPLE = 10
LIST_LIMIT = 500  # ticket numbers listed per section (the counts are always complete)

KpiReport = Callable[..., dict[str, Any]]


class ReportError(ValueError):
    """Bad report input; ``field`` names it (→ 422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# -- input ---------------------------------------------------------------------------------------

def report_period(kind: str, key: str) -> Period:
    """The period a report of ``kind`` covers, from its key (``2026-11-H1``, ``2026-11``,
    ``2026Q1``, ``2026``); the kind of the key must match the report's (批示件汇总: any of
    :data:`INSTRUCTION_PERIODS`)."""
    if kind not in KINDS:
        raise ReportError("kind", f"未知的通报类型 unknown report kind {kind!r}; valid: "
                          f"{', '.join(KINDS)}")
    try:
        period = periods.parse(key)
    except PeriodError as exc:
        raise ReportError("period", str(exc)) from None
    allowed = INSTRUCTION_PERIODS if kind == "instructions" else (kind,)
    if period.kind not in allowed:
        raise ReportError("period", f"{KINDS[kind]}的周期应为 {'/'.join(allowed)} period of "
                          f"kind {period.kind} does not suit a {kind} report")
    return period


def check_weights(weights: Mapping[str, Any] | None) -> dict[str, float]:
    """The 三率 weights: the three keys, non-negative numbers, not all zero."""
    if weights is None:
        return dict(DEFAULT_WEIGHTS)
    if not isinstance(weights, Mapping) or set(weights) != set(THREE_RATES):
        raise ReportError("weights", "权重应包含 response, resolution, satisfaction 三项 "
                          "weights need exactly response, resolution, satisfaction")
    out: dict[str, float] = {}
    for k in THREE_RATES:
        v = weights[k]
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0 or v > 1000:
            raise ReportError("weights", f"权重 {k} 应为 0–1000 的数 weight {k} must be a "
                              "number 0–1000")
        out[k] = float(v)
    if sum(out.values()) <= 0:
        raise ReportError("weights", "权重不能全为 0 weights cannot all be zero")
    return out


def previous_period(period: Period) -> Period:
    """The period of the same kind just before ``period``."""
    return periods.containing(period.kind, period.start - timedelta(days=1))


def report_title(kind: str, period: Period) -> str:
    return f"{period.label}{KINDS[kind]}"


# -- the 三率 composite and the ranking ----------------------------------------------------------

def composite(rates: Mapping[str, Mapping[str, Any]], weights: Mapping[str, float]
              ) -> float | None:
    """The 三率 composite (``metrics.three_rates_score``) of rates given as ``{"numerator",
    "sample"}``; None when any of the three is unmeasured."""
    return metrics.three_rates_score(
        {k: Rate(int(rates[k]["numerator"]), int(rates[k]["sample"])) for k in THREE_RATES},
        dict(weights))


def _three(row: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The three rates of a KPI row (响应率 is the on-time sign rate)."""
    three = row.get("three_rates") or {}
    out: dict[str, dict[str, Any]] = {}
    for k, fallback in (("response", "on_time_sign"), ("resolution", "resolution"),
                        ("satisfaction", "satisfaction")):
        r = three.get(k) or row.get(fallback) or {}
        out[k] = {"rate": r.get("rate"), "numerator": int(r.get("numerator") or 0),
                  "sample": int(r.get("sample") or 0)}
    return out


def rank_departments(rows: list[Mapping[str, Any]], weights: Mapping[str, float],
                     min_sample: int = MIN_SAMPLE,
                     previous: Mapping[str, Mapping[str, Any]] | None = None
                     ) -> list[dict[str, Any]]:
    """Departments by the 三率 composite, best first; those with a rate below ``min_sample``
    samples (or unmeasured) follow, unranked, by code. ``previous``: last period's ranking by
    department code, for 上期名次 / 得分变化."""
    entries: list[dict[str, Any]] = []
    for row in rows:
        code = row.get("group")
        if code in (None, metrics.ALL, metrics.NO_LEAD, metrics.UNKNOWN):
            continue  # not a department: orders not dispatched yet, or the total
        rates = _three(row)
        score = composite(rates, weights)
        small = [THREE_RATES[k] for k, r in rates.items() if r["sample"] < min_sample]
        entries.append({"department": str(code), "label": row.get("group_label") or str(code),
                        "response": rates["response"], "resolution": rates["resolution"],
                        "satisfaction": rates["satisfaction"], "score": score,
                        "ranked": score is not None and not small, "rank": None,
                        "note": (f"样本不足 {min_sample} 件（{'、'.join(small)}），不参与排名"
                                 if small else "")})
    ranked = sorted((e for e in entries if e["ranked"]),
                    key=lambda e: (-e["score"], e["department"]))
    place = 0
    last: float | None = None
    for i, e in enumerate(ranked, 1):
        if e["score"] != last:
            place, last = i, e["score"]
        e["rank"] = place
    unranked = sorted((e for e in entries if not e["ranked"]), key=lambda e: e["department"])
    out = ranked + unranked
    for e in out:
        before = (previous or {}).get(e["department"])
        e["previous_rank"] = before.get("rank") if before else None
        prev_score = before.get("score") if before else None
        e["score_change"] = (round(e["score"] - prev_score, 2)
                             if e["score"] is not None and prev_score is not None else None)
    return out


# -- orders of the period ------------------------------------------------------------------------

def overdue_orders(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    """超期件 of the period, as the KPI figures count them (``metrics.overdue_day``): lead
    assignments whose (extended) deadline fell in the period, replied late or reported breached
    and not replied; one that ended by approved return, recall or passing down does not count.
    Ticket numbers only; 涉密 orders counted, not listed."""
    a = AssignmentFact
    q = (select(a, TicketFact.confidential)
         .join(TicketFact, TicketFact.ticket_no == a.ticket_no, isouter=True)
         .where(a.role == "lead", a.end_reason.is_(None), a.handle_due >= start,
                a.handle_due < end,  # the late ones only, in SQL (the predicate decides)
                or_(a.replied_at > a.handle_due,
                    a.replied_at.is_(None) & (a.handle_overdue_at >= a.handle_due)))
         .order_by(a.handle_due, a.ticket_no))
    rows = [_Overdue(f.ticket_no, f.department_code, f.handle_due, f.replied_at,
                     bool(confidential))
            for f, confidential in session.execute(q) if metrics.overdue_day(f)]
    return _listing(rows, lambda r: {
        "ticket_no": r.ticket_no, "department": r.department_code,
        "due": _iso(r.handle_due), "replied_at": _iso(r.replied_at),
        "state": "逾期办结" if r.replied_at is not None else "超期未办结"})


class _Overdue:
    __slots__ = ("ticket_no", "department_code", "handle_due", "replied_at", "confidential")

    def __init__(self, ticket_no: str, department_code: str | None, handle_due: datetime | None,
                 replied_at: datetime | None, confidential: bool) -> None:
        self.ticket_no, self.department_code = ticket_no, department_code
        self.handle_due, self.replied_at, self.confidential = handle_due, replied_at, confidential


def escalated_orders(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    """通报: 督办单 escalated in the period (SupervisionFact.escalated_at)."""
    s = SupervisionFact
    q = (select(s.ticket_no, s.department_code, s.escalated_at, s.opened_at,
                TicketFact.confidential)
         .join(TicketFact, TicketFact.ticket_no == s.ticket_no, isouter=True)
         .where(s.escalated_at >= start, s.escalated_at < end)
         .order_by(s.escalated_at, s.ticket_no))
    return _listing(session.execute(q), lambda r: {
        "ticket_no": r.ticket_no, "department": r.department_code,
        "supervised_at": _iso(r.opened_at), "escalated_at": _iso(r.escalated_at)})


def _listing(rows: Any, item: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    count = confidential = 0
    by_department: dict[str, int] = {}
    for r in rows:
        count += 1
        dept = r.department_code or ""
        by_department[dept] = by_department.get(dept, 0) + 1
        if r.confidential:
            confidential += 1
        elif len(items) < LIST_LIMIT:
            items.append(item(r))
    return {"count": count, "confidential": confidential, "by_department": by_department,
            "items": items}


def daily_intake(session: Session, period: Period) -> list[dict[str, Any]]:
    """受理量 per business day of the period (every day, zeros included)."""
    counts: dict[Any, int] = dict(session.execute(
        select(TicketFact.registered_day, func.count())
        .where(TicketFact.registered_day >= period.start,
               TicketFact.registered_day <= period.end)
        .group_by(TicketFact.registered_day)).tuples().all())
    out = []
    d = period.start
    while d <= period.end:
        out.append({"day": d.isoformat(), "intake": int(counts.get(d, 0))})
        d += timedelta(days=1)
    return out


# -- leader instructions 批示件汇总 --------------------------------------------------------------

INSTRUCTION_FIGURES: dict[str, str] = {
    "received": "收到批示件", "handle": "办件", "read": "阅件", "on_time": "按时反馈",
    "late": "逾期反馈", "overdue": "超期未反馈", "pending": "办理中", "returned": "退回修改",
    "urges": "催办次数", "read_done": "阅件已阅", "confidential": "其中涉密"}


def instruction_summary(session: Session, start: datetime, end: datetime, now: datetime
                        ) -> dict[str, Any]:
    """Per unit: instructions received in the period, 办件/阅件, feedback on time / late /
    overdue without feedback (as of ``now``), returned feedback and urges. 涉密 instructions
    are counted; their numbers are never listed."""
    u = InstructionUnitFact
    facts = session.scalars(select(u).where(u.registered_at >= start, u.registered_at < end)
                            .order_by(u.registered_at, u.instruction_id, u.department_code))
    units: dict[str, dict[str, int]] = {}
    items: list[dict[str, Any]] = []
    for f in facts:
        row = units.setdefault(f.department_code, dict.fromkeys(INSTRUCTION_FIGURES, 0))
        row["received"] += 1
        row["confidential"] += 1 if f.confidential else 0
        row["returned"] += f.returned_feedbacks or 0
        row["urges"] += f.urges or 0
        state = instruction_state(f, now)
        if f.kind == "read":
            row["read"] += 1
            row["read_done"] += 1 if f.read_at is not None else 0
        else:
            row["handle"] += 1
            row[state] += 1
        if not f.confidential and len(items) < LIST_LIMIT:
            items.append({"number": f.number, "department": f.department_code,
                          "kind": "阅件" if f.kind == "read" else "办件",
                          "leader_level": f.leader_level,
                          "registered_at": _iso(f.registered_at),
                          "feedback_due": _iso(f.feedback_due),
                          "first_feedback_at": _iso(f.first_feedback_at),
                          "state": _STATE_NAMES[state] if f.kind != "read" else (
                              "已阅" if f.read_at is not None else "未阅")})
    total = dict.fromkeys(INSTRUCTION_FIGURES, 0)
    rows = []
    for code in sorted(units):
        for k, v in units[code].items():
            total[k] += v
        rows.append({"department": code, **units[code]})
    return {"units": rows, "total": total, "items": items}


_STATE_NAMES = {"on_time": "按时反馈", "late": "逾期反馈", "overdue": "超期未反馈",
                "pending": "办理中"}


def instruction_state(f: InstructionUnitFact, now: datetime) -> str:
    """on_time | late (first feedback after its deadline) | overdue (no feedback, deadline
    passed) | pending (no feedback yet, still in time or no deadline)."""
    if f.first_feedback_at is not None:
        if f.feedback_due is not None and f.first_feedback_at > f.feedback_due:
            return "late"
        return "on_time"
    if (f.feedback_due is not None and f.feedback_due < now) or f.overdue_at is not None:
        return "overdue"
    return "pending"


# -- the snapshot --------------------------------------------------------------------------------

Names = Mapping[str, Mapping[str, str]]  # dimension → code → Chinese name


def _kpi_figures(session: Session, period: Period, now: datetime, kpi: KpiReport,
                 weights: Mapping[str, float], names: Names) -> dict[str, Any]:
    by: dict[str, list[dict[str, Any]]] = {}
    overall: dict[str, Any] = {}
    for dim in DIMENSIONS:
        result = kpi(session, period.start, period.end, dim, now, weights=dict(weights))
        rows = [_clean(r) for r in result["rows"]]
        for r in rows:
            named = names.get(dim, {}).get(str(r.get("group")))
            if named:
                r["group_label"] = named
        by[dim] = rows
        if dim == "department":
            overall = _clean(result["total"])
    return {"overall": overall, "by": by}


def build_snapshot(session: Session, kind: str, period: Period, weights: Mapping[str, float],
                   now: datetime, min_sample: int = MIN_SAMPLE, names: Names | None = None,
                   kpi: KpiReport | None = None) -> dict[str, Any]:
    """Everything the report shows, as JSON-ready data (dates as ISO strings). ``names``:
    Chinese names of departments and territories by code (``{"department": {...},
    "territory": {...}}``); ``kpi``: the KPI engine (``kpis.kpi_report``)."""
    kpi = kpi or kpis.kpi_report
    names = {dim: dict(m) for dim, m in (names or {}).items() if dim in ("department",
                                                                          "territory")}
    start, end = period.bounds()
    prev = previous_period(period)
    pstart, pend = prev.bounds()
    snap: dict[str, Any] = {
        "version": SNAPSHOT_VERSION, "kind": kind, "kind_name": KINDS[kind],
        "title": report_title(kind, period), "period": period.as_dict(),
        "previous_period": prev.as_dict(), "generated_at": _iso(now),
        "weights": dict(weights), "min_sample": min_sample, "names": names}
    if kind == "instructions":
        current = instruction_summary(session, start, end, now)
        before = instruction_summary(session, pstart, pend, now)
        labels = names.get("department", {})
        for row in current["units"]:
            row["label"] = labels.get(row["department"], row["department"])
        snap["instructions"] = current
        snap["comparison"] = {"previous": before["total"], "change": {
            k: current["total"][k] - before["total"][k] for k in INSTRUCTION_FIGURES}}
        snap["highlights"] = instruction_highlights(snap)
        return snap
    figures = _kpi_figures(session, period, now, kpi, weights, names)
    before = _kpi_figures(session, prev, now, kpi, weights, names)
    prev_ranking = {e["department"]: e for e in rank_departments(
        before["by"]["department"], weights, min_sample)}
    snap.update(figures)
    snap["ranking"] = rank_departments(figures["by"]["department"], weights, min_sample,
                                       prev_ranking)
    snap["overdue"] = overdue_orders(session, start, end)
    snap["escalated"] = escalated_orders(session, start, end)
    snap["daily_intake"] = daily_intake(session, period)
    snap["comparison"] = compare(figures["overall"], before["overall"])
    snap["highlights"] = highlights(snap)
    return snap


COMPARED_COUNTS = ("intake", "dispatched", "closed", "overdue")
COMPARED_RATES = ("on_time_sign", "on_time_completion", "resolution", "satisfaction",
                  "callback_rate", "return_rate")
FIGURE_NAMES: dict[str, str] = {
    "intake": "受理量", "dispatched": "派单量", "closed": "办结量", "overdue": "超期件",
    "rejected_returns": "无正当理由退件", "resolved_at_intake": "直办率",
    "on_time_sign": "按时签收率", "on_time_completion": "按时办结率", "return_rate": "退单率",
    "callback_rate": "回访率", "resolution": "解决率", "satisfaction": "满意率",
    "reopen_rate": "重办率", "repeat_calls": "重复来电率", "score": "三率综合得分"}


def compare(now_row: Mapping[str, Any], before_row: Mapping[str, Any]) -> dict[str, Any]:
    """This period against the previous one: counts as differences (and % change), rates as
    percentage-point differences; None where either side is unmeasured."""
    out: dict[str, Any] = {"previous": dict(before_row), "counts": {}, "rates": {}}
    for k in COMPARED_COUNTS:
        a, b = int(now_row.get(k) or 0), int(before_row.get(k) or 0)
        out["counts"][k] = {"value": a, "previous": b, "change": a - b,
                            "percent": round((a - b) / b * 100, 1) if b else None}
    for k in COMPARED_RATES:
        a_r = (now_row.get(k) or {}).get("rate")
        b_r = (before_row.get(k) or {}).get("rate")
        out["rates"][k] = {"value": a_r, "previous": b_r,
                           "points": round((a_r - b_r) * 100, 1)
                           if a_r is not None and b_r is not None else None}
    return out


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def highlights(snap: Mapping[str, Any]) -> list[str]:
    """The report's text in Chinese: a few sentences a reader takes away."""
    overall = snap["overall"]
    counts = snap["comparison"]["counts"]
    lines = []
    intake = counts["intake"]
    trend = ""
    if intake["percent"] is not None:
        word = "增加" if intake["change"] >= 0 else "减少"
        trend = f"，较上期{word} {abs(intake['change'])} 件（{abs(intake['percent'])}%）"
    lines.append(f"{snap['period']['label']}共受理诉求 {intake['value']} 件{trend}；派单 "
                 f"{counts['dispatched']['value']} 件，办结 {counts['closed']['value']} 件。")
    lines.append("按时签收率 {}，按时办结率 {}，解决率 {}，满意率 {}。".format(
        *(_pct((overall.get(k) or {}).get("rate")) for k in (
            "on_time_sign", "on_time_completion", "resolution", "satisfaction"))))
    ranked = [e for e in snap["ranking"] if e["ranked"]]
    if ranked:
        best, worst = ranked[0], ranked[-1]
        lines.append(f"三率综合得分第一名为{best['label']}（{best['score']:.2f} 分）" + (
            f"，末位为{worst['label']}（{worst['score']:.2f} 分）。" if len(ranked) > 1 else "。"))
    small = [e for e in snap["ranking"] if not e["ranked"]]
    if small:
        lines.append(f"{len(small)} 个部门样本不足 {snap['min_sample']} 件，列示但不参与排名。")
    lines.append(f"超期件 {snap['overdue']['count']} 件，督办后仍未办结予以通报 "
                 f"{snap['escalated']['count']} 件。")
    return lines


def instruction_highlights(snap: Mapping[str, Any]) -> list[str]:
    t = snap["instructions"]["total"]
    change = snap["comparison"]["change"]["received"]
    trend = f"（较上期{'增加' if change >= 0 else '减少'} {abs(change)} 件）"
    lines = [f"{snap['period']['label']}各单位收到领导批示件 {t['received']} 件{trend}，其中办件 "
             f"{t['handle']} 件、阅件 {t['read']} 件。",
             f"办件按时反馈 {t['on_time']} 件，逾期反馈 {t['late']} 件，超期未反馈 "
             f"{t['overdue']} 件，办理中 {t['pending']} 件；反馈退回修改 {t['returned']} 次，"
             f"催办 {t['urges']} 次。"]
    late_units = [u["label"] for u in snap["instructions"]["units"] if u["overdue"]]
    if late_units:
        lines.append(f"存在超期未反馈批示件的单位：{'、'.join(late_units)}。")
    return lines


# -- helpers -------------------------------------------------------------------------------------

def _clean(value: Any) -> Any:
    """JSON-ready: dates as ISO strings, tuples as lists."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None
