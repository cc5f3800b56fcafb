"""The ``kpi_cube`` aggregate: the sums of every order's KPI sample items (``metrics.py``).

Maintained per order: an event changes one order's facts; its contributions before and after
are computed by the same :func:`metrics.contributions` and the difference is applied as upserts
``n = n + delta`` (:func:`refresh_tickets`). :func:`rebuild_cube` recomputes the whole cube from
the facts in bulk with the same function, so live maintenance and rebuilds agree.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import delete, insert, select, text, union
from sqlalchemy.orm import Session

from services.reporting import metrics
from services.reporting.models import (
    AssignmentFact,
    CallbackFact,
    KpiCube,
    LinkFact,
    ReturnFact,
    TicketFact,
)

_CHUNK = 900  # IN-list size (SQLite's variable limit is generous, but keep statements small)

_UPSERT = text(
    "INSERT INTO kpi_cube (metric, dimension, group_key, day_a, day_b, good, n) "
    "VALUES (:metric, :dimension, :group_key, :day_a, :day_b, :good, :n) "
    "ON CONFLICT (metric, dimension, group_key, day_a, day_b, good) "
    "DO UPDATE SET n = kpi_cube.n + excluded.n")

_FACT_TABLES = (AssignmentFact, CallbackFact, ReturnFact, LinkFact)


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class OrderFacts:
    """One order's facts as the definitions read them."""

    __slots__ = ("ticket", "assignments", "callbacks", "returns", "links")

    def __init__(self) -> None:
        self.ticket: Any = None
        self.assignments: list[Any] = []
        self.callbacks: list[Any] = []
        self.returns: list[Any] = []
        self.links: list[Any] = []

    def contributions(self) -> Counter[metrics.Key]:
        return metrics.contributions(self.ticket, self.assignments, self.callbacks,
                                     self.returns, self.links)


def _group(by_ticket: dict[str, OrderFacts], rows: Iterable[Any], attr: str) -> None:
    for row in rows:
        getattr(by_ticket[row.ticket_no], attr).append(row)


def load_facts(session: Session, ticket_nos: Iterable[str]) -> dict[str, OrderFacts]:
    """The facts of these orders, in a few queries (rows, not ORM objects)."""
    nos = sorted(set(ticket_nos))
    out: dict[str, OrderFacts] = defaultdict(OrderFacts)
    for part in _chunks(nos):
        for t in session.execute(select(TicketFact.__table__)
                                 .where(TicketFact.ticket_no.in_(part))):
            out[t.ticket_no].ticket = t
        for model, attr in ((AssignmentFact, "assignments"), (CallbackFact, "callbacks"),
                            (ReturnFact, "returns"), (LinkFact, "links")):
            table: Any = model.__table__
            _group(out, session.execute(select(table).where(table.c.ticket_no.in_(part))), attr)
    return out


def _range_facts(session: Session, lo: str, hi: str) -> dict[str, OrderFacts]:
    """The facts of the orders numbered lo … hi (inclusive), by range scans."""
    out: dict[str, OrderFacts] = defaultdict(OrderFacts)
    t_table: Any = TicketFact.__table__
    for t in session.execute(select(t_table).where(t_table.c.ticket_no >= lo,
                                                   t_table.c.ticket_no <= hi)):
        out[t.ticket_no].ticket = t
    for model, attr in ((AssignmentFact, "assignments"), (CallbackFact, "callbacks"),
                        (ReturnFact, "returns"), (LinkFact, "links")):
        table: Any = model.__table__
        _group(out, session.execute(select(table).where(table.c.ticket_no >= lo,
                                                        table.c.ticket_no <= hi)), attr)
    return out


def contributions_for(session: Session, ticket_nos: Iterable[str]) -> Counter[metrics.Key]:
    """The current contributions of these orders (call before changing their facts)."""
    session.flush()
    total: Counter[metrics.Key] = Counter()
    for facts in load_facts(session, ticket_nos).values():
        total.update(facts.contributions())
    return total


def apply_delta(session: Session, delta: Counter[metrics.Key]) -> int:
    """Upsert ``n = n + delta`` for every changed cube cell; returns the number of cells."""
    rows = [{"metric": k[0], "dimension": k[1], "group_key": k[2], "day_a": k[3], "day_b": k[4],
             "good": k[5], "n": n} for k, n in delta.items() if n]
    if rows:
        session.execute(_UPSERT, rows)
    return len(rows)


def refresh_tickets(session: Session, ticket_nos: Iterable[str],
                    before: Counter[metrics.Key]) -> int:
    """Apply the change of these orders' contributions since ``before`` (from
    :func:`contributions_for`, taken before their facts changed) to the cube."""
    after = contributions_for(session, ticket_nos)
    delta: Counter[metrics.Key] = Counter(after)
    delta.subtract(before)
    return apply_delta(session, delta)


def _all_ticket_nos(session: Session) -> list[str]:
    q = union(*(select(m.ticket_no) for m in (TicketFact, *_FACT_TABLES)))  # type: ignore[attr-defined]
    return [r[0] for r in session.execute(q.order_by(text("1")))]


def rebuild_cube(session: Session, chunk: int = 5000) -> int:
    """Empty the cube and recompute it from every order's facts (in ticket-number ranges,
    bulk inserted). Returns the number of cube rows written."""
    session.flush()
    session.execute(delete(KpiCube))
    nos = _all_ticket_nos(session)
    total: Counter[metrics.Key] = Counter()
    for i in range(0, len(nos), chunk):
        part = nos[i:i + chunk]
        for facts in _range_facts(session, part[0], part[-1]).values():
            total.update(facts.contributions())
    rows = [{"metric": k[0], "dimension": k[1], "group_key": k[2], "day_a": k[3],
             "day_b": k[4], "good": k[5], "n": n} for k, n in total.items() if n]
    for i in range(0, len(rows), 10000):
        session.execute(insert(KpiCube), rows[i:i + 10000])
    return len(rows)


# which events can change an order's KPI contributions (the others only feed other facts)
KPI_EVENTS = frozenset({
    "ticket.registered", "ticket.resolved_at_intake", "ticket.dispatched",
    "ticket.callback_recorded", "ticket.reopened", "ticket.linked", "ticket.closed",
    "ticket.recalled", "assignment.clocks_started", "assignment.signed", "assignment.replied",
    "ticket.overdue", "assignment.extension_decided", "assignment.passed_down",
    "assignment.return_decided", "assignment.return_withdrawn",
})


def affected_ticket(event_type: str, ticket_no: str | None,
                    data: dict[str, Any]) -> str | None:
    """The order whose KPI contributions an event may change (None: none)."""
    if event_type not in KPI_EVENTS:
        return None
    no = ticket_no or data.get("ticket_no")
    return str(no) if no else None
