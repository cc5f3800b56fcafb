"""The synthetic year of orders behind ``hotline bench reporting`` (issue 6 "Benchmark").

One deterministic plan per order (:func:`plan_chunk`, seeded per chunk of :data:`CHUNK` orders, so
the first orders of any run are the same orders), rendered two ways from the same plan:

- :func:`fact_rows`: the rows of reporting's fact tables exactly as the projections
  (``services/reporting/projections.py``) would leave them — written in bulk for a million
  orders;
- :func:`events`: the catalogue events (``shared.events.make_envelope``, every payload validated
  by its ``shared/catalogue.py`` schema) the services would have published for that order — the
  event log the rebuild benchmark replays. Projecting them must give :func:`fact_rows` again
  (checked by the benchmark on its replay slice and by the unit test).

The shape of the year (assessment year 2026: 2025-12-01 → 2026-11-30, Beijing days): 40
departments (the demo's 24 and 16 more bureaus) with a skewed load, the 7 national categories,
the demo's 16 territories, 5 channels; registrations through the day over 365 days; ~8 %
resolved at intake; per dispatched order a lead and sometimes assisting departments (~1.3
assignments per order in all); most signed and replied on time, a few per cent late or still
open past their deadline (超期), approved extensions (延期), returns (退单) approved — and
re-dispatched to another department — or rejected (无正当理由退件), warning and breach urges
(催办), repeat calls linked to open orders (重复来电), callbacks (回访) mostly reached and
satisfied, some only after unreached attempts and ~1.5 % never reached after 3 attempts
(无法回访), and ~3 % reopened (重办) after an unsatisfied callback.
"""

from __future__ import annotations

import random
import uuid
from bisect import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from typing import Any

from shared.business_time import BUSINESS_TZ

CHUNK = 10_000  # orders per seeded chunk (the unit of determinism)
YEAR = 2026     # the assessment year: 2025-12-01 → 2026-11-30
YEAR_START = datetime(YEAR - 1, 12, 1, tzinfo=BUSINESS_TZ).astimezone(UTC)
NOW = datetime(YEAR, 12, 1, tzinfo=BUSINESS_TZ).astimezone(UTC)  # the benchmark instant
DAYS = 365

# the demo city's departments (hotline/demo.py) and 16 more bureaus: 40 in all
DEPARTMENTS: tuple[str, ...] = (
    "chengguan", "zhujian", "jiaotong", "shichang", "renshe", "huanbao", "gongan", "weijian",
    "jiaoyu", "shuiwu", "minzheng", "ziranziyuan", "gongdian", "jiangyang", "naxi", "longmatan",
    "luxian", "jy_nancheng", "jy_beicheng", "jy_dashanping", "nx_anfu", "lmt_xiaoshi",
    "lmt_hongxing", "jy_baizhaopai", "wenlv", "nongye", "caizheng", "fagai", "shangwu",
    "yingji", "yibao", "tuiyi", "sifa", "linye", "guoziwei", "xinfang", "shuiwu_group",
    "ranqi", "gongjiao", "tongxin")
# a skewed load: the first departments receive most orders (1/(rank+3))
DEPARTMENT_WEIGHTS = tuple(1.0 / (k + 3) for k in range(len(DEPARTMENTS)))
CATEGORIES = (("consultation", 0.34), ("help", 0.18), ("complaint", 0.26), ("report", 0.05),
              ("suggestion", 0.09), ("praise", 0.02), ("other", 0.06))
CHANNELS = (("phone", 0.62), ("wechat", 0.15), ("app", 0.09), ("web", 0.09), ("open311", 0.05))
TERRITORIES = ("510500", "510502", "510503", "510504", "510521", "510502001", "510502002",
               "510502003", "510503001", "510503002", "510504001", "510504002", "510521001",
               "510502001001", "510502001002", "510504001001")
TERRITORY_WEIGHTS = (4, 10, 6, 8, 5, 5, 5, 4, 3, 3, 4, 3, 3, 2, 2, 2)
URGENCIES = (("normal", 0.90), ("urgent", 0.08), ("critical", 0.02))
SIGN_SPAN = {"normal": timedelta(hours=2), "urgent": timedelta(hours=1),
             "critical": timedelta(minutes=30)}
HANDLE_DAYS = {"consultation": 5, "help": 7, "complaint": 10, "report": 15, "suggestion": 15,
               "praise": 5, "other": 7}
# registrations by Beijing hour of day (8:00–21:59 mostly)
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 9, 7, 8, 9, 9, 8, 7, 6, 5, 4, 3, 2, 1)
TITLES = ("占道经营", "噪音扰民", "路灯不亮", "停水", "井盖缺失", "医保报销咨询", "社保转移",
          "拖欠工资", "物业服务", "垃圾清运", "违章建筑", "公交线路", "燃气维修", "学位咨询",
          "油烟污染", "消费纠纷", "户籍办理", "积水内涝", "树木修剪", "停车收费")
RETURN_REASONS = ("not_our_duty", "wrong_territory", "insufficient_info")
_DEPT_CUM = list(accumulate(DEPARTMENT_WEIGHTS))
_TERRITORY_CUM = list(accumulate(TERRITORY_WEIGHTS))
_HOUR_CUM = list(accumulate(HOUR_WEIGHTS))


def _weighted(rng: random.Random, values: tuple[Any, ...], cum: list[float]) -> Any:
    return values[bisect(cum, rng.random() * cum[-1])]


@dataclass
class Assignment:
    id: int
    department: str
    role: str
    round: int
    dispatched_at: datetime
    sign_due: datetime
    handle_due: datetime
    extended: bool = False
    old_due: datetime | None = None
    extension_at: datetime | None = None
    signed_at: datetime | None = None
    replied_at: datetime | None = None
    sign_overdue_at: datetime | None = None
    handle_overdue_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None


@dataclass
class Return:
    id: int
    assignment: Assignment
    requested_at: datetime
    decided_at: datetime
    approved: bool
    reason_code: str


@dataclass
class Urge:
    id: int
    assignment: Assignment
    clock: str
    kind: str
    issued_at: datetime
    answered_at: datetime | None


@dataclass
class Callback:
    at: datetime
    reached: bool
    solved: bool | None = None
    satisfaction: str | None = None


@dataclass
class Order:
    index: int
    ticket_no: str
    registered_at: datetime
    channel: str
    category: str
    urgency: str
    territory: str
    title: str
    confidential: bool
    resolved_at_intake: datetime | None = None
    dispatches: list[tuple[int, datetime, list[Assignment]]] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    returns: list[Return] = field(default_factory=list)
    urges: list[Urge] = field(default_factory=list)
    callbacks: list[Callback] = field(default_factory=list)
    links: list[tuple[int, datetime, str]] = field(default_factory=list)
    reopened: list[datetime] = field(default_factory=list)
    closed_at: datetime | None = None
    close_reason: str | None = None
    statuses: list[tuple[str, datetime]] = field(default_factory=list)  # (to_status, at)


def ticket_no(i: int) -> str:
    return f"{YEAR}{i:09d}"


def _choice(rng: random.Random, pairs: tuple[tuple[str, float], ...]) -> str:
    r = rng.random()
    for value, w in pairs:
        r -= w
        if r < 0:
            return value
    return pairs[-1][0]


class _Planner:
    """Plans one order after another from one chunk's random generator."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def minutes(self, lo: float, hi: float) -> timedelta:
        return timedelta(seconds=int(60 * self.rng.uniform(lo, hi)))

    def order(self, i: int) -> Order:
        rng = self.rng
        day = rng.randrange(DAYS)
        hour = _weighted(rng, tuple(range(24)), _HOUR_CUM)
        registered = YEAR_START + timedelta(days=day, hours=hour, seconds=rng.randrange(3600))
        category = _choice(rng, CATEGORIES)
        o = Order(index=i, ticket_no=ticket_no(i), registered_at=registered,
                  channel=_choice(rng, CHANNELS), category=category,
                  urgency=_choice(rng, URGENCIES),
                  territory=_weighted(rng, TERRITORIES, _TERRITORY_CUM),
                  title=rng.choice(TITLES), confidential=rng.random() < 0.005)
        o.statuses.append(("registered", registered))
        intake_p = 0.20 if category == "consultation" else 0.02
        if rng.random() < intake_p:  # answered on the spot (直接办结)
            o.resolved_at_intake = registered + self.minutes(2, 8)
            o.statuses.append(("resolved_at_intake", o.resolved_at_intake))
            return o
        self.dispatch(o, 1, registered + self.minutes(5, 90), lead=None)
        return o

    def new_assignment(self, o: Order, department: str, role: str, rnd: int,
                       at: datetime) -> Assignment:
        handle_days = HANDLE_DAYS[o.category]
        if o.urgency == "urgent":
            handle_days = max(1, handle_days // 2)
        elif o.urgency == "critical":
            handle_days = 1
        a = Assignment(id=o.index * 8 + len(o.assignments) + 1, department=department,
                       role=role, round=rnd, dispatched_at=at,
                       sign_due=at + SIGN_SPAN[o.urgency],
                       handle_due=at + timedelta(days=handle_days))
        o.assignments.append(a)
        return a

    def dispatch(self, o: Order, rnd: int, at: datetime, lead: str | None,
                 assists: bool = True) -> None:
        """One dispatch round: a lead (and sometimes assisting departments), then their lives."""
        rng = self.rng
        if at >= NOW:
            return
        if lead is None:
            lead = _weighted(rng, DEPARTMENTS, _DEPT_CUM)
        made = [self.new_assignment(o, lead, "lead", rnd, at)]
        r = rng.random()
        n_assist = (2 if r < 0.06 else 1 if r < 0.28 else 0) if assists else 0
        for _ in range(n_assist):
            other = _weighted(rng, DEPARTMENTS, _DEPT_CUM)
            if other != lead and other not in {a.department for a in made}:
                made.append(self.new_assignment(o, other, "assist", rnd, at))
        o.dispatches.append((rnd, at, made))
        if rnd == 1 and not o.reopened:
            o.statuses.append(("dispatched", at))
        for a in made[1:]:
            self.work(o, a, returnable=False)
        self.work(o, made[0], returnable=(rnd == 1 and not o.reopened))

    def urge(self, o: Order, a: Assignment, clock: str, kind: str, at: datetime,
             answered: datetime | None) -> None:
        if at >= NOW:
            return
        o.urges.append(Urge(id=o.index * 32 + len(o.urges) + 1, assignment=a, clock=clock,
                            kind=kind, issued_at=at,
                            answered_at=answered if answered and answered < NOW else None))

    def work(self, o: Order, a: Assignment, returnable: bool) -> None:
        """Sign-for, maybe a return or an extension, the reply; urges and overdue marks."""
        rng = self.rng
        span = a.sign_due - a.dispatched_at
        r = rng.random()
        if r < 0.955:    # signed on time
            signed = a.dispatched_at + span * rng.uniform(0.05, 0.95)
        elif r < 0.99:   # signed late: warned at 80 %, breached, then signed
            signed = a.sign_due + self.minutes(5, 360)
        else:            # not signed for a long while (returned or left to the supervisor)
            signed = a.sign_due + timedelta(days=rng.uniform(1, 3))
        if signed > a.sign_due:
            warn = a.dispatched_at + span * 0.8
            self.urge(o, a, "sign", "warning", warn, None)
            self.urge(o, a, "sign", "breach", a.sign_due + timedelta(minutes=1), signed)
            if a.sign_due + timedelta(minutes=1) < NOW:
                a.sign_overdue_at = a.sign_due + timedelta(minutes=1)
        if signed >= NOW:
            return
        a.signed_at = signed
        if a.role == "lead" and o.statuses[-1][0] in ("dispatched", "reopened"):
            o.statuses.append(("in_progress", signed))
        if returnable and rng.random() < 0.045:  # 退单 requested after signing
            requested = signed + self.minutes(30, 600)
            decided = requested + self.minutes(60, 1800)
            approved = rng.random() < 0.6
            if decided < NOW:
                o.returns.append(Return(id=o.index * 4 + len(o.returns) + 1, assignment=a,
                                        requested_at=requested, decided_at=decided,
                                        approved=approved, reason_code=rng.choice(RETURN_REASONS)))
                o.statuses.append(("return_requested", requested))
                if approved:  # its clocks stop; the center re-dispatches elsewhere
                    a.ended_at, a.end_reason = decided, "returned"
                    o.statuses.append(("dispatched", decided))
                    other = a.department
                    while other == a.department:
                        other = _weighted(rng, DEPARTMENTS, _DEPT_CUM)
                    self.dispatch(o, 2, decided + self.minutes(10, 120), lead=other,
                                  assists=False)
                    return
                o.statuses.append(("in_progress", decided))
        total = a.handle_due - a.dispatched_at
        if rng.random() < 0.03:  # an approved extension (延期) before the deadline
            at = a.dispatched_at + total * rng.uniform(0.4, 0.75)
            if at < NOW:
                a.extended, a.old_due, a.extension_at = True, a.handle_due, at
                a.handle_due = a.handle_due + timedelta(days=rng.choice((3, 5, 7, 10)))
                total = a.handle_due - a.dispatched_at
        r = rng.random()
        if r < 0.93:     # replied on time (most well before the deadline)
            lo = max(0.02, (signed - a.dispatched_at) / total + 0.01)
            replied = a.dispatched_at + total * min(0.99, lo + rng.betavariate(1.3, 3.0))
        elif r < 0.98:   # replied late
            replied = a.handle_due + timedelta(hours=rng.uniform(2, 240))
        else:            # not replied: open past its deadline (超期 still open)
            replied = NOW + timedelta(days=365)
        warn = a.dispatched_at + total * 0.8
        if replied > warn:
            self.urge(o, a, "handle", "warning", warn, replied if replied < a.handle_due else None)
        if replied > a.handle_due:
            breach = a.handle_due + timedelta(minutes=1)
            self.urge(o, a, "handle", "breach", breach, replied)
            if breach < NOW:
                a.handle_overdue_at = breach
        if replied >= NOW:
            return
        a.replied_at = replied
        if a.role == "lead":
            self.after_reply(o, replied)

    def after_reply(self, o: Order, replied: datetime) -> None:
        """The lead replied: callbacks (回访), maybe a reopening (重办), the close."""
        rng = self.rng
        o.statuses.append(("replied", replied))
        at = replied + self.minutes(60, 2880)
        r = rng.random()
        unreached = 0 if r < 0.90 else 1 if r < 0.95 else 2 if r < 0.985 else 3
        for k in range(unreached):
            if at >= NOW:
                return
            o.callbacks.append(Callback(at=at, reached=False))
            if k == 2:  # 无法回访: closed after the third unreached attempt
                o.closed_at, o.close_reason = at + timedelta(seconds=1), "unreachable"
                o.statuses.append(("closed", o.closed_at))
                return
            at += self.minutes(120, 1440)
        if at >= NOW - timedelta(seconds=1):
            return
        solved = rng.random() < 0.88
        s = rng.random()
        satisfaction = (None if s < 0.02 else "satisfied" if s < 0.80 else
                        "basically_satisfied" if s < 0.94 else "unsatisfied")
        if not solved and satisfaction == "satisfied" and rng.random() < 0.7:
            satisfaction = "basically_satisfied"
        o.callbacks.append(Callback(at=at, reached=True, solved=solved,
                                    satisfaction=satisfaction))
        if satisfaction == "unsatisfied" and not o.reopened and rng.random() < 0.5:
            o.reopened.append(at)  # 重办: back to the same lead, a new round
            o.statuses.append(("reopened", at))
            lead = next(a for a in reversed(o.assignments) if a.role == "lead")
            self.dispatch(o, o.dispatches[-1][0] + 1, at + self.minutes(10, 240),
                          lead=lead.department, assists=False)
            return
        o.closed_at = at + timedelta(seconds=1)
        o.close_reason = "callback" if satisfaction != "unsatisfied" else "callback_unsatisfied"
        o.statuses.append(("closed", o.closed_at))

    def links(self, o: Order) -> None:
        """重复来电: calls linked to the order while it was open."""
        rng = self.rng
        if rng.random() >= 0.05:
            return
        end = o.closed_at or NOW
        if o.resolved_at_intake is not None or end <= o.registered_at:
            return
        for _ in range(1 if rng.random() < 0.8 else 2):
            at = o.registered_at + (end - o.registered_at) * rng.uniform(0.05, 0.95)
            o.links.append((o.index * 4 + len(o.links) + 1, at, _choice(rng, CHANNELS)))


def plan_chunk(seed: int, chunk: int, first: int, last: int) -> list[Order]:
    """Orders ``first`` … ``last - 1`` of chunk ``chunk`` (the same orders for the same seed)."""
    planner = _Planner(random.Random(seed * 1_000_003 + chunk))
    out = []
    for i in range(chunk * CHUNK, min((chunk + 1) * CHUNK, last)):
        o = planner.order(i)
        planner.links(o)
        if i >= first:
            out.append(o)
    return out


def plan(n: int, seed: int, first: int = 0) -> Iterator[list[Order]]:
    """Orders ``first`` … ``n - 1`` chunk by chunk."""
    for chunk in range(first // CHUNK, (n + CHUNK - 1) // CHUNK):
        yield plan_chunk(seed, chunk, first, n)


# -- the facts, as the projections leave them --------------------------------------------------

TICKET_COLS = ("ticket_no", "registered_at", "registered_day", "channel", "category", "urgency",
               "territory_code", "title", "confidential", "lead_department", "dispatch_round",
               "dispatched_at", "resolved_at_intake", "first_replied_at", "replied_at",
               "callback_done_at", "callback_failures", "reopen_count", "reopened_at",
               "linked_calls", "closed_at", "close_reason", "status", "status_seq")
ASSIGNMENT_COLS = ("assignment_id", "ticket_no", "department_code", "role", "round",
                   "dispatched_at", "sign_due", "handle_due", "extended", "signed_at",
                   "replied_at", "sign_overdue_at", "handle_overdue_at", "ended_at",
                   "end_reason")
CALLBACK_COLS = ("event_id", "ticket_no", "at", "reached", "solved", "satisfaction")
RETURN_COLS = ("return_id", "assignment_id", "ticket_no", "department_code", "reason_code",
               "requested_at", "decided_at", "approved", "withdrawn_at")
URGE_COLS = ("urge_id", "ticket_no", "assignment_id", "department_code", "clock", "kind",
             "issued_at", "answered_at")
LINK_COLS = ("link_id", "ticket_no", "linked_at", "channel")
TABLES: dict[str, tuple[str, ...]] = {
    "ticket_fact": TICKET_COLS, "assignment_fact": ASSIGNMENT_COLS,
    "callback_fact": CALLBACK_COLS, "return_fact": RETURN_COLS, "urge_fact": URGE_COLS,
    "link_fact": LINK_COLS}


_CALLBACK_NS = uuid.UUID("6f1c1b5e-12d3-4a45-9b12-123450000006")


def callback_event_id(o: Order, k: int) -> str:
    """The callback's event id (the callback fact's key): fixed by the order and attempt."""
    return str(uuid.uuid5(_CALLBACK_NS, f"{o.ticket_no}/{k}"))


def _lead_department(o: Order) -> str | None:
    lead = None
    top = 0
    for rnd, _, made in o.dispatches:
        if rnd >= top:
            top = rnd
            lead = next(a.department for a in made if a.role == "lead")
    return lead


def fact_rows(orders: list[Order]) -> dict[str, list[tuple]]:
    """Rows (timestamps as aware datetimes, days as dates) of each fact table."""
    from shared.business_time import business_day

    out: dict[str, list[tuple]] = {name: [] for name in TABLES}
    tickets, assignments = out["ticket_fact"], out["assignment_fact"]
    callbacks, returns, urges, links = (out["callback_fact"], out["return_fact"],
                                        out["urge_fact"], out["link_fact"])
    for o in orders:
        replies = [a.replied_at for a in o.assignments if a.replied_at is not None]
        reached = [c.at for c in o.callbacks if c.reached]
        last_status, seq = o.statuses[-1][0], len(o.statuses) - 1  # registered: no event
        tickets.append((
            o.ticket_no, o.registered_at, business_day(o.registered_at), o.channel, o.category,
            o.urgency, o.territory, None if o.confidential else o.title, o.confidential,
            _lead_department(o), max((d[0] for d in o.dispatches), default=0),
            min((d[1] for d in o.dispatches), default=None), o.resolved_at_intake,
            min(replies, default=None), max(replies, default=None), min(reached, default=None),
            sum(1 for c in o.callbacks if not c.reached), len(o.reopened),
            min(o.reopened, default=None), len(o.links), o.closed_at, o.close_reason,
            last_status if seq else None, seq))
        for a in o.assignments:
            assignments.append((
                a.id, o.ticket_no, a.department, a.role, a.round, a.dispatched_at, a.sign_due,
                a.handle_due, a.extended, a.signed_at, a.replied_at, a.sign_overdue_at,
                a.handle_overdue_at, a.ended_at, a.end_reason))
        for k, c in enumerate(o.callbacks):
            callbacks.append((callback_event_id(o, k), o.ticket_no, c.at, c.reached, c.solved,
                              c.satisfaction))
        for r in o.returns:
            returns.append((r.id, r.assignment.id, o.ticket_no, r.assignment.department,
                            r.reason_code, r.requested_at, r.decided_at, r.approved, None))
        for u in o.urges:
            urges.append((u.id, o.ticket_no, u.assignment.id, u.assignment.department, u.clock,
                          u.kind, u.issued_at, u.answered_at))
        for link_id, at, channel in o.links:
            links.append((link_id, o.ticket_no, at, channel))
    return out


def counts(orders: list[Order]) -> dict[str, int]:
    """What the plan holds, for the results (realism at a glance)."""
    c: dict[str, int] = {k: 0 for k in (
        "orders", "resolved_at_intake", "dispatched", "assignments", "assisting",
        "lead_signed_late", "lead_replied", "lead_replied_late", "lead_open_overdue",
        "extensions", "returns_approved", "returns_rejected", "urges", "callbacks",
        "callbacks_reached", "unreachable_3", "satisfied_or_basically", "rated", "reopened",
        "closed", "linked_calls", "confidential")}
    for o in orders:
        c["orders"] += 1
        c["resolved_at_intake"] += o.resolved_at_intake is not None
        c["dispatched"] += bool(o.dispatches)
        c["confidential"] += o.confidential
        for a in o.assignments:
            c["assignments"] += 1
            c["assisting"] += a.role == "assist"
            c["extensions"] += a.extended
            if a.role != "lead":
                continue
            c["lead_signed_late"] += a.sign_overdue_at is not None
            if a.replied_at is not None:
                c["lead_replied"] += 1
                c["lead_replied_late"] += a.replied_at > a.handle_due
            elif a.end_reason is None and a.handle_due < NOW:
                c["lead_open_overdue"] += 1
        c["returns_approved"] += sum(r.approved for r in o.returns)
        c["returns_rejected"] += sum(not r.approved for r in o.returns)
        c["urges"] += len(o.urges)
        c["callbacks"] += len(o.callbacks)
        c["callbacks_reached"] += sum(cb.reached for cb in o.callbacks)
        c["rated"] += sum(cb.satisfaction is not None for cb in o.callbacks)
        c["satisfied_or_basically"] += sum(cb.satisfaction in ("satisfied",
                                                               "basically_satisfied")
                                           for cb in o.callbacks)
        c["unreachable_3"] += o.close_reason == "unreachable"
        c["reopened"] += bool(o.reopened)
        c["closed"] += o.closed_at is not None
        c["linked_calls"] += len(o.links)
    return c


# -- the events the services would have published ----------------------------------------------

def _envelope(event_type: str, data: dict[str, Any], producer: str, o: Order,
              at: datetime, sequence: int | None = None) -> dict[str, Any]:
    from shared.events import make_envelope
    return make_envelope(event_type, data, producer=producer, ticket_no=o.ticket_no,
                         sequence=sequence, occurred_at=at)


def events(o: Order) -> list[dict[str, Any]]:
    """The order's catalogue events in the order they happened (validated envelopes)."""
    out: list[tuple[datetime, int, str, dict[str, Any], str, int | None]] = []
    tn = o.ticket_no

    def add(at: datetime, event_type: str, data: dict[str, Any], producer: str,
            sequence: int | None = None) -> None:
        out.append((at, len(out), event_type, data, producer, sequence))

    add(o.registered_at, "ticket.registered", {
        "ticket_no": tn, "registered_at": o.registered_at, "channel": o.channel,
        "category": o.category, "urgency": o.urgency, "title": o.title,
        "content": f"市民反映{o.title}问题，请尽快处理。", "caller_name": None, "phone": None,
        "address": None, "territory_code": o.territory, "confidential": o.confidential,
        "agent": "agent01", "call_id": None, "recording_ref": None,
        "resolved_at_intake": o.resolved_at_intake is not None}, "intake")
    if o.resolved_at_intake is not None:
        add(o.resolved_at_intake, "ticket.resolved_at_intake", {
            "ticket_no": tn, "resolved_at": o.resolved_at_intake, "actor": "agent01",
            "answer": "已当场答复 answered on the spot", "article_id": None}, "intake")
    for rnd, at, made in o.dispatches:
        add(at, "ticket.dispatched", {
            "ticket_no": tn, "dispatched_at": at, "actor": "dispatcher01", "round": rnd,
            "category": o.category, "urgency": o.urgency, "rule_id": None,
            "assignments": [{"assignment_id": a.id, "department_code": a.department,
                             "role": a.role} for a in made]}, "dispatch")
    for a in o.assignments:
        dept, aid = a.department, a.id
        add(a.dispatched_at, "assignment.clocks_started", {
            "assignment_id": aid, "ticket_no": tn, "department_code": dept, "role": a.role,
            "started_at": a.dispatched_at, "sign_due": a.sign_due,
            "handle_due": a.old_due or a.handle_due, "policy": f"{o.category}/{o.urgency}"},
            "supervision")
        if a.signed_at is not None:
            add(a.signed_at, "assignment.signed", {
                "assignment_id": aid, "ticket_no": tn, "department_code": dept,
                "role": a.role, "signed_at": a.signed_at, "actor": f"{dept}-user"}, "dispatch")
        if a.sign_overdue_at is not None:
            add(a.sign_overdue_at, "ticket.overdue", {
                "ticket_no": tn, "assignment_id": aid, "department_code": dept,
                "clock": "sign", "due": a.sign_due, "at": a.sign_overdue_at}, "supervision")
        if a.extended and a.extension_at is not None and a.old_due is not None:
            add(a.extension_at, "assignment.extension_decided", {
                "extension_id": aid, "assignment_id": aid, "ticket_no": tn,
                "department_code": dept, "approved": True, "old_due": a.old_due,
                "new_due": a.handle_due, "at": a.extension_at, "actor": "supervisor01",
                "note": None}, "supervision")
        if a.handle_overdue_at is not None:
            add(a.handle_overdue_at, "ticket.overdue", {
                "ticket_no": tn, "assignment_id": aid, "department_code": dept,
                "clock": "handle", "due": a.handle_due, "at": a.handle_overdue_at},
                "supervision")
        if a.replied_at is not None:
            add(a.replied_at, "assignment.replied", {
                "assignment_id": aid, "ticket_no": tn, "department_code": dept,
                "replied_at": a.replied_at, "actor": f"{dept}-user",
                "reply": "已处理完毕 handled"}, "dispatch")
    for r in o.returns:
        a = r.assignment
        base = {"return_id": r.id, "assignment_id": a.id, "ticket_no": tn,
                "department_code": a.department}
        add(r.requested_at, "assignment.return_requested", {
            **base, "reason_code": r.reason_code, "basis": "不属于本单位职责 not our duty",
            "at": r.requested_at, "actor": f"{a.department}-user"}, "dispatch")
        add(r.decided_at, "assignment.return_decided", {
            **base, "approved": r.approved, "at": r.decided_at, "actor": "dispatcher01",
            "note": None}, "dispatch")
    for u in o.urges:
        a = u.assignment
        add(u.issued_at, "ticket.urged", {
            "ticket_no": tn, "urge_id": u.id, "assignment_id": a.id,
            "department_code": a.department, "clock": u.clock, "kind": u.kind,
            "channel": "system", "issued_at": u.issued_at, "issuer": "system", "note": None},
            "supervision")
        if u.answered_at is not None:
            add(u.answered_at, "ticket.urge_answered", {
                "ticket_no": tn, "urge_id": u.id, "assignment_id": a.id,
                "department_code": a.department, "answer": "正在处理 being handled",
                "at": u.answered_at, "actor": f"{a.department}-user"}, "dispatch")
    for k, c in enumerate(o.callbacks):
        add(c.at, "ticket.callback_recorded", {
            "ticket_no": tn, "at": c.at, "actor": "agent02", "reached": c.reached,
            "solved": c.solved, "satisfaction": c.satisfaction, "note": None}, "supervision")
        out[-1][3]["_event_id"] = callback_event_id(o, k)
    for at in o.reopened:
        add(at, "ticket.reopened", {"ticket_no": tn, "at": at, "actor": "agent02",
                                    "reason": "回访不满意 unsatisfied"}, "supervision")
    for link_id, at, channel in o.links:
        add(at, "ticket.linked", {
            "ticket_no": tn, "link_id": link_id, "linked_at": at, "caller_name": None,
            "phone": None, "content": "再次来电催问 calling again", "channel": channel,
            "agent": "agent03", "call_id": None, "reason": "same_caller"}, "intake")
    if o.closed_at is not None:
        add(o.closed_at, "ticket.closed", {"ticket_no": tn, "closed_at": o.closed_at,
                                           "actor": "agent02", "reason": o.close_reason},
            "supervision")
    previous = "registered"
    for seq, (status, at) in enumerate(o.statuses[1:], 1):
        add(at, "ticket.status_changed", {
            "ticket_no": tn, "from_status": previous, "to_status": status, "at": at,
            "actor": "system", "reason": None}, "supervision", sequence=seq)
        previous = status
    out.sort(key=lambda e: (e[0], e[1]))
    envelopes = []
    for at, _, event_type, data, producer, sequence in out:
        event_id = data.pop("_event_id", None)
        env = _envelope(event_type, data, producer, o, at, sequence)
        if event_id is not None:  # the callback fact's key is its event's id
            env["event_id"] = event_id
        envelopes.append(env)
    return envelopes


def business_date(at: datetime) -> date:
    return at.astimezone(BUSINESS_TZ).date()
