"""The KPI definitions of DOMAIN.md §5, once (KPI关键指标监控, 分类统计报表).

Every KPI is a *sample* (the rate's denominator, or the items a count counts) and a *good*
part of it (the numerator). Each sample item is placed in periods by one or two business days
(Asia/Shanghai, YYYYMMDD integers; 0 = none): an item counts in a period when either of its
days falls in it, so DOMAIN's "… in the period **or** …" definitions are exact and no item is
counted twice within one period. :func:`contributions` turns one order's facts into those items,
per grouping dimension; ``cube.py`` keeps their sums in ``kpi_cube`` and ``kpis.py`` reads them.

Metrics (``metric`` key → sample, good, days):

============== ======================================== ======================== =========================
metric          sample (denominator)                     good (numerator)         day_a / day_b
============== ======================================== ======================== =========================
intake          orders registered (受理量)               resolved at intake       registration day / –
                                                         (直办率)
closed          orders closed (办结量)                   all                      close day / –
dispatched      assignments dispatched (派单量; the      all                      dispatch day / –
                退单率 denominator)
sign            assignments signed, or whose sign        signed by the sign       sign deadline day (once
                deadline passed unsigned (supervision's  deadline (按时签收率,     signed or breached) /
                ``ticket.overdue`` clock sign)           三率 响应率)              signing day
completion      lead assignments replied, or whose       replied by the           reply day (or the deadline
                (extended) deadline passed unreplied     (extended) deadline      day when unreplied) / the
                (``ticket.overdue`` clock handle);       (按时办结率)              deadline day when replied
                returned/recalled/passed-down ones                                late
                leave the sample
overdue         超期件: lead assignments replied late,   all                      deadline day / –
                or unreplied past their deadline (not
                returned/recalled/passed down)
returns         return requests decided by the center    approved (退单率          decision day / –
                (退单)                                   numerator); good=0 are
                                                         无正当理由退件
callback        orders replied (回访率)                  a completed (reached)    first reply day / –
                                                         callback; 3 unreached
                                                         attempts = 无法回访: in
                                                         the sample, not good
reopen          orders replied (重办率)                  reopened (重办) at least  first reply day / –
                                                         once
resolution      reached callbacks (解决率)               said solved              callback day / –
satisfaction    reached callbacks with a rating (满意率) 满意 or 基本满意          callback day / –
calls           calls: registrations and calls linked    linked (重复来电率)       registration / link day
                to an already open order
============== ======================================== ======================== =========================

Attribution decisions (the README's KPI table repeats them): 回访率 and 重办率 by the order's
first reply day; 解决率 and 满意率 by the callback's day (each reached callback of the original
caller, so a reopened order's second callback counts too); 退单率 = approved returns decided in
the period ÷ assignments dispatched in it; 超期件 on the day the deadline passed (once, even
when the late reply comes in a later period). A reopened order's new round has a new lead
assignment: a new completion sample; the first round's reply stays in its own. Only the lead
department replies (assistants send opinions), so 按时办结率 and 超期件 are about lead
assignments; 按时签收率 and 退单率 cover every assignment.

Grouping: assignment-based KPIs (sign, completion, overdue, dispatched, returns) by the
assignment's department; order-based ones by the order's (latest round's) lead department,
``未派单`` when none. Category, territory and channel are the order's (a linked call's own
channel for ``calls``). Missing values group under ``-`` (未知).

三率 (Beijing): 响应率 = 按时签收率, 解决率, 满意率; :func:`three_rates_score` weights them
30/35/35 by default (configurable), on 0–100; None when any of the three has no sample.

Not yet available (need CTI data, Step 7): 接通率 answer rate (and within 15 s), 呼损率,
平均等待, 平均通话 — see :data:`NOT_YET_AVAILABLE`.

Plain Python: no nameko, no database session; facts are anything with the fact tables'
attributes (ORM objects or result rows).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, Protocol

from services.reporting.domain import Rate
from shared.business_time import business_day

DIMENSIONS = ("department", "category", "territory", "channel", "none")
ALL = "全部"  # the one group of dimension "none"
NO_LEAD = "未派单"  # an order without a lead department yet
UNKNOWN = "-"  # a missing category, territory, channel or department
SATISFIED = frozenset({"satisfied", "basically_satisfied"})  # 满意 + 基本满意
CALLBACK_ATTEMPTS = 3  # unreached this many times → 无法回访

METRICS: dict[str, str] = {
    "intake": "受理量 / 直办率",
    "closed": "办结量",
    "dispatched": "派单量",
    "sign": "按时签收率",
    "completion": "按时办结率",
    "overdue": "超期件",
    "returns": "退单 (批准 / 无正当理由退件)",
    "callback": "回访率",
    "reopen": "重办率",
    "resolution": "解决率",
    "satisfaction": "满意率",
    "calls": "重复来电率",
}

NOT_YET_AVAILABLE: dict[str, str] = {
    "answer_rate": "接通率 (CTI 数据, Step 7)",
    "answer_rate_15s": "15秒接通率 (CTI 数据, Step 7)",
    "abandon_rate": "呼损率 (CTI 数据, Step 7)",
    "mean_wait": "平均等待时长 (CTI 数据, Step 7)",
    "mean_talk": "平均通话时长 (CTI 数据, Step 7)",
}

DEFAULT_WEIGHTS: dict[str, float] = {"response": 30.0, "resolution": 35.0, "satisfaction": 35.0}

Key = tuple[str, str, str, int, int, int]  # metric, dimension, group_key, day_a, day_b, good


# -- the facts, as the definitions read them -----------------------------------------------------

class TicketLike(Protocol):
    ticket_no: str
    registered_at: datetime | None
    channel: str | None
    category: str | None
    territory_code: str | None
    lead_department: str | None
    resolved_at_intake: datetime | None
    first_replied_at: datetime | None
    callback_done_at: datetime | None
    callback_failures: int | None
    reopen_count: int | None
    closed_at: datetime | None


class AssignmentLike(Protocol):
    assignment_id: int
    ticket_no: str
    department_code: str | None
    role: str | None
    dispatched_at: datetime | None
    sign_due: datetime | None
    handle_due: datetime | None
    signed_at: datetime | None
    replied_at: datetime | None
    sign_overdue_at: datetime | None
    handle_overdue_at: datetime | None
    end_reason: str | None


class CallbackLike(Protocol):
    at: datetime
    reached: bool
    solved: bool | None
    satisfaction: str | None


class ReturnLike(Protocol):
    department_code: str | None
    decided_at: datetime | None
    approved: bool | None


class LinkLike(Protocol):
    linked_at: datetime
    channel: str | None


def day(at: datetime | None) -> int:
    """An instant's business day as YYYYMMDD (0 for None)."""
    if at is None:
        return 0
    return _quarter_hour_day(int(at.timestamp()) // 900)


@lru_cache(maxsize=65536)
def _quarter_hour_day(quarter_hour: int) -> int:
    # time zones change offset on quarter-hour boundaries, so a quarter hour has one local day
    d = business_day(datetime.fromtimestamp(quarter_hour * 900, UTC))
    return d.year * 10000 + d.month * 100 + d.day


def day_of(d: date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


# -- per-assignment predicates (assessment and reports reuse them) -------------------------------

@dataclass(frozen=True)
class Outcome:
    """An assignment's place in 按时办结率: its (extended) deadline, its reply, on time or not."""

    due: datetime
    replied: datetime | None
    on_time: bool

    @property
    def days(self) -> tuple[int, int]:
        if self.replied is None:
            return day(self.due), 0
        return day(self.replied), (0 if self.on_time else day(self.due))


def counts_for_completion(a: AssignmentLike) -> bool:
    """Lead assignments with a deadline that did not end by return, recall or passing down."""
    return a.role == "lead" and a.end_reason is None and a.handle_due is not None


def handle_breached(a: AssignmentLike) -> bool:
    """Supervision reported the (current, extended) handling deadline passed without a reply."""
    return (a.handle_overdue_at is not None and a.handle_due is not None
            and a.handle_overdue_at >= a.handle_due)


def completion_outcome(a: AssignmentLike) -> Outcome | None:
    """按时办结率: None while not measurable (no reply and no reported breach, or not a lead
    assignment, or it ended by return / recall / passing down)."""
    if not counts_for_completion(a):
        return None
    assert a.handle_due is not None
    if a.replied_at is not None:
        return Outcome(a.handle_due, a.replied_at, a.replied_at <= a.handle_due)
    if handle_breached(a):
        return Outcome(a.handle_due, None, False)
    return None


def overdue_day(a: AssignmentLike) -> int:
    """超期件 as recorded: the deadline day of a lead assignment replied late or reported
    breached and unreplied; 0 when not overdue."""
    o = completion_outcome(a)
    return 0 if o is None or o.on_time else day(o.due)


def is_overdue(a: AssignmentLike, now: datetime) -> bool:
    """超期件 at ``now``: a lead assignment past its (extended) deadline and not replied, or
    replied late; one that ended by approved return / recall / passing down does not count."""
    if not counts_for_completion(a):
        return False
    assert a.handle_due is not None
    if a.replied_at is not None:
        return a.replied_at > a.handle_due
    return now > a.handle_due


def overdue_assignments(assignments: Iterable[AssignmentLike],
                        now: datetime) -> list[AssignmentLike]:
    return [a for a in assignments if is_overdue(a, now)]


def sign_outcome(a: AssignmentLike) -> tuple[int, int, bool] | None:
    """按时签收率: (deadline day, signing day, on time), or None while not measurable (no
    deadline known yet, or neither signed nor reported past its sign deadline)."""
    if a.sign_due is None:
        return None
    if a.signed_at is not None:
        return day(a.sign_due), day(a.signed_at), a.signed_at <= a.sign_due
    if a.sign_overdue_at is not None:
        return day(a.sign_due), 0, False
    return None


# -- one order's contributions -------------------------------------------------------------------

def _key(value: str | None) -> str:
    return value if value else UNKNOWN


def order_groups(t: TicketLike | None) -> dict[str, str]:
    """An order's group per dimension (department = its lead department)."""
    if t is None:
        return {"department": NO_LEAD, "category": UNKNOWN, "territory": UNKNOWN,
                "channel": UNKNOWN, "none": ALL}
    return {"department": t.lead_department or NO_LEAD, "category": _key(t.category),
            "territory": _key(t.territory_code), "channel": _key(t.channel), "none": ALL}


Groups = tuple[str, str, str, str]  # department, category, territory, channel
CompactKey = tuple[str, Groups, int, int, int]  # metric, groups, day_a, day_b, good


def sample_items(ticket: TicketLike | None, assignments: Iterable[AssignmentLike],
                 callbacks: Iterable[CallbackLike], returns: Iterable[ReturnLike],
                 links: Iterable[LinkLike]) -> Counter[CompactKey]:
    """Every KPI sample item of one order with all its groups at once: (metric, (department,
    category, territory, channel), day_a, day_b, good) → n. :func:`expand` spreads them over
    the dimensions (a bulk rebuild sums these first, then expands once)."""
    out: Counter[CompactKey] = Counter()
    g = order_groups(ticket)
    groups: Groups = (g["department"], g["category"], g["territory"], g["channel"])
    _, category, territory, channel = groups

    if ticket is not None:
        if ticket.registered_at is not None:
            reg = day(ticket.registered_at)
            out[("intake", groups, reg, 0, int(ticket.resolved_at_intake is not None))] += 1
            out[("calls", groups, reg, 0, 0)] += 1
        if ticket.closed_at is not None:
            out[("closed", groups, day(ticket.closed_at), 0, 1)] += 1
        if ticket.first_replied_at is not None:
            first = day(ticket.first_replied_at)
            out[("callback", groups, first, 0, int(ticket.callback_done_at is not None))] += 1
            out[("reopen", groups, first, 0, int((ticket.reopen_count or 0) > 0))] += 1

    for a in assignments:
        ag: Groups = (_key(a.department_code), category, territory, channel)
        if a.dispatched_at is not None:
            out[("dispatched", ag, day(a.dispatched_at), 0, 1)] += 1
        s = sign_outcome(a)
        if s is not None:
            out[("sign", ag, s[0], s[1], int(s[2]))] += 1
        o = completion_outcome(a)
        if o is not None:
            da, db = o.days
            out[("completion", ag, da, db, int(o.on_time))] += 1
            if not o.on_time:
                out[("overdue", ag, day(o.due), 0, 1)] += 1

    for r in returns:
        if r.decided_at is not None and r.approved is not None:
            rg: Groups = (_key(r.department_code), category, territory, channel)
            out[("returns", rg, day(r.decided_at), 0, int(bool(r.approved)))] += 1

    for c in callbacks:
        if not c.reached:
            continue
        cday = day(c.at)
        out[("resolution", groups, cday, 0, int(bool(c.solved)))] += 1
        if c.satisfaction:
            out[("satisfaction", groups, cday, 0, int(c.satisfaction in SATISFIED))] += 1

    for link in links:
        lg: Groups = (groups[0], category, territory, _key(link.channel) if link.channel
                      else channel)
        out[("calls", lg, day(link.linked_at), 0, 1)] += 1
    return out


def expand(items: Mapping[CompactKey, int]) -> Counter[Key]:
    """Sample items spread over the dimensions: (metric, dimension, group_key, day_a, day_b,
    good) → n (the ``kpi_cube`` cells)."""
    out: Counter[Key] = Counter()
    for (metric, (dept, category, territory, channel), a, b, good), n in items.items():
        if not n:
            continue
        out[(metric, "department", dept, a, b, good)] += n
        out[(metric, "category", category, a, b, good)] += n
        out[(metric, "territory", territory, a, b, good)] += n
        out[(metric, "channel", channel, a, b, good)] += n
        out[(metric, "none", ALL, a, b, good)] += n
    return out


def contributions(ticket: TicketLike | None, assignments: Iterable[AssignmentLike],
                  callbacks: Iterable[CallbackLike], returns: Iterable[ReturnLike],
                  links: Iterable[LinkLike]) -> Counter[Key]:
    """Every KPI sample item of one order, per dimension: (metric, dimension, group_key, day_a,
    day_b, good) → n."""
    return expand(sample_items(ticket, assignments, callbacks, returns, links))


# -- from counts to rates --------------------------------------------------------------------------

Counts = Mapping[tuple[str, int], int]  # (metric, good) → n, within one group and period


def _n(c: Counts, metric: str, good: int | None = None) -> int:
    if good is None:
        return int(c.get((metric, 0), 0)) + int(c.get((metric, 1), 0))
    return int(c.get((metric, good), 0))


def _rate(c: Counts, metric: str) -> Rate:
    return Rate(_n(c, metric, 1), _n(c, metric))


def three_rates_score(rates: Mapping[str, Rate],
                      weights: Mapping[str, float] | None = None) -> float | None:
    """三率 composite on 0–100: Σ weight × rate ÷ Σ weight over 响应率 (``response``), 解决率
    (``resolution``) and 满意率 (``satisfaction``); None when any of them has no sample."""
    w = dict(weights or DEFAULT_WEIGHTS)
    total = sum(w.values())
    if total <= 0:
        raise ValueError("三率权重之和必须大于0 weights must add up to more than 0")
    score = 0.0
    for name, weight in w.items():
        r = rates[name]
        if not r.denominator:
            return None
        score += weight * r.numerator / r.denominator
    return round(100.0 * score / total, 2)


def kpi_row(c: Counts, weights: Mapping[str, float] | None = None) -> dict[str, Any]:
    """One report row's figures from its counts (rates with their samples)."""
    sign, resolution, satisfaction = _rate(c, "sign"), _rate(c, "resolution"), \
        _rate(c, "satisfaction")
    three = {"response": sign, "resolution": resolution, "satisfaction": satisfaction}
    return {
        "intake": _n(c, "intake"),
        "dispatched": _n(c, "dispatched"),
        "closed": _n(c, "closed"),
        "overdue": _n(c, "overdue"),
        "approved_returns": _n(c, "returns", 1),
        "rejected_returns": _n(c, "returns", 0),
        "resolved_at_intake": _rate(c, "intake").as_dict(),
        "on_time_sign": sign.as_dict(),
        "on_time_completion": _rate(c, "completion").as_dict(),
        "return_rate": Rate(_n(c, "returns", 1), _n(c, "dispatched")).as_dict(),
        "callback_rate": _rate(c, "callback").as_dict(),
        "resolution": resolution.as_dict(),
        "satisfaction": satisfaction.as_dict(),
        "reopen_rate": _rate(c, "reopen").as_dict(),
        "repeat_calls": _rate(c, "calls").as_dict(),
        "three_rates": {**{k: v.as_dict() for k, v in three.items()},
                        "score": three_rates_score(three, weights)},
    }
