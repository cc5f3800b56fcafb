"""KPI queries over the read models (DOMAIN.md §5), grouped by a dimension.

Definitions (one place; every report and API uses these):
- 受理量 intake: orders registered in the period;
- 派单量 dispatched: orders first dispatched in the period;
- 按时签收率 on-time sign: assignments signed by their sign deadline ÷ assignments whose sign
  deadline fell in the period or that were signed in it;
- 按时办结率 on-time completion: lead assignments replied by their deadline ÷ lead assignments
  replied in the period or whose deadline passed in the period without a reply by then;
- 办结量 closed: orders closed in the period.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from services.reporting.domain import Rate
from services.reporting.models import AssignmentFact, TicketFact

_TICKET_DIM = {
    "department": TicketFact.lead_department,
    "category": TicketFact.category,
    "territory": TicketFact.territory_code,
    "channel": TicketFact.channel,
}


def _ticket_dim(group_by: str) -> Any:
    from sqlalchemy import literal
    return _TICKET_DIM.get(group_by, literal("全部"))


def _assignment_dim(group_by: str) -> Any:
    if group_by == "department":
        return AssignmentFact.department_code
    return _ticket_dim(group_by)


def kpi_table(session: Session, start: datetime, end: datetime, group_by: str,
              now: datetime) -> list[dict[str, Any]]:
    rows: dict[Any, dict[str, Any]] = defaultdict(lambda: {
        "intake": 0, "dispatched": 0, "closed": 0, "sign": Rate(0, 0), "completion": Rate(0, 0)})

    tdim = _ticket_dim(group_by)
    for key, n in session.execute(select(tdim, func.count()).where(
            TicketFact.registered_at >= start, TicketFact.registered_at < end).group_by(tdim)):
        rows[key]["intake"] = n
    for key, n in session.execute(select(tdim, func.count()).where(
            TicketFact.dispatched_at >= start, TicketFact.dispatched_at < end).group_by(tdim)):
        rows[key]["dispatched"] = n
    for key, n in session.execute(select(tdim, func.count()).where(
            TicketFact.closed_at >= start, TicketFact.closed_at < end).group_by(tdim)):
        rows[key]["closed"] = n

    adim = _assignment_dim(group_by)
    base = select(AssignmentFact).join(TicketFact, TicketFact.ticket_no == AssignmentFact.ticket_no,
                                       isouter=True)
    a = AssignmentFact
    sign_in_period = or_(and_(a.sign_due >= start, a.sign_due < end, a.sign_due < now),
                         and_(a.signed_at >= start, a.signed_at < end))
    sign_on_time = and_(a.signed_at.is_not(None), a.signed_at <= a.sign_due)
    q = (base.with_only_columns(adim, func.count(),
                                func.sum(_case(sign_on_time)))
         .where(sign_in_period, a.sign_due.is_not(None)).group_by(adim))
    for key, total, on_time in session.execute(q):
        rows[key]["sign"] = Rate(int(on_time or 0), int(total))

    replied_in_period = and_(a.replied_at >= start, a.replied_at < end)
    overdue_in_period = and_(a.handle_due >= start, a.handle_due < end, a.handle_due < now,
                             or_(a.replied_at.is_(None), a.replied_at > a.handle_due))
    done_on_time = and_(a.replied_at.is_not(None), a.replied_at <= a.handle_due)
    q = (base.with_only_columns(adim, func.count(), func.sum(_case(done_on_time)))
         .where(a.role == "lead", a.handle_due.is_not(None),
                or_(replied_in_period, overdue_in_period)).group_by(adim))
    for key, total, on_time in session.execute(q):
        rows[key]["completion"] = Rate(int(on_time or 0), int(total))

    out = []
    for key in sorted(rows, key=lambda k: (k is None, str(k))):
        r = rows[key]
        out.append({"group": key, "intake": r["intake"], "dispatched": r["dispatched"],
                    "closed": r["closed"], "on_time_sign": r["sign"].as_dict(),
                    "on_time_completion": r["completion"].as_dict()})
    return out


def _case(cond: Any) -> Any:
    from sqlalchemy import case
    return case((cond, 1), else_=0)
