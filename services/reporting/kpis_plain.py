"""The KPI report by a plain GROUP BY over the fact rows, without the cube.

The same definitions as ``metrics.py`` written as SQL predicates on the facts, one query per
KPI sample: the tests' oracle for the cube and the benchmark's comparison. Periods are
business days [start, end], i.e. the UTC instants ``period_bounds`` gives.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from services.reporting import metrics
from services.reporting.kpis import build_report, check_group_by
from services.reporting.models import (
    AssignmentFact,
    CallbackFact,
    LinkFact,
    ReturnFact,
    TicketFact,
)
from services.reporting.periods import period_bounds

T, A, C, R, L = TicketFact, AssignmentFact, CallbackFact, ReturnFact, LinkFact


def _coalesce(col: Any, default: str) -> Any:
    return func.coalesce(func.nullif(col, ""), default)


def _order_dim(group_by: str) -> Any:
    return {
        "department": _coalesce(T.lead_department, metrics.NO_LEAD),
        "category": _coalesce(T.category, metrics.UNKNOWN),
        "territory": _coalesce(T.territory_code, metrics.UNKNOWN),
        "channel": _coalesce(T.channel, metrics.UNKNOWN),
    }.get(group_by, literal(metrics.ALL))


def _good(cond: Any) -> Any:
    return case((cond, 1), else_=0)


def _within(col: Any, a: datetime, b: datetime) -> Any:
    return and_(col >= a, col < b)


def plain_counts(session: Session, start: date, end: date, group_by: str,
                 department: str | None = None) -> dict[str, Counter[tuple[str, int]]]:
    check_group_by(group_by)
    a, b = period_bounds(start, end)
    out: dict[str, Counter[tuple[str, int]]] = defaultdict(Counter)
    odim = _order_dim(group_by)
    adim = _coalesce(A.department_code, metrics.UNKNOWN) if group_by == "department" else odim
    rdim = _coalesce(R.department_code, metrics.UNKNOWN) if group_by == "department" else odim
    ldim = (func.coalesce(func.nullif(L.channel, ""), _order_dim("channel"))
            if group_by == "channel" else odim)

    def run(metric: str, dim: Any, good: Any, base: Any, *where: Any) -> None:
        g = _good(good) if good is not None else literal(1)
        q = select(dim, g, func.count()).select_from(base).where(*where).group_by(dim, g)
        for key, gd, n in session.execute(q):
            out[key][(metric, int(gd))] += int(n)

    with_ticket_a = A.__table__.outerjoin(T.__table__, T.ticket_no == A.ticket_no)
    with_ticket_c = C.__table__.outerjoin(T.__table__, T.ticket_no == C.ticket_no)
    with_ticket_r = R.__table__.outerjoin(T.__table__, T.ticket_no == R.ticket_no)
    with_ticket_l = L.__table__.outerjoin(T.__table__, T.ticket_no == L.ticket_no)

    # orders
    run("intake", odim, T.resolved_at_intake.is_not(None), T.__table__,
        _within(T.registered_at, a, b))
    run("calls", odim, literal(False), T.__table__, _within(T.registered_at, a, b))
    run("closed", odim, None, T.__table__, _within(T.closed_at, a, b))
    run("callback", odim, T.callback_done_at.is_not(None), T.__table__,
        _within(T.first_replied_at, a, b))
    run("reopen", odim, T.reopen_count > 0, T.__table__, _within(T.first_replied_at, a, b))
    # assignments
    run("dispatched", adim, None, with_ticket_a, _within(A.dispatched_at, a, b))
    run("sign", adim, and_(A.signed_at.is_not(None), A.signed_at <= A.sign_due), with_ticket_a,
        A.sign_due.is_not(None),
        or_(_within(A.signed_at, a, b),
            and_(_within(A.sign_due, a, b),
                 or_(A.signed_at.is_not(None), A.sign_overdue_at.is_not(None)))))
    lead = and_(A.role == "lead", A.end_reason.is_(None), A.handle_due.is_not(None))
    late = or_(A.replied_at > A.handle_due,
               and_(A.replied_at.is_(None), A.handle_overdue_at >= A.handle_due))
    run("completion", adim, and_(A.replied_at.is_not(None), A.replied_at <= A.handle_due),
        with_ticket_a, lead,
        or_(_within(A.replied_at, a, b), and_(_within(A.handle_due, a, b), late)))
    run("overdue", adim, None, with_ticket_a, lead, late, _within(A.handle_due, a, b))
    run("returns", rdim, R.approved.is_(True), with_ticket_r, R.approved.is_not(None),
        _within(R.decided_at, a, b))
    # callbacks and linked calls
    run("resolution", odim, C.solved.is_(True), with_ticket_c, C.reached.is_(True),
        _within(C.at, a, b))
    run("satisfaction", odim, C.satisfaction.in_(sorted(metrics.SATISFIED)), with_ticket_c,
        C.reached.is_(True), C.satisfaction.is_not(None), C.satisfaction != "",
        _within(C.at, a, b))
    run("calls", ldim, literal(True), with_ticket_l, _within(L.linked_at, a, b))
    if department is not None:
        return {k: v for k, v in out.items() if k == department}
    return out


def kpi_report_plain(session: Session, start: date, end: date, group_by: str, now: datetime,
                     department: str | None = None,
                     weights: Mapping[str, float] | None = None) -> dict[str, Any]:
    """:func:`services.reporting.kpis.kpi_report`, computed from the facts directly."""
    report = build_report(start, end, group_by,
                          plain_counts(session, start, end, group_by, department), weights)
    report["as_of"] = now.isoformat()
    return report


kpi_report = kpi_report_plain  # ``kpis_plain.kpi_report`` mirrors ``kpis.kpi_report``
