"""Reporting's hotspot entrypoints (热点) with a real migrated database (SQLite and PostgreSQL)
and no broker: events go through ``on_any_event`` as the consumer receives them; what it
announces is read from the outbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from services.reporting.models import HotspotAlert, ReportingAudit
from services.reporting.service import ReportingService
from shared.database import Database
from shared.errors import Conflict, Forbidden, Invalid, NotFound
from shared.events import Event, load_envelope, make_envelope
from shared.migrations import metadata_of
from tests.service.conftest import Worker, outbox

PLACE = "310101001"
SETTINGS = {"HOTSPOTS": {"SPIKE_CALLS": 4, "SPIKE_WINDOW_MINUTES": 30, "MAX_WINDOW_DAYS": 92}}
CENTER = {"role": "supervisor", "department_code": None, "via": "token"}


def registered(no: str, at: datetime, title: str = "滨江路路灯不亮", territory: str = PLACE,
               category: str = "complaint", confidential: bool = False) -> Event:
    return load_envelope(make_envelope("ticket.registered", {
        "ticket_no": no, "registered_at": at, "channel": "phone", "category": category,
        "urgency": "normal", "title": title, "content": "c", "territory_code": territory,
        "confidential": confidential}, producer="intake", ticket_no=no, sequence=1))


def linked(no: str, link_id: int, at: datetime) -> Event:
    return load_envelope(make_envelope("ticket.linked", {
        "ticket_no": no, "link_id": link_id, "linked_at": at, "content": "c",
        "channel": "phone", "agent": "a", "reason": "similar_matter"},
        producer="intake", ticket_no=no))


@pytest.fixture
def reporting(backend: str, migrate: Any) -> Iterator[tuple[Any, Database]]:
    url = migrate("reporting")
    db = Database.standalone(metadata_of("reporting"), url, "reporting")
    yield Worker(ReportingService, db, consumer="reporting.on_any_event", settings=SETTINGS), db
    db.engine.dispose()


def spikes(db: Database) -> list[dict[str, Any]]:
    return [e["data"] for e in outbox(db) if e["type"] == "hotspot.spike_detected"]


def alerts(db: Database) -> list[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        return [(r.matter_key, r.calls, tuple(r.ticket_nos), r.window_start, r.window_end,
                 r.raised_at) for r in conn.execute(select(HotspotAlert)
                                                   .order_by(HotspotAlert.raised_at))]


T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


class TestSpikes:
    def test_raised_once_at_the_nth_call_including_repeat_calls(self, reporting: Any) -> None:
        w, db = reporting
        w.on_any_event(registered("A1", minutes(0)))
        w.on_any_event(registered("A2", minutes(5)))
        w.on_any_event(linked("A1", 1, minutes(10)))
        assert spikes(db) == []
        w.on_any_event(registered("A3", minutes(20)))  # the 4th call in 30 minutes
        w.on_any_event(registered("A4", minutes(25)))  # same window: no second alert
        w.on_any_event(registered("A4", minutes(25)))  # redelivered: nothing more
        [spike] = spikes(db)
        assert spike["calls"] == 4 and spike["ticket_nos"] == ["A1", "A2", "A3"]
        assert spike["terms"] == ["滨江路", "路灯"] and spike["territory_code"] == PLACE
        assert spike["category"] == "complaint"
        assert spike["window_end"] == minutes(20).isoformat()
        assert spike["window_start"] == minutes(-10).isoformat()
        listed = w.hotspot_alerts({}, CENTER)
        assert listed["total"] == 1 and listed["alerts"][0]["id"] == spike["alert_id"]
        assert listed["alerts"][0]["status"] == "open"

    def test_not_for_calls_spread_beyond_the_window(self, reporting: Any) -> None:
        w, db = reporting
        for i, m in enumerate((0, 11, 22, 33, 44, 55)):  # any 30 minutes hold at most 3
            w.on_any_event(registered(f"S{i}", minutes(m)))
        assert spikes(db) == [] and alerts(db) == []

    def test_not_across_places_categories_or_other_matters(self, reporting: Any) -> None:
        w, db = reporting
        w.on_any_event(registered("P1", minutes(0)))
        w.on_any_event(registered("P2", minutes(1), territory="310101002"))
        w.on_any_event(registered("P3", minutes(2), category="help"))
        w.on_any_event(registered("P4", minutes(3), title="幸福小区停水"))
        w.on_any_event(registered("P5", minutes(4), confidential=True))
        w.on_any_event(registered("P6", minutes(5)))
        w.on_any_event(registered("P7", minutes(6)))
        assert spikes(db) == []
        w.on_any_event(registered("P8", minutes(7)))
        assert [s["ticket_nos"] for s in spikes(db)] == [["P1", "P6", "P7", "P8"]]

    def test_a_later_surge_raises_a_new_alert(self, reporting: Any) -> None:
        w, db = reporting
        for i in range(6):
            w.on_any_event(registered(f"F{i}", minutes(i)))
        for i in range(4):
            w.on_any_event(registered(f"G{i}", minutes(40 + i)))
        got = spikes(db)
        assert [s["window_end"] for s in got] == [minutes(3).isoformat(), minutes(43).isoformat()]
        assert got[1]["ticket_nos"] == ["G0", "G1", "G2", "G3"]
        assert len({a[0] for a in alerts(db)}) == 2

    def test_replay_finds_the_same_alerts_and_announces_none(self, reporting: Any) -> None:
        w, db = reporting
        events = [registered(f"R{i}", minutes(i * 2)) for i in range(5)]
        events += [linked("R0", 9, minutes(12)), registered("R9", minutes(11))]  # out of order
        events += [registered(f"Q{i}", minutes(50 + i)) for i in range(4)]
        for e in events:
            w.on_any_event(e)
        live, announced = alerts(db), len(outbox(db))
        assert len(live) == 2
        acked = w.acknowledge_hotspot(w.hotspot_alerts({}, CENTER)["alerts"][0]["id"],
                                      {}, "supervisor1", CENTER)
        w.rebuild()
        assert alerts(db) == live and len(outbox(db)) == announced
        assert w.hotspot_alerts({"status": "acknowledged"}, CENTER)["alerts"] == [acked]
        with db.engine.begin() as conn:  # alerts lost: replay records them again, silently
            conn.execute(delete(HotspotAlert))
        w.rebuild()
        assert alerts(db) == live and len(outbox(db)) == announced


class TestTopAndAlerts:
    def test_top_lists_by_hours_period_and_range(self, reporting: Any) -> None:
        w, _ = reporting
        w.on_any_event(registered("A1", minutes(0)))
        w.on_any_event(registered("A2", minutes(1), title="幸福小区停水", category="help"))
        w.on_any_event(registered("S1", minutes(2), title="涉密举报", territory="310101009",
                                  confidential=True))
        got = w.hotspot_top({"hours": "6"}, CENTER)
        assert got["total_calls"] == 2 and got["window"]["kind"] == "hours"
        assert [p["territory_code"] for p in got["places"]] == [PLACE]
        assert {k["term"] for k in got["keywords"]} >= {"路灯", "停水"}
        assert "涉密" not in {k["term"] for k in got["keywords"]}
        assert w.hotspot_top({"hours": "1"}, CENTER)["total_calls"] == 0
        day = T0.astimezone(UTC).date().isoformat()
        by_range = w.hotspot_top({"from": day, "to": day}, CENTER)
        assert by_range["window"]["kind"] == "custom"
        month = w.hotspot_top({"period": f"{T0:%Y-%m}"}, CENTER)
        assert month["window"]["kind"] == "month"

    @pytest.mark.parametrize("query,field", [
        ({"period": "2026-13"}, "period"), ({"period": "bogus"}, "period"),
        ({"period": "2026"}, "period"), ({"hours": "9999"}, "hours"),
        ({"from": "2026-01-01", "to": "2026-12-31"}, "to"), ({"to": "2026-01-01"}, "from"),
        ({"hours": "0"}, "hours"), ({"hours": "2", "period": "2026-11"}, "hours"),
        ({"limit": "500"}, "limit")])
    def test_bad_windows_name_the_field(self, reporting: Any, query: dict[str, str],
                                        field: str) -> None:
        w, _ = reporting
        with pytest.raises(Invalid) as err:
            w.hotspot_top(query, CENTER)
        assert field in err.value.details["fields"]

    def test_acknowledge_once_audited_and_center_only(self, reporting: Any) -> None:
        w, db = reporting
        for i in range(4):
            w.on_any_event(registered(f"K{i}", minutes(i)))
        [alert] = w.hotspot_alerts({"status": "open"}, CENTER)["alerts"]
        dept = {"role": "department", "department_code": "chengguan", "via": "token"}
        with pytest.raises(Forbidden):
            w.hotspot_alerts({}, dept)
        with pytest.raises(Forbidden):
            w.acknowledge_hotspot(alert["id"], {}, "dept1", dept)
        got = w.acknowledge_hotspot(alert["id"], {"note": "已通知街道"}, "supervisor1", CENTER)
        assert got["status"] == "acknowledged" and got["acknowledged_by"] == "supervisor1"
        with pytest.raises(Conflict):
            w.acknowledge_hotspot(alert["id"], {}, "supervisor2", CENTER)
        with pytest.raises(NotFound):
            w.acknowledge_hotspot(alert["id"] + 100, {}, "supervisor1", CENTER)
        assert w.hotspot_alerts({"status": "open"}, CENTER)["alerts"] == []
        with db.engine.connect() as conn:
            [audit] = conn.execute(select(ReportingAudit)).all()
        assert audit.action == "hotspot.acknowledged" and audit.actor == "supervisor1"
        assert audit.detail["note"] == "已通知街道"
        with pytest.raises(Invalid) as err:
            w.hotspot_alerts({"status": "closed"}, CENTER)
        assert "status" in err.value.details["fields"]
