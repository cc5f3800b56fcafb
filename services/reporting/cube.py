"""The ``kpi_cube`` aggregate: the sums of every order's KPI sample items (``metrics.py``).

Maintained per order: an event changes one order's facts; its contributions before and after
are computed by the same :func:`metrics.contributions` and the difference is applied as upserts
``n = n + delta`` (:func:`refresh_tickets`). :func:`rebuild_cube` recomputes the whole cube from
the facts in bulk with the same function, so live maintenance and rebuilds agree.
"""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Boolean, Integer, String, Table, delete, select, text, union
from sqlalchemy.orm import Session

from services.reporting import metrics, projections
from services.reporting.models import (
    AssignmentFact,
    CallbackFact,
    KpiCube,
    LinkFact,
    ReturnFact,
    TicketFact,
)
from shared.events import Event

_CHUNK = 900  # IN-list size (SQLite's variable limit is generous, but keep statements small)

_CUBE_COLUMNS = ("metric", "dimension", "group_key", "day_a", "day_b", "good", "n")
_CUBE_KEY = "metric, dimension, group_key, day_a, day_b, good"
_ADD = "DO UPDATE SET n = kpi_cube.n + excluded.n"
_UPSERT_ONE = text(f"INSERT INTO kpi_cube ({', '.join(_CUBE_COLUMNS)}) VALUES (:metric, "
                   f":dimension, :group_key, :day_a, :day_b, :good, :n) "
                   f"ON CONFLICT ({_CUBE_KEY}) {_ADD}")
_JSON_ROWS = 20000


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _from_json(table: str, columns: Sequence[str]) -> str:
    """PostgreSQL: many rows as one JSON parameter (pg8000's executemany is a round trip per
    row, and a statement with thousands of parameters is slow to build and to parse)."""
    cols = ", ".join(f'"{c}"' for c in columns)
    return (f'INSERT INTO "{table}" ({cols}) SELECT {cols} '
            f'FROM json_populate_recordset(NULL::"{table}", CAST(:rows AS json))')


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

    def sample_items(self) -> Counter[metrics.CompactKey]:
        return metrics.sample_items(self.ticket, self.assignments, self.callbacks,
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
    rows = [dict(zip(_CUBE_COLUMNS, (*k, n), strict=True)) for k, n in delta.items() if n]
    if not rows:
        return 0
    if session.get_bind().dialect.name == "sqlite":
        session.execute(_UPSERT_ONE, rows)
    else:
        sql = text(_from_json("kpi_cube", _CUBE_COLUMNS) + f" ON CONFLICT ({_CUBE_KEY}) {_ADD}")
        for start in range(0, len(rows), _JSON_ROWS):
            session.execute(sql, {"rows": json.dumps(rows[start:start + _JSON_ROWS])})
    return len(rows)


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Bulk insert in the session's transaction (the rows share their keys).

    SQLite: the driver's executemany with tuples converted by each column type's bind
    processor (SQLAlchemy's own executemany builds a parameter dict per row and costs about
    three times as much). PostgreSQL: ``COPY … FROM STDIN`` through pg8000, the project's driver
    (about twice as fast as a JSON record set, which parses every value twice)."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    if dialect.name == "sqlite":
        processors = [(c, table.c[c].type.bind_processor(dialect)) for c in columns]
        sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join("?" for _ in columns)})'
        conn = session.connection()
        for start in range(0, len(rows), 10000):
            conn.exec_driver_sql(sql, [tuple(p(row[c]) if p else row[c] for c, p in processors)
                                       for row in rows[start:start + 10000]])
        return
    cursor: Any = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        formats = [(c, _copy_format(table.c[c].type)) for c in columns]
        for start in range(0, len(rows), _JSON_ROWS):
            buffer = io.StringIO("".join(
                "\t".join([f(row[c]) for c, f in formats]) + "\n"
                for row in rows[start:start + _JSON_ROWS]))
            cursor.execute(f'COPY "{table.name}" ({names}) FROM STDIN', stream=buffer)
    finally:
        cursor.close()


def _copy_int(value: Any) -> str:
    return "\\N" if value is None else str(int(value))


def _copy_text(value: Any) -> str:
    return "\\N" if value is None else str(value).translate(_COPY_ESCAPES)


def _copy_format(column_type: Any) -> Callable[[Any], str]:
    """The COPY formatter of a column: integers and texts directly (the cube's columns, read
    60,000 times per 2,000 orders), anything else through :func:`_copy_value`."""
    if isinstance(column_type, Integer) and not isinstance(column_type, Boolean):
        return _copy_int
    if isinstance(column_type, String):
        return _copy_text
    return _copy_value


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: Any) -> str:
    """One value in COPY's text format (NULL is ``\\N``; backslash, tab and newlines escaped)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, default=_json_default)
    return str(value).translate(_COPY_ESCAPES)


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


_CUBE_INDEXES = ("ix_kpi_cube_a", "ix_kpi_cube_b")


def rebuild_cube(session: Session, chunk: int = 5000) -> int:
    """Empty the cube and recompute it from every order's facts (read in ticket-number ranges;
    the orders' sample items are summed before being spread over the dimensions; the rows are
    inserted in key order with the secondary indexes dropped and built again after). Returns
    the number of cube rows written."""
    session.flush()
    session.execute(delete(KpiCube))
    nos = _all_ticket_nos(session)
    items: Counter[metrics.CompactKey] = Counter()
    for i in range(0, len(nos), chunk):
        part = nos[i:i + chunk]
        for facts in _range_facts(session, part[0], part[-1]).values():
            items.update(facts.sample_items())
    cells = metrics.expand(items)
    rows = [{"metric": k[0], "dimension": k[1], "group_key": k[2], "day_a": k[3],
             "day_b": k[4], "good": k[5], "n": n} for k, n in sorted(cells.items()) if n]
    table = cast(Table, KpiCube.__table__)
    indexes = [ix for ix in table.indexes if ix.name in _CUBE_INDEXES]
    bind = session.connection()
    for ix in indexes:
        ix.drop(bind)
    insert_rows(session, table, rows)
    for ix in indexes:
        ix.create(bind)
    return len(rows)


# which events can change an order's KPI contributions (the others only feed other facts)
KPI_EVENTS = frozenset({
    "ticket.registered", "ticket.resolved_at_intake", "ticket.dispatched",
    "ticket.callback_recorded", "ticket.reopened", "ticket.linked", "ticket.closed",
    "ticket.recalled", "assignment.clocks_started", "assignment.signed", "assignment.replied",
    "ticket.overdue", "assignment.extension_decided", "assignment.passed_down",
    "assignment.return_decided", "assignment.return_withdrawn",
})


def project_event(session: Session, event: Event) -> bool:
    """Apply one event to the facts and the order's change of KPI contributions to the cube
    (the live path; False if no projection uses the event)."""
    ticket_no = affected_ticket(event.type, event.ticket_no, event.data)
    if ticket_no and session.get_bind().dialect.name == "postgresql":
        # one order's events one at a time (consumers run concurrently): the "before" read
        # below must see the facts every earlier event of the order left (SQLite serializes
        # writers already)
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                        {"k": f"kpi:{ticket_no}"})
    before = contributions_for(session, [ticket_no]) if ticket_no else None
    applied = projections.apply(session, event)
    if ticket_no and before is not None:
        refresh_tickets(session, [ticket_no], before)
    return applied


def affected_ticket(event_type: str, ticket_no: str | None,
                    data: dict[str, Any]) -> str | None:
    """The order whose KPI contributions an event may change (None: none)."""
    if event_type not in KPI_EVENTS:
        return None
    no = ticket_no or data.get("ticket_no")
    return str(no) if no else None
