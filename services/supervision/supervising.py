"""Supervision rules (督办, DOMAIN.md §3–§4): 督办单, escalation, the monthly urge (每月催办),
回头看 re-checks, linked callers' callbacks and manual reopening (重办).

Plain Python: no nameko, no database session. Deadlines are counted on the working-day
calendar passed in; months are local calendar months of the calendar's time zone
(Asia/Shanghai by default), never UTC months.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from shared.calendar import WorkCalendar
from shared.errors import Conflict
from shared.vocabulary import STATUSES

SOURCES = ("breach", "manual", "problem")
RECHECK_FINDINGS = ("confirmed", "problem_found")
MAX_LINKED_CALLBACK_ATTEMPTS = 3
# an order in one of these statuses is no longer with the departments: nothing to urge
NOT_WITH_DEPARTMENTS = ("replied", "closed", "resolved_at_intake")


# -- 督办单 ---------------------------------------------------------------------------------
def auto_key(assignment_id: int) -> str:
    """The key of the one automatic 督办单 of an assignment (opened at its handling breach)."""
    return f"{assignment_id}:breach"


def still_overdue(replied: bool, stopped: bool) -> bool:
    """An assignment is still overdue while it is neither replied nor stopped (returned,
    passed down)."""
    return not replied and not stopped


def due_for_escalation(now: datetime, escalate_at: datetime, escalated: bool,
                       resolved: bool) -> bool:
    """A 督办单 is escalated (通报) once, when its escalation instant has come and the
    assignment is still not replied."""
    return not escalated and not resolved and now >= escalate_at


def check_explanation(explained_at: datetime | None) -> None:
    """The department explains once; an explanation does not stop the escalation clock."""
    if explained_at is not None:
        raise Conflict("该督办单已说明 (the explanation was already given)",
                       {"action": "explain", "state": "explained"})


def explanation_late(explained_at: datetime, explanation_due: datetime) -> bool:
    return explained_at > explanation_due


def order_state(explained: bool, escalated: bool, resolved: bool) -> str:
    """What a 督办单 shows: open → explained; escalated wins; resolved when replied in time."""
    if escalated:
        return "escalated"
    if resolved:
        return "resolved"
    return "explained" if explained else "open"


# -- 每月催办 ---------------------------------------------------------------------------------
def month_key(now: datetime, calendar: WorkCalendar) -> str:
    """``YYYYMM`` of the local month ``now`` falls in."""
    return now.astimezone(calendar.tz).strftime("%Y%m")


def month_start(now: datetime, calendar: WorkCalendar) -> datetime:
    """The instant the local month of ``now`` began (local midnight of its first day)."""
    local = now.astimezone(calendar.tz)
    return datetime.combine(local.date().replace(day=1), time(0), tzinfo=calendar.tz)


def _month_days(now: datetime, calendar: WorkCalendar) -> tuple[date, date]:
    first = now.astimezone(calendar.tz).date().replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return first, last


def first_workday_of_month(now: datetime, calendar: WorkCalendar) -> date:
    first, last = _month_days(now, calendar)
    d = first
    while d < last and not calendar.is_workday(d):
        d += timedelta(days=1)
    return d


def last_workday_of_month(now: datetime, calendar: WorkCalendar) -> date:
    first, last = _month_days(now, calendar)
    d = last
    while d > first and not calendar.is_workday(d):
        d -= timedelta(days=1)
    return d


def monthly_urge_due(started_at: datetime, urged_this_month: bool, now: datetime,
                     calendar: WorkCalendar) -> bool:
    """每月催办 (seed 000 第三篇): every open assignment has at least one urge each month.

    An assignment open since an earlier month and not urged yet this month is urged on the
    month's first working day; one dispatched during this month usually gets its 80 % or
    breach urge in it, and if it has none by the month's last working day it is urged then.
    Any urge counts (automatic, manual, monthly).
    """
    if urged_this_month or started_at > now:
        return False
    today = now.astimezone(calendar.tz).date()
    if started_at < month_start(now, calendar):
        return today >= first_workday_of_month(now, calendar)
    return today >= last_workday_of_month(now, calendar)


def monthly_key(assignment_id: int, now: datetime, calendar: WorkCalendar) -> str:
    """Exactly one monthly urge per assignment per local month, across instances."""
    return f"{assignment_id}:monthly:{month_key(now, calendar)}"


# -- 回头看 ----------------------------------------------------------------------------------
def check_recheck(status: str, pending: bool) -> None:
    """Only a closed order is re-checked, one re-check at a time."""
    if status != "closed":
        raise Conflict(f"工单当前状态「{STATUSES.get(status, status)}」不能回头看 "
                       f"(recheck is only for closed orders, status {status})",
                       {"action": "recheck", "state": status})
    if pending:
        raise Conflict("该工单已有未完成的回头看 (a recheck of this order is still open)",
                       {"action": "recheck", "state": "recheck_pending"})


def check_recheck_result(recorded: bool) -> None:
    if recorded:
        raise Conflict("该回头看已记录结果 (the recheck result was already recorded)",
                       {"action": "recheck_result", "state": "recorded"})


# -- linked callers' callbacks --------------------------------------------------------------
def check_linked_callback(order_status: str, link_status: str) -> None:
    """A linked caller is called back once the order was replied (also after it closed)."""
    if order_status not in ("replied", "closed"):
        raise Conflict(f"工单当前状态「{STATUSES.get(order_status, order_status)}」不能回访 "
                       f"(callback is not allowed in status {order_status})",
                       {"action": "callback", "state": order_status})
    if link_status != "pending":
        raise Conflict(f"该来电人已完成回访 (this linked caller's callback is {link_status})",
                       {"action": "callback", "state": link_status})


def linked_callback_status(reached: bool, attempts: int) -> str:
    """``done`` once reached; ``unreachable`` after the third unreached attempt."""
    if reached:
        return "done"
    return "unreachable" if attempts >= MAX_LINKED_CALLBACK_ATTEMPTS else "pending"
