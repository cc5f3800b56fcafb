"""Reporting's consumer, KPI and board RPCs with a real database (SQLite and PostgreSQL), no
broker: events go through ``on_any_event`` as delivered by the bus."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.reporting.service import ReportingService
from shared.business_time import business_day
from shared.database import Database
from shared.errors import Invalid
from shared.events import load_envelope, make_envelope
from shared.migrations import metadata_of
from tests.kpi_world import History, utc
from tests.service.conftest import Worker


def ev(event_type: str, no: str, seq: int, **data: Any) -> Any:
    return load_envelope(make_envelope(event_type, data, producer="x", ticket_no=no, sequence=seq))


@pytest.fixture
def reporting(database_urls: dict[str, str], migrate: Any) -> Any:
    url = migrate("reporting")
    db = Database.standalone(metadata_of("reporting"), url, "reporting")
    yield Worker(ReportingService, db, consumer="reporting.on_any_event"), db
    db.engine.dispose()


def november(worker: Any) -> History:
    """Three orders in November 2026: CG late (breach reported), CG on time with a satisfied
    callback, JT returned (approved) and re-dispatched to GA; one linked call."""
    h = History()
    h.register("T1", utc(11, 2, 1))
    [a] = h.dispatch("T1", utc(11, 2, 1), "CG", handle_days=2)
    h.sign("T1", a, "CG", utc(11, 2, 2))
    h.overdue("T1", a, "CG", "handle", utc(11, 4, 1))
    h.reply("T1", a, "CG", utc(11, 5, 1))
    h.register("T2", utc(11, 3, 1), category="help")
    [b] = h.dispatch("T2", utc(11, 3, 1), "CG", handle_days=5)
    h.sign("T2", b, "CG", utc(11, 3, 4))
    h.reply("T2", b, "CG", utc(11, 6, 1))
    h.callback("T2", utc(11, 7, 1), solved=True, satisfaction="satisfied")
    h.close("T2", utc(11, 7, 2))
    h.register("T3", utc(11, 3, 2), channel="web")
    [c] = h.dispatch("T3", utc(11, 3, 2), "JT")
    rid = h.request_return("T3", c, "JT", utc(11, 3, 3))
    h.decide_return("T3", rid, c, "JT", utc(11, 4, 3), approved=True)
    h.dispatch("T3", utc(11, 4, 4), "GA", round=2)
    h.link("T1", utc(11, 3, 5))
    for e in h.events:
        worker.on_any_event(e)
        worker.on_any_event(e)  # redelivered: no second effect
    return h


def by_group(report: dict[str, Any]) -> dict[str, Any]:
    return {r["group"]: r for r in report["rows"]}


def test_each_event_counts_once_and_rebuild_gives_the_same_figures(reporting: Any) -> None:
    worker, _ = reporting
    now = datetime.now(UTC)
    today = business_day(now).isoformat()
    for i in range(3):
        no = f"2026112300090{i}"
        registered = ev("ticket.registered", no, 1, ticket_no=no, registered_at=now,
                        channel="phone", category="help", urgency="normal", title="t",
                        content="c", confidential=False)
        worker.on_any_event(registered)
        worker.on_any_event(registered)  # redelivered: no second effect
        worker.on_any_event(ev("ticket.dispatched", no, 2, ticket_no=no, dispatched_at=now,
                               actor="s", round=1, category="help", urgency="normal",
                               assignments=[{"assignment_id": i, "department_code": "d1",
                                             "role": "lead"}]))
    before = worker.kpis({"from": today, "to": today, "group_by": "department"})
    [row] = before["rows"]
    assert (row["group"], row["intake"], row["dispatched"], row["closed"]) == ("d1", 3, 3, 0)
    assert row["on_time_sign"] == {"rate": None, "numerator": 0, "sample": 0}
    assert worker.event_counts() == {"ticket.registered": 3, "ticket.dispatched": 3}
    result = worker.rebuild()
    assert result["events_replayed"] == 6 and result["events_per_second"] > 0
    after = worker.kpis({"from": today, "to": today, "group_by": "department"})
    assert {**after, "as_of": None} == {**before, "as_of": None}


def test_rebuild_writes_any_text_back_unchanged(reporting: Any) -> None:
    # the rebuild's bulk writes: COPY's text format on PostgreSQL escapes backslash, tab and
    # newlines and writes NULL as \N; the SQLite path converts by the column types
    from sqlalchemy import select

    from services.reporting.models import TicketFact

    worker, db = reporting
    now = datetime.now(UTC)
    title = "路灯\t不亮\n第二行\\N 反斜杠\\ 与 \r 回车"
    worker.on_any_event(ev("ticket.registered", "202611230091", 1, ticket_no="202611230091",
                           registered_at=now, channel="phone", category="help",
                           urgency="normal", title=title, content="c", confidential=False))
    worker.on_any_event(ev("ticket.registered", "202611230092", 1, ticket_no="202611230092",
                           registered_at=now, channel="phone", category="help",
                           urgency="normal", title="", content="c", confidential=False,
                           territory_code=None))

    def facts() -> list[tuple[Any, ...]]:
        with db.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(
                TicketFact.ticket_no, TicketFact.title, TicketFact.territory_code,
                TicketFact.registered_at, TicketFact.confidential).order_by(TicketFact.ticket_no))]

    live = facts()
    assert live[0][1] == title and live[1][2] is None
    assert worker.rebuild()["events_replayed"] == 2
    assert facts() == live


def test_kpis_by_period_and_range_with_samples(reporting: Any) -> None:
    worker, _ = reporting
    november(worker)
    r = worker.kpis({"period": "2026-11", "group_by": "department"})
    assert r["period"]["key"] == "2026-11" and (r["from"], r["to"]) == ("2026-11-01",
                                                                        "2026-11-30")
    rows = by_group(r)
    assert set(rows) == {"CG", "GA", "JT"}
    cg, jt = rows["CG"], rows["JT"]
    assert (cg["intake"], cg["dispatched"], cg["overdue"]) == (2, 2, 1)
    assert cg["on_time_completion"] == {"rate": 0.5, "numerator": 1, "sample": 2}
    assert cg["on_time_sign"] == {"rate": 0.5, "numerator": 1, "sample": 2}
    assert cg["repeat_calls"] == {"rate": 0.3333, "numerator": 1, "sample": 3}
    assert cg["three_rates"]["satisfaction"] == {"rate": 1.0, "numerator": 1, "sample": 1}
    assert jt["return_rate"] == {"rate": 1.0, "numerator": 1, "sample": 1}
    assert rows["GA"]["intake"] == 1  # the order's lead is the re-dispatched round's
    assert r["total"]["intake"] == 3
    same = worker.kpis({"from": "2026-11-01", "to": "2026-11-30", "group_by": "department"})
    assert same["rows"] == r["rows"]
    # the assessment quarter 2027Q1 is Dec 2026 – Feb 2027: nothing of November in it
    assert worker.kpis({"period": "2027Q1", "group_by": "none"})["rows"] == []
    day = by_group(worker.kpis({"period": "2026-11-04", "group_by": "department"}))
    assert day["CG"]["overdue"] == 1 and day["JT"]["approved_returns"] == 1
    assert by_group(worker.kpis({"period": "2026-11", "group_by": "channel"}))["web"][
        "group_label"] == "网站"


def test_a_department_viewer_gets_its_own_row(reporting: Any) -> None:
    worker, _ = reporting
    november(worker)
    dept = {"role": "department", "department_code": "CG", "via": "token"}
    r = worker.kpis({"period": "2026-11"}, dept)
    assert [row["group"] for row in r["rows"]] == ["CG"] and r["total"]["intake"] == 2
    assert [row["group"] for row in worker.kpis({"period": "2026-11", "group_by": "none"},
                                                dept)["rows"]] == ["CG"]
    with pytest.raises(Invalid) as err:
        worker.kpis({"period": "2026-11", "group_by": "category"}, dept)
    assert "group_by" in err.value.details["fields"]
    sup = {"role": "supervisor", "department_code": None, "via": "token"}
    assert len(worker.kpis({"period": "2026-11"}, sup)["rows"]) == 3


@pytest.mark.parametrize(("query", "field", "text"), [
    ({"from": "2026-01-01", "to": "2030-01-01"}, "to", "3"),
    ({"from": "2026-11-30", "to": "2026-11-01"}, "to", "before"),
    ({"to": "2026-01-01"}, "from", "from"),
    ({"period": "2026-11", "group_by": "weekday"}, "group_by",
     "department, category, territory, channel, none"),
    ({"period": "2026-13"}, "period", "period"),
    ({"period": "next week"}, "period", "period"),
    ({"period": "2026-11", "from": "2026-11-01"}, "period", "not both"),
    ({"from": "yesterday", "to": "2026-11-01"}, "from", ""),
])
def test_bad_queries_are_422_naming_the_field(reporting: Any, query: dict[str, Any],
                                              field: str, text: str) -> None:
    worker, _ = reporting
    with pytest.raises(Invalid) as err:
        worker.kpis(query)
    fields = err.value.details["fields"]
    assert field in fields
    assert text in " ".join(fields[field])


def test_board(reporting: Any) -> None:
    worker, _ = reporting
    now = datetime.now(UTC)
    h = History()
    h.register("B1", now - timedelta(minutes=30))
    h.dispatch("B1", now - timedelta(minutes=20), "CG", handle_days=-0.01)  # overdue now
    h.register("B2", now - timedelta(minutes=10))
    h.dispatch("B2", now - timedelta(minutes=5), "JT", handle_days=1 / 24)  # due in 55 min
    for e in h.events:
        worker.on_any_event(e)
    board = worker.board()
    assert board["intake_today"] >= 1  # both unless the test runs across midnight Shanghai
    assert (board["overdue_now"], board["due_within_2h"]) == (1, 1)
    assert board["overdue_by_department"] == [{"department_code": "CG", "overdue": 1}]
    assert set(board["three_rates_month"]) == {"response", "resolution", "satisfaction", "score"}
    mine = worker.board({"role": "department", "department_code": "JT", "via": "token"})
    assert (mine["overdue_now"], mine["due_within_2h"]) == (0, 1)


def test_the_cube_and_the_plain_group_by_agree_on_this_database(reporting: Any) -> None:
    import random

    from sqlalchemy.orm import Session

    from services.reporting import cube, kpis, kpis_plain
    from tests.kpi_world import random_history

    worker, db = reporting
    more = History()
    more._ids = dict(november(worker)._ids)  # assignment, return and link ids stay unique
    for e in random_history(random.Random(2), 30, utc(10, 1), span_days=50, history=more).events:
        worker.on_any_event(e)
    now = datetime.now(UTC)
    with Session(db.engine) as s:
        for group_by in ("department", "category", "territory", "channel", "none"):
            for start, end in (((2026, 10, 1), (2026, 12, 31)), ((2026, 11, 3), (2026, 11, 4))):
                a, b = datetime(*start).date(), datetime(*end).date()
                assert kpis.kpi_report(s, a, b, group_by, now) == \
                    kpis_plain.kpi_report(s, a, b, group_by, now)
        live = kpis.kpi_report(s, datetime(2026, 10, 1).date(), datetime(2026, 12, 31).date(),
                               "department", now)
        cube.rebuild_cube(s)
        s.commit()
        assert kpis.kpi_report(s, datetime(2026, 10, 1).date(), datetime(2026, 12, 31).date(),
                               "department", now) == live
