"""Periodic reports 通报 through reporting's RPCs, on SQLite and PostgreSQL, from hand-built
events with known answers: figures, ranking (三率 with the small-sample rule), overdue and
escalated orders, the previous-period comparison, the 批示件汇总, publication freezing the
snapshot (and ``report.published`` once in the outbox), what departments see, and the files
(SVG, CSV, XLSX) rendered from the snapshot.

Real: the reporting database (migrated), its projections and KPI cube. Replaced: the broker
(events are fed to ``on_any_event``; published ones are read from the outbox)."""

from __future__ import annotations

import base64
import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.reporting.service import ReportingService
from shared.database import Database
from shared.errors import Conflict, Invalid, NotFound
from shared.events import load_envelope, make_envelope
from shared.migrations import metadata_of
from tests.service.conftest import Worker, outbox

OCT = datetime(2026, 10, 10, 2, 0, tzinfo=UTC)  # 10:00 on 2026-10-10 in Shanghai
SEP = datetime(2026, 9, 10, 2, 0, tzinfo=UTC)
SIGN_DUE = OCT + timedelta(hours=2)
HANDLE_DUE = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
SECRET_NO = "JZ-2026-SECRET-9"
CENTER = {"role": "supervisor", "department_code": None, "via": "token"}
DEPT = {"role": "department", "department_code": "d1", "via": "token"}


@pytest.fixture
def reporting(database_urls: dict[str, str], migrate: Any) -> Any:
    url = migrate("reporting")
    db = Database.standalone(metadata_of("reporting"), url, "reporting")
    yield Worker(ReportingService, db, consumer="reporting.on_any_event"), db
    db.engine.dispose()


class Feed:
    """Hand-built events, each order's sequence numbered."""

    def __init__(self, worker: Any) -> None:
        self.worker, self.seq, self.next_assignment = worker, {}, 1

    def send(self, event_type: str, no: str | None = None, **data: Any) -> None:
        seq = None
        if no:
            seq = self.seq[no] = self.seq.get(no, 0) + 1
        self.worker.on_any_event(load_envelope(make_envelope(
            event_type, data, producer="test", ticket_no=no, sequence=seq)))

    def order(self, no: str, dept: str, *, at: datetime = OCT, signed_late: bool = False,
              reply: datetime | None = HANDLE_DUE - timedelta(days=5), solved: bool = True,
              rating: str | None = "satisfied", confidential: bool = False,
              breached: bool = False) -> int:
        aid = self.next_assignment
        self.next_assignment += 1
        self.send("ticket.registered", no, ticket_no=no, registered_at=at, channel="phone",
                  category="help", urgency="normal", title="路灯不亮", content="c",
                  confidential=confidential, territory_code="t1")
        if at < OCT:  # last period's orders: registration only
            return aid
        self.send("ticket.dispatched", no, ticket_no=no, dispatched_at=at, actor="s", round=1,
                  category="help", urgency="normal",
                  assignments=[{"assignment_id": aid, "department_code": dept, "role": "lead"}])
        self.send("assignment.clocks_started", no, assignment_id=aid, ticket_no=no,
                  department_code=dept, role="lead", started_at=at, sign_due=SIGN_DUE,
                  handle_due=HANDLE_DUE, policy="p")
        signed = SIGN_DUE + timedelta(hours=1) if signed_late else at + timedelta(hours=1)
        self.send("assignment.signed", no, assignment_id=aid, ticket_no=no, department_code=dept,
                  role="lead", signed_at=signed, actor="u")
        if breached:
            self.send("ticket.overdue", no, ticket_no=no, assignment_id=aid,
                      department_code=dept, clock="handle", due=HANDLE_DUE,
                      at=HANDLE_DUE + timedelta(minutes=1))
        if reply is None:
            return aid
        self.send("assignment.replied", no, assignment_id=aid, ticket_no=no,
                  department_code=dept, replied_at=reply, actor="u", reply="已处理")
        self.send("ticket.callback_recorded", no, ticket_no=no, at=reply + timedelta(days=3),
                  actor="a", reached=True, solved=solved, satisfaction=rating)
        return aid


def october(worker: Any) -> Feed:
    """d1: 13 orders (12 replied, one of them late; one 涉密 unreplied past its deadline; 10 of
    12 solved, 11 of 12 satisfied); d2: 10 orders (2 signed late, all solved and satisfied);
    d3: 3 perfect orders (too few to rank); 5 orders in September."""
    f = Feed(worker)
    for i in range(12):
        aid = f.order(f"2026101000{i:02d}", "d1", solved=i >= 2,
                      rating="dissatisfied" if i == 0 else "satisfied",
                      reply=HANDLE_DUE + timedelta(days=2) if i == 11 else
                      HANDLE_DUE - timedelta(days=5))
    f.order("2026101000S1", "d1", reply=None, breached=True, confidential=True)
    for i in range(10):
        f.order(f"2026101001{i:02d}", "d2", signed_late=i < 2)
    for i in range(3):
        f.order(f"2026101002{i:02d}", "d3")
    for i in range(5):
        f.order(f"2026091000{i:02d}", "d1", at=SEP)
    # the late order of d1 was supervised, and escalated (通报) in October
    late = "202610100011"
    f.send("ticket.supervised", late, ticket_no=late, supervision_order_id=1, assignment_id=aid,
           department_code="d1", source="breach", opened_at=HANDLE_DUE + timedelta(hours=1),
           opened_by="system", explanation_due=HANDLE_DUE + timedelta(days=1),
           escalate_at=HANDLE_DUE + timedelta(days=2))
    f.send("ticket.escalated", late, ticket_no=late, supervision_order_id=1, assignment_id=aid,
           department_code="d1", opened_at=HANDLE_DUE + timedelta(hours=1),
           at=HANDLE_DUE + timedelta(days=1, hours=12), reason="overdue_again")
    return f


def instructions(f: Feed) -> None:
    """#1 办件 to d1 (feedback on time) and d2 (late, returned once, urged once); #2 办件 to d1
    with no feedback past its deadline; #3 阅件 to d2, read; #4 涉密 办件 to d1, still in time."""
    due = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)

    def register(iid: int, number: str, kind: str, units: list[dict[str, Any]],
                 confidential: bool = False) -> None:
        f.send("instruction.registered", instruction_id=iid, number=number, leader_level="mayor",
               kind=kind, urgent=False, confidential=confidential, received_at=OCT,
               registered_at=OCT, actor="office", units=units, ticket_nos=[])

    register(1, "JZ-2026-001", "handle", [{"department_code": "d1", "feedback_due": due},
                                          {"department_code": "d2", "feedback_due": due}])
    register(2, "JZ-2026-002", "handle", [{"department_code": "d1", "feedback_due": due}])
    register(3, "JZ-2026-003", "read", [{"department_code": "d2", "feedback_due": None}])
    register(4, SECRET_NO, "handle", [{"department_code": "d1", "feedback_due": datetime(
        2099, 1, 1, tzinfo=UTC)}], confidential=True)
    f.send("instruction.feedback_submitted", instruction_id=1, number="JZ-2026-001",
           feedback_id=1, department_code="d1", submitted_at=due - timedelta(days=3),
           actor="u", submission=1)
    f.send("instruction.feedback_submitted", instruction_id=1, number="JZ-2026-001",
           feedback_id=2, department_code="d2", submitted_at=due + timedelta(days=2),
           actor="u", submission=1)
    f.send("instruction.feedback_decided", instruction_id=1, number="JZ-2026-001",
           feedback_id=2, department_code="d2", approved=False, at=due + timedelta(days=3),
           actor="office", reason="不完整")
    f.send("instruction.urged", instruction_id=1, number="JZ-2026-001", urge_id=1,
           department_code="d2", channel="phone", issued_at=due - timedelta(days=1),
           issuer="office")
    f.send("instruction.overdue", instruction_id=2, number="JZ-2026-002", department_code="d1",
           urge_id=2, due=due, at=due + timedelta(minutes=5))
    f.send("instruction.read", instruction_id=3, number="JZ-2026-003", department_code="d2",
           at=OCT + timedelta(days=2), actor="u")


def test_month_report_figures_ranking_and_orders(reporting: Any) -> None:
    worker, _ = reporting
    october(worker)
    report = worker.create_report({"kind": "month", "period": "2026-10"}, "sup1",
                                  {"department": {"d1": "城管局", "d2": "水务局"}})
    snap = report["snapshot"]
    assert (report["status"], report["title"]) == ("draft", "2026年10月月度通报")
    assert snap["period"]["from"] == "2026-10-01" and snap["previous_period"]["key"] == "2026-09"

    overall = snap["overall"]
    assert (overall["intake"], overall["dispatched"], overall["overdue"]) == (26, 26, 2)
    assert overall["on_time_sign"] == {"rate": 0.9231, "numerator": 24, "sample": 26}
    assert overall["resolution"] == {"rate": 0.92, "numerator": 23, "sample": 25}
    by_dept = {r["group"]: r for r in snap["by"]["department"]}
    assert by_dept["d1"]["group_label"] == "城管局" and by_dept["d3"]["group_label"] == "d3"
    assert by_dept["d1"]["resolution"] == {"rate": 0.8333, "numerator": 10, "sample": 12}
    assert by_dept["d1"]["satisfaction"] == {"rate": 0.9167, "numerator": 11, "sample": 12}
    assert [r["group"] for r in snap["by"]["category"]] == ["help"]
    assert snap["by"]["territory"][0]["intake"] == 26

    ranking = [(e["department"], e["rank"], e["score"], e["ranked"]) for e in snap["ranking"]]
    # d2: 30×0.8 + 35 + 35 = 94; d1: 30×1 + 35×10/12 + 35×11/12 = 91.25; d3: 100 but 3 samples
    assert ranking == [("d2", 1, 94.0, True), ("d1", 2, 91.25, True), ("d3", None, 100.0, False)]
    assert "样本不足 10 件" in snap["ranking"][2]["note"]

    overdue = snap["overdue"]
    assert (overdue["count"], overdue["confidential"]) == (2, 1)
    assert [o["ticket_no"] for o in overdue["items"]] == ["202610100011"]
    assert overdue["items"][0]["state"] == "逾期办结"
    assert [o["ticket_no"] for o in snap["escalated"]["items"]] == ["202610100011"]
    assert "2026101000S1" not in json.dumps(snap)  # 涉密: counted, never listed

    days = {d["day"]: d["intake"] for d in snap["daily_intake"]}
    assert len(days) == 31 and days["2026-10-10"] == 26 and days["2026-10-11"] == 0
    assert snap["comparison"]["counts"]["intake"] == {"value": 26, "previous": 5, "change": 21,
                                                      "percent": 420.0}
    assert snap["highlights"][0].startswith("2026年10月共受理诉求 26 件，较上期增加 21 件")
    assert any("第一名为水务局（94.00 分）" in line for line in snap["highlights"])

    # other weights: satisfaction only → d2 (100) then d1 (91.67); a lower minimum ranks d3
    edited = worker.update_report(report["id"], {
        "weights": {"response": 0, "resolution": 0, "satisfaction": 1}, "min_sample": 3}, "sup1")
    assert [(e["department"], e["rank"], e["score"]) for e in edited["snapshot"]["ranking"]] == [
        ("d2", 1, 100.0), ("d3", 1, 100.0), ("d1", 3, 91.67)]
    assert edited["snapshot"]["names"]["department"]["d1"] == "城管局"  # kept on rebuild


def test_published_report_is_frozen_and_announced_once(reporting: Any) -> None:
    worker, db = reporting
    feed = october(worker)
    report = worker.create_report({"kind": "month", "period": "2026-10"}, "sup1")
    feed.order("202610109901", "d2")  # arrives before publication: regenerate picks it up
    regenerated = worker.regenerate_report(report["id"], "sup1")
    assert regenerated["snapshot"]["overall"]["intake"] == 27
    published = worker.publish_report(report["id"], "sup1")
    assert (published["status"], published["published_by"]) == ("published", "sup1")
    frozen = published["snapshot"]
    assert frozen == regenerated["snapshot"]

    feed.order("202610109902", "d2")  # later events change the facts, not the report
    assert worker.kpis({"period": "2026-10", "group_by": "none"}, CENTER)["total"]["intake"] == 28
    assert worker.get_report(report["id"], CENTER)["snapshot"] == frozen
    for call in (lambda: worker.regenerate_report(report["id"], "sup1"),
                 lambda: worker.update_report(report["id"], {"title": "x"}, "sup1"),
                 lambda: worker.delete_report(report["id"], "sup1"),
                 lambda: worker.publish_report(report["id"], "sup1")):
        with pytest.raises(Conflict) as err:
            call()
        assert err.value.details["state"] == "published"
    assert worker.get_report(report["id"], CENTER)["snapshot"] == frozen

    events = [e for e in outbox(db) if e["type"] == "report.published"]
    assert len(events) == 1
    assert events[0]["data"] | {"published_at": None} == {
        "report_id": report["id"], "kind": "month", "period_start": "2026-10-01",
        "period_end": "2026-10-31", "title": "2026年10月月度通报", "published_at": None,
        "actor": "sup1"}
    with pytest.raises(Conflict) as err:  # one report per kind and period
        worker.create_report({"kind": "month", "period": "2026-10"}, "sup1")
    assert err.value.details["report_id"] == report["id"]


def test_departments_see_published_reports_only(reporting: Any) -> None:
    worker, _ = reporting
    october(worker)
    draft = worker.create_report({"kind": "half_month", "period": "2026-10-H1"}, "sup1")
    published = worker.create_report({"kind": "month", "period": "2026-10"}, "sup1")
    worker.publish_report(published["id"], "sup1")
    center = worker.list_reports({}, CENTER)
    assert {r["id"] for r in center["items"]} == {draft["id"], published["id"]}
    assert [r["id"] for r in worker.list_reports({}, DEPT)["items"]] == [published["id"]]
    assert worker.list_reports({"status": "draft"}, DEPT) == {"items": [], "total": 0}
    assert worker.list_reports({"kind": "half_month"}, CENTER)["total"] == 1
    for call in (lambda: worker.get_report(draft["id"], DEPT),
                 lambda: worker.report_chart(draft["id"], "scores", DEPT),
                 lambda: worker.export_report(draft["id"], {"format": "csv"}, DEPT)):
        with pytest.raises(NotFound):
            call()
    assert worker.get_report(published["id"], DEPT)["status"] == "published"
    worker.delete_report(draft["id"], "sup1")
    with pytest.raises(NotFound):
        worker.get_report(draft["id"], CENTER)


def test_bad_input_names_the_field(reporting: Any) -> None:
    worker, _ = reporting
    cases = [({"kind": "weekly", "period": "2026-10"}, "kind"),
             ({"kind": "month", "period": "2026Q1"}, "period"),
             ({"kind": "quarter", "period": "2026Q5"}, "period"),
             ({"kind": "month", "period": "2026-10", "weights": {"response": 1}}, "weights"),
             ({"kind": "month", "period": "2026-10", "weights": {
                 "response": 0, "resolution": 0, "satisfaction": 0}}, "weights"),
             ({"kind": "month", "period": "2026-10", "min_sample": 0}, "min_sample"),
             ({"period": "2026-10"}, "kind")]
    for payload, field in cases:
        with pytest.raises(Invalid) as err:
            worker.create_report(payload, "sup1")
        assert field in err.value.details["fields"], payload
    report = worker.create_report({"kind": "quarter", "period": "2026Q1"}, "sup1")
    assert report["snapshot"]["period"] | {"label": None} == {
        "kind": "quarter", "key": "2026Q1", "from": "2025-12-01", "to": "2026-02-28",
        "label": None}
    with pytest.raises(Invalid) as err:
        worker.export_report(report["id"], {"format": "pdf"}, CENTER)
    assert "format" in err.value.details["fields"]
    with pytest.raises(Invalid) as err:
        worker.export_report(report["id"], {"format": "csv", "sheet": "nope"}, CENTER)
    assert "sheet" in err.value.details["fields"]
    with pytest.raises(NotFound):
        worker.report_chart(report["id"], "units", CENTER)


def test_leader_instruction_summary(reporting: Any) -> None:
    worker, _ = reporting
    feed = Feed(worker)
    instructions(feed)
    report = worker.create_report({"kind": "instructions", "period": "2026-10"}, "sup1",
                                  {"department": {"d1": "城管局"}})
    snap = report["snapshot"]
    assert report["title"] == "2026年10月批示件汇总"
    units = {u["department"]: u for u in snap["instructions"]["units"]}
    assert {k: units["d1"][k] for k in ("label", "received", "handle", "read", "on_time", "late",
                                        "overdue", "pending", "returned", "urges",
                                        "confidential")} == {
        "label": "城管局", "received": 3, "handle": 3, "read": 0, "on_time": 1, "late": 0,
        "overdue": 1, "pending": 1, "returned": 0, "urges": 1, "confidential": 1}
    assert {k: units["d2"][k] for k in ("received", "handle", "read", "read_done", "on_time",
                                        "late", "overdue", "returned", "urges")} == {
        "received": 2, "handle": 1, "read": 1, "read_done": 1, "on_time": 0, "late": 1,
        "overdue": 0, "returned": 1, "urges": 1}
    assert snap["instructions"]["total"]["received"] == 5
    numbers = [(i["number"], i["department"], i["state"]) for i in snap["instructions"]["items"]]
    assert numbers == [("JZ-2026-001", "d1", "按时反馈"), ("JZ-2026-001", "d2", "逾期反馈"),
                       ("JZ-2026-002", "d1", "超期未反馈"), ("JZ-2026-003", "d2", "已阅")]
    assert SECRET_NO not in json.dumps(snap, ensure_ascii=False)
    assert "超期未反馈 1 件" in snap["highlights"][1]
    assert "存在超期未反馈批示件的单位：城管局" in snap["highlights"][2]

    csv_answer = worker.export_report(report["id"], {"format": "csv", "sheet": "items"}, CENTER)
    xlsx_answer = worker.export_report(report["id"], {"format": "xlsx"}, CENTER)
    csv_text = base64.b64decode(csv_answer["body_base64"]).decode("utf-8-sig")
    assert "JZ-2026-002" in csv_text and SECRET_NO not in csv_text
    assert "涉密批示件 1 件不列明细" in csv_text
    from openpyxl import load_workbook
    book = load_workbook(io.BytesIO(base64.b64decode(xlsx_answer["body_base64"])))
    assert book.sheetnames == ["概览", "批示件汇总", "批示件清单"]
    cells = [str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row]
    assert SECRET_NO not in "".join(cells)
    svg = worker.report_chart(report["id"], "units", CENTER)
    assert ET.fromstring(svg["body"].encode()).tag.endswith("svg")


def test_files_rendered_from_the_snapshot(reporting: Any) -> None:
    worker, _ = reporting
    october(worker)
    report = worker.create_report({"kind": "month", "period": "2026-10"}, "sup1",
                                  {"department": {"d2": "水务局<&>"}})
    chart = worker.report_chart(report["id"], "scores", CENTER)
    assert chart["content_type"].startswith("image/svg+xml")
    assert chart["filename"] == "2026年10月月度通报-三率综合得分.svg"
    root = ET.fromstring(chart["body"].encode())
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "水务局<&>" in texts and "水务局&lt;&amp;&gt;" in chart["body"]
    for name in ("intake", "categories"):
        ET.fromstring(worker.report_chart(report["id"], name, CENTER)["body"].encode())

    answer = worker.export_report(report["id"], {"format": "csv"}, CENTER)
    body = base64.b64decode(answer["body_base64"])
    assert body.startswith(b"\xef\xbb\xbf")
    assert answer["filename"] == "2026年10月月度通报-部门排名.csv"
    assert answer["content_type"] == "text/csv; charset=utf-8"
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("名次,部门代码,部门,三率综合得分,响应率(%)")
    assert lines[1].startswith("1,d2,水务局<&>,94.0,80.0,10,")

    xlsx = worker.export_report(report["id"], {"format": "xlsx"}, CENTER)
    from openpyxl import load_workbook
    book = load_workbook(io.BytesIO(base64.b64decode(xlsx["body_base64"])))
    assert book.sheetnames == ["概览", "部门排名", "部门", "分类", "属地", "渠道", "超期及通报"]
    ranking = book["部门排名"]
    assert [c.value for c in ranking[2]][:4] == [1, "d2", "水务局<&>", 94.0]
    assert [c.value for c in ranking[4]][:4] == ["未排名", "d3", "d3", 100.0]
    orders = [[c.value for c in row] for row in book["超期及通报"].iter_rows(min_row=2)]
    assert orders[0][:3] == ["超期", "202610100011", "d1"]
    assert orders[1][:2] == ["通报", "202610100011"]
    assert orders[2][:2] == ["超期合计", 2] and "涉密 1 件" in orders[2][5]
