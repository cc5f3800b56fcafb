"""Hotspots 热点: keywords of order titles, top lists per window, and spikes 突发热点.

- **Keywords** of an order's title: the project's jieba segmentation (shared/segmentation.py,
  as intake's similarity and knowledge's analysis use it) with reporting's own domain words,
  without stop words, punctuation, numbers and single characters; kept in ``ticket_term`` in
  title order (``position``). Never for 涉密 (confidential) orders.
- **Calls** are registrations (``ticket.registered``) and repeat calls linked to an open order
  (``ticket.linked``, counted for that order's matter, place and keywords).
- **Top lists** over a window: categories, places (territory codes) and keywords, each with
  its calls and share of the window's calls; confidential orders are left out of everything,
  the total included.
- **Spikes**: a matter is (territory, the title's one or two leading keywords, category); a
  spike is ≥ ``calls`` calls of one matter within ``window`` (half-open ``(e − W, e]``, ending
  at a call ``e``). One alert per matter and window: no alert of a matter is raised within W
  of another one of it (so a later surge, after the window closed, raises a new alert, and no
  call is counted in two alerts). Detection uses only event times (registered_at,
  linked_at), never the wall clock, so replaying the log gives the same alerts; see
  :func:`detect` for late (out-of-order) events.

Plain module: a SQLAlchemy session, no nameko. The consumer calls :func:`on_event` after
``projections.apply``; ``rebuild`` calls it per replayed event without ``emit`` (alerts
already raised are kept with their acknowledgement; one the replay finds missing is recorded,
not announced).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from bisect import bisect_left, bisect_right, insort
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import String, Table, and_, bindparam, func, select, text
from sqlalchemy.orm import Session

from services.reporting.cube import insert_rows
from services.reporting.models import HotspotAlert, LinkFact, TicketFact, TicketTerm
from services.reporting.periods import day_number
from shared.business_time import business_day
from shared.events import Event
from shared.segmentation import DEFAULT_MIN_FREQ, shared_tokenizer
from shared.types import UtcDateTime
from shared.vocabulary import CATEGORIES

# -- configuration -------------------------------------------------------------------------------

DEFAULT_SPIKE_CALLS = 10
DEFAULT_SPIKE_WINDOW_MINUTES = 60
DEFAULT_MAX_WINDOW_DAYS = 92  # the longest assessment quarter (Mar–May)
DEFAULT_TOP_LIMIT = 10
MAX_TERMS = 8  # keywords kept per title
TERM_LENGTH = 40  # ticket_term.term
MATTER_TERMS = 2  # leading keywords that name a matter


@dataclass(frozen=True)
class SpikeRule:
    """≥ ``calls`` calls of one matter within ``window`` make a spike."""

    calls: int = DEFAULT_SPIKE_CALLS
    window: timedelta = timedelta(minutes=DEFAULT_SPIKE_WINDOW_MINUTES)

    @classmethod
    def from_settings(cls, settings: Any) -> SpikeRule:
        """From the service config's ``HOTSPOTS`` block (``SPIKE_CALLS``,
        ``SPIKE_WINDOW_MINUTES``); the defaults where it is absent."""
        block = settings.get("HOTSPOTS") if isinstance(settings, Mapping) else None
        block = block if isinstance(block, Mapping) else {}
        calls = int(block.get("SPIKE_CALLS", DEFAULT_SPIKE_CALLS))
        minutes = float(block.get("SPIKE_WINDOW_MINUTES", DEFAULT_SPIKE_WINDOW_MINUTES))
        if calls < 2 or minutes <= 0:
            raise ValueError("HOTSPOTS: SPIKE_CALLS must be ≥ 2 and SPIKE_WINDOW_MINUTES > 0")
        return cls(calls, timedelta(minutes=minutes))


def max_window_days(settings: Any) -> int:
    block = settings.get("HOTSPOTS") if isinstance(settings, Mapping) else None
    block = block if isinstance(block, Mapping) else {}
    return int(block.get("MAX_WINDOW_DAYS", DEFAULT_MAX_WINDOW_DAYS))


# -- keywords ------------------------------------------------------------------------------------

# Words of the trade jieba's general dictionary splits: kept whole in a title.
DOMAIN_WORDS: tuple[str, ...] = (
    "占道经营", "流动摊贩", "城管", "路灯", "油烟", "噪音", "扰民", "施工扰民", "夜间施工",
    "广场舞", "渣土车", "物业", "停水", "停电", "水压", "井盖", "垃圾", "违章建筑", "违建",
    "私搭乱建", "乱停车", "消防通道", "化粪池", "下水道", "积水", "漏水", "烧烤", "拖欠工资",
    "欠薪", "电梯", "供暖", "暖气", "公交站", "红绿灯", "信号灯", "异味", "臭味", "直排",
    "公共厕所", "共享单车", "外卖", "噪声",
)

# Function words and hotline boilerplate (an agent's title: "关于…的投诉", "市民反映…问题").
STOP_WORDS: frozenset[str] = frozenset("""
的 了 着 过 和 与 及 或 也 都 又 还 就 才 在 是 有 没 没有 不 很 太 非常 一直 已经 经常 总是
这个 那个 这些 那些 这里 那里 我 我们 你 你们 他 他们 她 它 自己 大家 有人 什么 怎么 为什么
如何 能否 可以 可能 希望 请 麻烦 请求 要求 反映 反应 投诉 举报 咨询 建议 表扬 求助 问题
情况 事情 事宜 事项 关于 有关 相关 涉及 对于 存在 导致 造成 出现 发生 进行 处理 解决 尽快
部门 政府 市民 居民 群众 来电 来电人 诉求 一事 一个 严重 影响 其他 等等 附近 周边 现在
目前 最近 近期 今天 昨天 长期 多次 多日 仍然 依然 无人 没人 无法 不能 不到 不了
""".split())

_SKIP = re.compile(r"^[\W_\d]+$", re.UNICODE)  # punctuation, space, digits


_loaded: list[Any] = []


def tokenizer() -> Any:
    """The process's one tokenizer for reporting's words: jieba's dictionary, ≈2 s to load, so
    the service loads it at start (``dependencies.HotspotTokenizer``) and neither the first
    call event nor a rebuild waits for it."""
    if not _loaded:
        _loaded.append(shared_tokenizer(DOMAIN_WORDS, DEFAULT_MIN_FREQ))
    return _loaded[0]


def keep(token: str) -> bool:
    """A keyword: not a stop word, not punctuation or a number, not a single character."""
    return len(token) > 1 and token not in STOP_WORDS and not _SKIP.match(token)


def keywords(title: str | None) -> list[str]:
    """The keywords of a title in the order they first appear (at most :data:`MAX_TERMS`)."""
    if not title:
        return []
    text = unicodedata.normalize("NFKC", title).lower()
    out: list[str] = []
    for token in tokenizer().lcut(text, HMM=True):
        token = token.strip()
        if keep(token) and token not in out:
            out.append(token[:TERM_LENGTH])
            if len(out) == MAX_TERMS:
                break
    return out


# -- the projection hook -------------------------------------------------------------------------

Emit = Callable[..., Any]


def on_event(session: Session, event: Event, rule: SpikeRule, emit: Emit | None = None) -> None:
    """Keep the keywords of a registered order and look for a spike at each call.

    ``emit`` is the unit of work's ``emit`` (the live consumer: a new alert is announced as
    ``hotspot.spike_detected``); None when replaying (an alert is recorded, never re-announced).
    """
    if event.type == "ticket.registered":
        d = event.data
        if d.get("confidential"):
            return  # 涉密: never segmented, never counted in hotspots
        terms = store_terms(session, d["ticket_no"], d.get("title"), d["registered_at"],
                            d.get("category"), d.get("territory_code"))
        if terms:
            check_spikes(session, d["ticket_no"], d["registered_at"], rule, emit)
    elif event.type == "ticket.linked":
        check_spikes(session, event.data["ticket_no"], event.data["linked_at"], rule, emit)


CALL_EVENTS = ("ticket.registered", "ticket.linked")


def replay_calls(session: Session, rule: SpikeRule,
                 decode: Callable[[dict[str, Any]], Event], page: int = 5000) -> int:
    """Rebuild ``ticket_term`` from the event log's calls and find the spikes they make, in
    the order the calls were logged, each call seeing only the calls logged before it — as
    live, so the same alerts are found (the live path's :func:`check_spikes`, computed here in
    memory: a rebuild must not cost SQL per call). Alerts already raised are kept (with their
    acknowledgement); one that was lost is recorded again; none is announced. Returns the calls
    replayed. Part of ``replay.replay`` (``hotline reporting rebuild``)."""
    from sqlalchemy import delete

    from services.reporting.models import EventLog

    session.flush()
    session.execute(delete(TicketTerm))
    known = {a.matter_key: a.raised_at for a in session.scalars(select(HotspotAlert))}
    raised: dict[str, list[datetime]] = {}
    for key, at in known.items():
        raised.setdefault(key.split("@", 1)[0], []).append(at)
    matters: dict[str, Matter] = {}  # ticket_no → its matter, once its registration is seen
    seen: dict[str, list[tuple[datetime, str]]] = {}  # matter key → its calls so far, sorted
    terms_rows: list[dict[str, Any]] = []
    w = rule.window
    log = EventLog.__table__
    last_id = n = 0
    while True:
        rows = session.execute(select(log.c.id, log.c.envelope)
                               .where(log.c.id > last_id, log.c.type.in_(CALL_EVENTS))
                               .order_by(log.c.id).limit(page)).all()
        if not rows:
            break
        last_id = rows[-1].id
        for r in rows:
            n += 1
            event = decode(r.envelope)
            d = event.data
            if event.type == "ticket.registered":
                if d.get("confidential"):
                    continue
                terms = keywords(d.get("title"))
                at = d["registered_at"]
                day = day_number(business_day(at))
                terms_rows += [{"ticket_no": d["ticket_no"], "term": t, "position": i, "at": at,
                                "day": day, "category": d.get("category"),
                                "territory_code": d.get("territory_code")}
                               for i, t in enumerate(terms)]
                if not terms or not d.get("territory_code") or not d.get("category"):
                    continue
                matter = matters[d["ticket_no"]] = Matter(
                    d["territory_code"], d["category"], tuple(terms[:MATTER_TERMS]))
            else:
                found = matters.get(d["ticket_no"])
                if found is None:
                    continue
                matter, at = found, d["linked_at"]
            calls = seen.setdefault(matter.key, [])
            insort(calls, (at, d["ticket_no"]))
            window = [c for c in calls if at - w < c[0] <= at + w]
            alerts = raised.setdefault(matter.key, [])
            near = [t for t in alerts if at - 2 * w < t < at + 2 * w]
            for spike in detect(window, at, near, rule):
                key = matter.alert_key(spike.at)
                alerts.append(spike.at)
                if key in known:
                    continue
                known[key] = spike.at
                session.add(HotspotAlert(
                    matter_key=key, category=matter.category,
                    territory_code=matter.territory_code, terms=list(matter.terms),
                    calls=len(spike.calls),
                    ticket_nos=list(dict.fromkeys(no for _, no in spike.calls)),
                    window_start=spike.at - w, window_end=spike.at, raised_at=spike.at))
    insert_rows(session, cast(Table, TicketTerm.__table__), terms_rows)
    session.flush()
    return n


def store_terms(session: Session, ticket_no: str, title: str | None, at: datetime,
                category: str | None, territory_code: str | None) -> list[str]:
    """Replace the order's keywords (a redelivered registration writes the same rows)."""
    terms = keywords(title)
    session.execute(_DELETE_TERMS, {"ticket_no": ticket_no})
    day = day_number(business_day(at))
    if terms:
        session.execute(_INSERT_TERM, [
            {"ticket_no": ticket_no, "term": t, "position": i, "at": at, "day": day,
             "category": category, "territory_code": territory_code}
            for i, t in enumerate(terms)])
    return terms


# -- spikes --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Matter:
    """One matter in one place: (territory, the title's leading keywords, category)."""

    territory_code: str
    category: str
    terms: tuple[str, ...]

    @property
    def key(self) -> str:
        """A short stable identifier (the prefix of its alerts' ``matter_key``)."""
        raw = "|".join((self.territory_code, self.category, "+".join(self.terms)))
        return hashlib.sha1(raw.encode()).hexdigest()[:16]

    def alert_key(self, raised_at: datetime) -> str:
        return f"{self.key}@{raised_at.astimezone(UTC):%Y%m%dT%H%M%S%f}"


def matter_of(session: Session, ticket_no: str) -> Matter | None:
    """The order's matter; None for an order without keywords, place or category (and so for
    every 涉密 order, which has no keywords)."""
    rows = session.execute(_MATTER_OF, {"ticket_no": ticket_no}).all()
    if not rows or not rows[0].territory_code or not rows[0].category:
        return None
    return Matter(rows[0].territory_code, rows[0].category, tuple(r.term for r in rows))


def _matter_sql(linked: bool, two_terms: bool) -> Any:
    """The calls of one matter in (lo, hi]: registrations, or repeat calls linked to its
    orders. Plain SQL, compiled once (this runs at every call the consumer receives)."""
    at = "l.linked_at" if linked else "f.at"
    source = "link_fact l JOIN ticket_term f ON f.ticket_no = l.ticket_no" if linked else (
        "ticket_term f")
    second = "s.term = :t2" if two_terms else "s.term IS NULL"
    return text(
        f"SELECT {at} AS at, f.ticket_no AS ticket_no FROM {source} "
        "LEFT JOIN ticket_term s ON s.ticket_no = f.ticket_no AND s.position = 1 "
        "WHERE f.position = 0 AND f.term = :t1 AND f.territory_code = :territory "
        f"AND f.category = :category AND {second} AND {at} > :lo AND {at} <= :hi"
    ).bindparams(bindparam("lo", type_=UtcDateTime()), bindparam("hi", type_=UtcDateTime())
                 ).columns(at=UtcDateTime(), ticket_no=String())


_MATTER_CALLS = {(linked, two): _matter_sql(linked, two)
                 for linked in (False, True) for two in (False, True)}
_DELETE_TERMS = text("DELETE FROM ticket_term WHERE ticket_no = :ticket_no")
_INSERT_TERM = text(
    "INSERT INTO ticket_term (ticket_no, term, position, at, day, category, territory_code) "
    "VALUES (:ticket_no, :term, :position, :at, :day, :category, :territory_code)"
).bindparams(bindparam("at", type_=UtcDateTime()))
_MATTER_OF = text(
    "SELECT term, territory_code, category FROM ticket_term WHERE ticket_no = :ticket_no "
    f"AND position < {MATTER_TERMS} ORDER BY position")
_RAISED = text(
    "SELECT raised_at FROM hotspot_alert WHERE raised_at > :lo AND raised_at < :hi "
    "AND matter_key LIKE :prefix"
).bindparams(bindparam("lo", type_=UtcDateTime()), bindparam("hi", type_=UtcDateTime())
             ).columns(raised_at=UtcDateTime())


def matter_calls(session: Session, matter: Matter, after: datetime,
                 until: datetime) -> list[tuple[datetime, str]]:
    """Every call of ``matter`` in ``(after, until]``: ``(at, ticket_no)`` in time order."""
    params = {"t1": matter.terms[0], "t2": matter.terms[-1], "territory": matter.territory_code,
              "category": matter.category, "lo": after, "hi": until}
    two = len(matter.terms) > 1
    calls = [(r.at, r.ticket_no) for linked in (False, True)
             for r in session.execute(_MATTER_CALLS[(linked, two)], params)]
    return sorted(calls)


@dataclass(frozen=True)
class Spike:
    at: datetime  # the call that reached the threshold: the window is (at − W, at]
    calls: tuple[tuple[datetime, str], ...]


def detect(calls: Sequence[tuple[datetime, str]], since: datetime,
           raised: Iterable[datetime], rule: SpikeRule) -> list[Spike]:
    """Spikes ending at a call at or after ``since`` (the call just projected).

    ``calls``: the matter's calls in (since − W, since + W), sorted; ``raised``: the times of
    its alerts already recorded. A window (e − W, e] ending at a call e qualifies with ≥
    ``rule.calls`` calls; it is raised unless an alert of the matter lies within W of e. The
    windows ending at later calls are checked too: a call that arrives late (its event after
    later ones) can complete a window that ends at a call already projected.
    """
    times = [at for at, _ in calls]
    alerts = sorted(raised)
    found: list[Spike] = []
    for i in range(bisect_left(times, since), len(times)):
        end = times[i]
        if i + 1 < len(times) and times[i + 1] == end:
            continue  # several calls at one instant: the window ends after the last of them
        lo = bisect_right(times, end - rule.window)
        if i + 1 - lo < rule.calls:
            continue
        if any(abs(r - end) < rule.window for r in alerts):
            continue
        found.append(Spike(end, tuple(calls[lo:i + 1])))
        alerts.append(end)
    return found


def check_spikes(session: Session, ticket_no: str, at: datetime, rule: SpikeRule,
                 emit: Emit | None) -> list[HotspotAlert]:
    """Record (and, live, announce) the spikes the call at ``at`` to ``ticket_no`` completes."""
    session.flush()  # the facts this event added (its link_fact row) are read by plain SQL
    matter = matter_of(session, ticket_no)
    if matter is None:
        return []
    w = rule.window
    calls = matter_calls(session, matter, at - w, at + w)
    raised = [r.raised_at for r in session.execute(
        _RAISED, {"lo": at - 2 * w, "hi": at + 2 * w, "prefix": matter.key + "@%"})]
    made: list[HotspotAlert] = []
    for spike in detect(calls, at, raised, rule):
        key = matter.alert_key(spike.at)
        if session.scalar(select(HotspotAlert.id).where(HotspotAlert.matter_key == key)):
            continue
        ticket_nos = list(dict.fromkeys(no for _, no in spike.calls))
        alert = HotspotAlert(matter_key=key, category=matter.category,
                             territory_code=matter.territory_code, terms=list(matter.terms),
                             calls=len(spike.calls), ticket_nos=ticket_nos,
                             window_start=spike.at - w, window_end=spike.at,
                             raised_at=spike.at)
        session.add(alert)
        session.flush()
        made.append(alert)
        if emit is not None:
            emit("hotspot.spike_detected", {
                "alert_id": alert.id, "category": alert.category,
                "territory_code": alert.territory_code, "terms": alert.terms,
                "calls": alert.calls, "ticket_nos": alert.ticket_nos,
                "window_start": alert.window_start, "window_end": alert.window_end,
                "at": alert.raised_at})
    return made


# -- top lists -----------------------------------------------------------------------------------

def _share(n: int, total: int) -> float | None:
    return round(n / total, 4) if total else None


def top_lists(session: Session, start: datetime, end: datetime,
              limit: int = DEFAULT_TOP_LIMIT) -> dict[str, Any]:
    """Top categories, places and keywords of the calls in ``[start, end)``.

    Calls: registrations and linked repeat calls (a linked call counts for its order's
    category, place and keywords). 涉密 orders are left out of every list and of the total.
    """
    shown = and_(TicketFact.confidential.is_(False), TicketFact.registered_at.is_not(None))
    categories: Counter[str | None] = Counter()
    places: Counter[str | None] = Counter()
    reg = (select(TicketFact.category, TicketFact.territory_code, func.count())
           .where(shown, TicketFact.registered_at >= start, TicketFact.registered_at < end)
           .group_by(TicketFact.category, TicketFact.territory_code))
    linked = (select(TicketFact.category, TicketFact.territory_code, func.count())
              .select_from(LinkFact).join(TicketFact, TicketFact.ticket_no == LinkFact.ticket_no)
              .where(shown, LinkFact.linked_at >= start, LinkFact.linked_at < end)
              .group_by(TicketFact.category, TicketFact.territory_code))
    for query in (reg, linked):
        for category, territory, n in session.execute(query):
            categories[category] += n
            places[territory] += n
    total = sum(categories.values())

    terms: Counter[str] = Counter()
    days = (TicketTerm.day >= day_number(business_day(start)),
            TicketTerm.day <= day_number(business_day(end)))
    for term, n in session.execute(
            select(TicketTerm.term, func.count())
            .where(*days, TicketTerm.at >= start, TicketTerm.at < end)
            .group_by(TicketTerm.term)):
        terms[term] += n
    for term, n in session.execute(
            select(TicketTerm.term, func.count()).select_from(LinkFact)
            .join(TicketTerm, TicketTerm.ticket_no == LinkFact.ticket_no)
            .where(LinkFact.linked_at >= start, LinkFact.linked_at < end)
            .group_by(TicketTerm.term)):
        terms[term] += n

    def ranked(counter: Counter[Any]) -> list[tuple[Any, int]]:
        # most calls first; ties by key, so the lists are stable
        return sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0] or "")))[:limit]

    return {
        "total_calls": total,
        "categories": [{"category": c, "category_label": CATEGORIES.get(c or "", c or "未分类"),
                        "calls": n, "share": _share(n, total)} for c, n in ranked(categories)],
        "places": [{"territory_code": t, "calls": n, "share": _share(n, total)}
                   for t, n in ranked(places)],
        "keywords": [{"term": t, "calls": n, "share": _share(n, total)}
                     for t, n in ranked(terms)],
    }


# -- alerts --------------------------------------------------------------------------------------

ALERT_STATUSES = ("open", "acknowledged", "all")


def alert_dict(a: HotspotAlert) -> dict[str, Any]:
    return {
        "id": a.id, "category": a.category,
        "category_label": CATEGORIES.get(a.category or "", a.category),
        "territory_code": a.territory_code, "terms": list(a.terms), "calls": a.calls,
        "ticket_nos": list(a.ticket_nos), "window_start": a.window_start.isoformat(),
        "window_end": a.window_end.isoformat(), "raised_at": a.raised_at.isoformat(),
        "status": "acknowledged" if a.acknowledged_at else "open",
        "acknowledged_at": a.acknowledged_at.isoformat() if a.acknowledged_at else None,
        "acknowledged_by": a.acknowledged_by,
    }


def list_alerts(session: Session, status: str, limit: int, offset: int) -> dict[str, Any]:
    query = select(HotspotAlert)
    if status == "open":
        query = query.where(HotspotAlert.acknowledged_at.is_(None))
    elif status == "acknowledged":
        query = query.where(HotspotAlert.acknowledged_at.is_not(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(HotspotAlert.raised_at.desc(), HotspotAlert.id.desc())
                           .limit(limit).offset(offset))
    return {"status": status, "total": total, "alerts": [alert_dict(a) for a in rows]}

