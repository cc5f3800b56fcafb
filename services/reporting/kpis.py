"""KPI reports (KPI关键指标监控, 分类统计报表) from the ``kpi_cube`` aggregate, and the live
board (实时看板). The definitions are in ``metrics.py``; ``kpis_plain.py`` computes the same
report by a plain GROUP BY over the facts (the tests' oracle and the benchmark's comparison).

A period's figures are the cube rows with either business day (``day_a``/``day_b``) inside it:
read as two index range scans (``day_a`` in range; ``day_b`` in range and ``day_a`` not) so no
sample item is counted twice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from services.reporting import metrics
from services.reporting.domain import GROUP_BY
from services.reporting.models import AssignmentFact, KpiCube
from services.reporting.periods import check_range, period_bounds
from shared.business_time import business_day
from shared.vocabulary import CATEGORIES, CHANNELS

GroupCounts = Mapping[str, Mapping[tuple[str, int], int]]


def group_label(group_by: str, key: str) -> str:
    """A group's Chinese label."""
    if key == metrics.UNKNOWN:
        return "未知"
    if group_by == "category":
        return CATEGORIES.get(key, key)
    if group_by == "channel":
        return CHANNELS.get(key, key)
    if group_by == "none":
        return metrics.ALL
    return key  # department and territory codes (names live in dispatch and intake)


def check_group_by(group_by: str) -> None:
    if group_by not in GROUP_BY:
        raise ValueError(f"未知的分组 unknown group_by {group_by!r}; valid: {', '.join(GROUP_BY)}")


def build_report(start: date, end: date, group_by: str, counts: GroupCounts,
                 weights: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The report from per-group counts ((metric, good) → n); shared by the cube and the
    plain GROUP BY so both give the same shape."""
    rows = []
    total: Counter[tuple[str, int]] = Counter()
    for key in sorted(k for k, c in counts.items() if any(c.values())):
        c = counts[key]
        total.update({k: v for k, v in c.items() if v})
        rows.append({"group": key, "group_label": group_label(group_by, key),
                     **metrics.kpi_row(c, weights)})
    return {"from": start.isoformat(), "to": end.isoformat(), "group_by": group_by,
            "rows": rows, "total": {"group": metrics.ALL, "group_label": "合计",
                                    **metrics.kpi_row(total, weights)}}


def cube_counts(session: Session, start: date, end: date, group_by: str,
                department: str | None = None) -> dict[str, Counter[tuple[str, int]]]:
    """Per group, (metric, good) → n for the samples with a day in [start, end]."""
    check_group_by(group_by)
    check_range(start, end)
    lo, hi = metrics.day_of(start), metrics.day_of(end)
    c = KpiCube
    cols = (c.group_key, c.metric, c.good, func.sum(c.n))
    cond = [c.dimension == group_by]
    if department is not None:
        cond.append(c.group_key == department)
    queries = [
        select(*cols).where(*cond, c.day_a >= lo, c.day_a <= hi),
        select(*cols).where(*cond, c.day_b >= lo, c.day_b <= hi,
                            or_(c.day_a < lo, c.day_a > hi)),
    ]
    out: dict[str, Counter[tuple[str, int]]] = defaultdict(Counter)
    for q in queries:
        for key, metric, good, n in session.execute(q.group_by(c.group_key, c.metric, c.good)):
            if n:
                out[key][(metric, int(good))] += int(n)
    return out


def kpi_report(session: Session, start: date, end: date, group_by: str, now: datetime,
               department: str | None = None,
               weights: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The KPI report for business days [start, end] grouped by ``group_by`` (department,
    category, territory, channel or none). ``department`` restricts a department-grouped
    report to that department's row (a department viewer's own figures); it requires
    ``group_by="department"``. ``now`` is when the report was made (``as_of``): the cube
    itself does not depend on it — breaches come from supervision's ``ticket.overdue``."""
    if department is not None and group_by != "department":
        raise ValueError("department filter needs group_by=department")
    report = build_report(start, end, group_by,
                          cube_counts(session, start, end, group_by, department), weights)
    report["as_of"] = now.isoformat()
    return report


# -- the live board 实时看板 ------------------------------------------------------------------------

def board(session: Session, now: datetime, department: str | None = None,
          weights: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Today's figures for the supervisors' board: intake today, lead assignments overdue now
    (and sign-for overdue now), due within the next 2 hours and by the end of today, and the
    三率 today and month-to-date."""
    today = business_day(now)
    group_by = "department" if department else "none"
    day_report = kpi_report(session, today, today, group_by, now, department, weights)
    month_report = kpi_report(session, today.replace(day=1), today, group_by, now, department,
                              weights)
    _, end_of_today = period_bounds(today, today)

    a = AssignmentFact
    open_lead = and_(a.role == "lead", a.end_reason.is_(None), a.replied_at.is_(None),
                     a.handle_due.is_not(None))
    scope = [] if department is None else [a.department_code == department]

    def count(*cond: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(a).where(*scope, *cond)) or 0)

    overdue_by_dept = [
        {"department_code": d, "overdue": n} for d, n in session.execute(
            select(a.department_code, func.count()).where(*scope, open_lead, a.handle_due < now)
            .group_by(a.department_code).order_by(func.count().desc(), a.department_code)
            .limit(20))]
    return {
        "as_of": now.isoformat(),
        "today": today.isoformat(),
        "intake_today": day_report["total"]["intake"],
        "overdue_now": count(open_lead, a.handle_due < now),
        "sign_overdue_now": count(a.signed_at.is_(None), a.end_reason.is_(None),
                                  a.sign_due < now),
        "due_within_2h": count(open_lead, a.handle_due >= now,
                               a.handle_due < now + timedelta(hours=2)),
        "due_today": count(open_lead, a.handle_due >= now, a.handle_due < end_of_today),
        "overdue_by_department": overdue_by_dept,
        "three_rates_today": day_report["total"]["three_rates"],
        "three_rates_month": month_report["total"]["three_rates"],
        "month": {"from": month_report["from"], "to": month_report["to"]},
    }
