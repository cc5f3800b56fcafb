"""Department assessment 部门考核 through reporting's entrypoints, with a real database (SQLite
and PostgreSQL) and no broker: hand-built events of a quarter with known points, manual items,
publication freeze, objections (window, foreign, late answers, the overdue sweep) and
corrections kept in history. Events reporting emits are read from its outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest

from services.reporting.dependencies import build_calendar
from services.reporting.entrypoints import assessment as entry
from services.reporting.service import ReportingService
from shared.errors import Conflict, Forbidden, Invalid, NotFound
from shared.events import load_envelope, make_envelope
from tests.service.conftest import Worker, outbox

Q = "2026Q4"  # 2026-09-01 … 2026-11-30 (the assessment year ends in November)
CENTER = {"name": "sup1", "role": "supervisor", "department_code": None}
CHENGGUAN = {"name": "cg1", "role": "department", "department_code": "chengguan"}
SHUIWU = {"name": "sw1", "role": "department", "department_code": "shuiwu"}
# Monday 2026-12-07 09:00 Beijing: the quarter has ended; 5 working days → end of 12-14
PUBLISH_AT = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
_ids = count(1)


def at(month: int, day: int, hour: int = 2) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def ev(event_type: str, no: str, **data: Any) -> Any:
    return load_envelope(make_envelope(event_type, data, producer="x", ticket_no=no,
                                       sequence=next(_ids)))


class Clock:
    """``utcnow`` of the assessment entrypoints, moved by the test."""

    def __init__(self, monkeypatch: Any, now: datetime) -> None:
        self.now = now
        monkeypatch.setattr(entry, "utcnow", lambda: self.now)


@pytest.fixture
def db(database_urls: dict[str, str], migrate: Any) -> Any:
    from shared.database import Database
    from shared.migrations import metadata_of

    migrate("reporting")
    db = Database.standalone(metadata_of("reporting"), database_urls["reporting"], "reporting")
    yield db
    db.engine.dispose()


@pytest.fixture
def worker(db: Any) -> Worker:
    return Worker(ReportingService, db, calendar=build_calendar({}), settings={})


class Orders:
    """Feeds hand-built events through ``on_any_event``."""

    def __init__(self, worker: Worker) -> None:
        self.w = worker
        self.n = 0

    def order(self, dept: str, *, due: datetime | None = None, replied: datetime | None = None,
              rating: str | None = None, rated_at: datetime | None = None,
              breached: bool = False) -> tuple[str, int]:
        self.n += 1
        no = f"202610{self.n:08d}"
        aid = 1000 + self.n
        start = at(10, 1)
        self.w.on_any_event(ev("ticket.registered", no, ticket_no=no, registered_at=start,
                               channel="phone", category="complaint", urgency="normal",
                               title="t", content="c", confidential=False))
        self.w.on_any_event(ev("ticket.dispatched", no, ticket_no=no, dispatched_at=start,
                               actor="d", round=1, category="complaint", urgency="normal",
                               assignments=[{"assignment_id": aid, "department_code": dept,
                                             "role": "lead"}]))
        if due is not None:
            self.w.on_any_event(ev("assignment.clocks_started", no, assignment_id=aid,
                                   ticket_no=no, department_code=dept, role="lead",
                                   started_at=start, sign_due=start + timedelta(hours=2),
                                   handle_due=due, policy="p"))
        if breached:  # supervision's sweep reports the deadline passed without a reply
            assert due is not None
            self.w.on_any_event(ev("ticket.overdue", no, ticket_no=no, assignment_id=aid,
                                   department_code=dept, clock="handle", due=due,
                                   at=due + timedelta(minutes=1)))
        if replied is not None:
            self.w.on_any_event(ev("assignment.replied", no, assignment_id=aid, ticket_no=no,
                                   department_code=dept, replied_at=replied, actor="u",
                                   reply="已办理"))
        if rating is not None:
            self.w.on_any_event(ev("ticket.callback_recorded", no, ticket_no=no,
                                   at=rated_at or at(10, 20), actor="cb", reached=True,
                                   solved=True, satisfaction=rating))
        return no, aid

    def rejected_return(self, dept: str, no: str, aid: int, day: int) -> None:
        rid = next(_ids) + 5000
        self.w.on_any_event(ev("assignment.return_requested", no, return_id=rid,
                               assignment_id=aid, ticket_no=no, department_code=dept,
                               reason_code="职能不符", basis="b", at=at(10, day), actor="u"))
        self.w.on_any_event(ev("assignment.return_decided", no, return_id=rid,
                               assignment_id=aid, ticket_no=no, department_code=dept,
                               approved=False, at=at(10, day, 6), actor="s"))


def known_quarter(worker: Worker) -> dict[str, Any]:
    """chengguan: 27 orders, 2 overdue (one replied late, one never), 26 of 27 callbacks
    satisfied (96.30 %), 4 rejected returns; shuiwu: one order on time, satisfied."""
    o = Orders(worker)
    nos = []
    for i in range(25):
        nos.append(o.order("chengguan", due=at(10, 15), replied=at(10, 10),
                           rating="basically_satisfied" if i % 2 else "satisfied"))
    late = o.order("chengguan", due=at(10, 15), replied=at(10, 18), rating="unsatisfied")
    never = o.order("chengguan", due=at(11, 3), rating="satisfied", breached=True)
    nos.append(late)
    nos.append(never)
    for i, (no, aid) in enumerate(nos[:4]):
        o.rejected_return("chengguan", no, aid, 3 + i)
    o.order("shuiwu", due=at(10, 15), replied=at(10, 12), rating="satisfied")
    return {"late": late, "never": never}


def add(worker: Worker, rule: str, dept: str = "chengguan", **extra: Any) -> dict[str, Any]:
    return worker.add_assessment_item({"quarter": Q, "department_code": dept, "rule": rule,
                                       "reason": f"{rule} 理由", **extra}, CENTER)


def item(snapshot: dict[str, Any], code: str) -> dict[str, Any]:
    return next(i for i in snapshot["items"] if i["code"] == code)


def enter_known_items(worker: Worker) -> None:
    for n in range(3):
        add(worker, "valid_complaints", ticket_no=f"20261000000{n + 1:03d}",
            occurred_on=f"2026-10-{10 + n}")
    add(worker, "banner", occurred_on="2026-11-02")


def test_a_quarter_with_known_points(worker: Worker, db: Any, monkeypatch: Any) -> None:
    Clock(monkeypatch, PUBLISH_AT)
    facts = known_quarter(worker)
    enter_known_items(worker)
    worker.compute_assessments({"quarter": Q}, CENTER)
    listed = worker.list_assessments({"quarter": Q}, CENTER)
    assert [(r["department_code"], r["score"], r["rank"], r["status"])
            for r in listed["results"]] == [("shuiwu", 100.5, 1, "draft"),
                                            ("chengguan", 82.8, 2, "draft")]
    snap = worker.get_assessment(listed["results"][1]["id"], CENTER)["snapshot"]
    assert snap["rules_version"] == "004-2011"
    assert snap["score"] == 82.8
    assert snap["summary"] == {"base_lost": -13.0, "bonus_earned": 0.2, "bonus_counted": 0.2,
                               "deductions": -4.4}
    # every point explained: the items add up to score − base
    assert round(sum(i["points"] for i in snap["items"]), 2) == round(snap["score"] - 100, 2)

    completion = item(snap, "on_time_completion")
    assert (completion["points"], completion["earned"], completion["max"]) == (-9.0, 0.0, 9.0)
    assert [(x["ticket_no"], x["assignment_id"]) for x in completion["orders"]] == [
        facts["late"], facts["never"]]
    assert completion["orders"][0]["replied_at"].startswith("2026-10-18")
    assert completion["orders"][1]["replied_at"] is None
    assert completion["measure"] == {"rate": round(25 / 27, 4), "numerator": 25, "sample": 27}

    sat = item(snap, "satisfaction")
    assert sat["points"] == 0.0 and sat["measure"] == {"rate": 0.963, "numerator": 26,
                                                       "sample": 27}
    assert item(snap, "satisfaction_bonus")["points"] == 0.1  # 1 whole point above 95 %

    complaints = item(snap, "valid_complaints")
    assert complaints["points"] == -4.0 and complaints["earned"] == 2.0
    assert [e["points"] for e in complaints["entries"]] == [-1.0, -1.0, -2.0]
    assert complaints["entries"][2]["ticket_no"] == "20261000000003"

    overdue = item(snap, "overdue")
    assert overdue["points"] == -4.0
    assert [x["ticket_no"] for x in overdue["orders"]] == [facts["late"][0], facts["never"][0]]
    assert all(x["due"] for x in overdue["orders"])
    # the same 超期件 and 无正当理由退件 as the KPI report (defined once, in metrics.py)
    kpi = next(r for r in worker.kpis({"period": Q, "group_by": "department"})["rows"]
               if r["group"] == "chengguan")
    assert (kpi["overdue"], kpi["rejected_returns"]) == (2, 4)
    assert kpi["on_time_completion"] == completion["measure"]
    assert kpi["satisfaction"] == sat["measure"]
    returns = item(snap, "rejected_return")
    assert returns["points"] == -0.4 and len(returns["orders"]) == 4
    assert {"ticket_no", "assignment_id", "return_id", "decided_at"} <= set(returns["orders"][0])
    banner = item(snap, "banner")
    assert banner["points"] == 0.1 and banner["entries"][0]["reason"] == "banner 理由"

    # a department sees no draft, and only its own results
    assert worker.list_assessments({"quarter": Q}, CHENGGUAN)["results"] == []
    with pytest.raises(NotFound):
        worker.get_assessment(listed["results"][1]["id"], CHENGGUAN)


def test_bonus_is_capped_and_deductions_have_no_floor(worker: Worker, monkeypatch: Any) -> None:
    Clock(monkeypatch, PUBLISH_AT)
    for _ in range(11):
        add(worker, "written_commendation", dept="gongan")  # 11 × 2 = 22 → 20
    snap = worker.preview_assessment({"quarter": Q, "department_code": "gongan"})
    assert snap["summary"]["bonus_earned"] == 22.0 and snap["summary"]["bonus_counted"] == 20.0
    assert snap["score"] == 120.0
    assert item(snap, "bonus_cap")["points"] == -2.0
    for _ in range(60):
        add(worker, "media_exposure", dept="jiaotong")  # 60 × −2: no floor
    assert worker.preview_assessment({"quarter": Q, "department_code": "jiaotong"})[
        "score"] == -20.0


def test_items_need_a_reason_a_known_rule_and_are_revocable(worker: Worker, db: Any) -> None:
    with pytest.raises(Invalid) as err:
        worker.add_assessment_item({"quarter": Q, "department_code": "d", "rule": "banner"},
                                   CENTER)
    assert "reason" in err.value.details["fields"]
    with pytest.raises(Invalid) as err:
        add(worker, "overdue")  # an automatic rule is not entered by hand
    assert "rule" in err.value.details["fields"]
    with pytest.raises(Invalid) as err:
        add(worker, "valid_complaints")  # a valid complaint names its order
    assert "ticket_no" in err.value.details["fields"]
    with pytest.raises(Invalid) as err:
        add(worker, "banner", occurred_on="2026-12-01")  # next quarter
    assert "occurred_on" in err.value.details["fields"]
    with pytest.raises(Invalid) as err:
        add(worker, "analogous_bonus", points=3)  # above its max_points 2
    assert "points" in err.value.details["fields"]
    with pytest.raises(Invalid) as err:
        worker.list_assessments({"quarter": "2026-11"}, CENTER)
    assert "quarter" in err.value.details["fields"]

    banner = add(worker, "banner", ticket_no="20261000000001")
    with pytest.raises(Invalid) as err:
        worker.revoke_assessment_item(banner["id"], {"reason": "  "}, CENTER)
    assert "reason" in err.value.details["fields"]
    revoked = worker.revoke_assessment_item(banner["id"], {"reason": "重复录入"}, CENTER)
    assert revoked["revoke_reason"] == "重复录入" and revoked["revoked_by"] == "sup1"
    with pytest.raises(Conflict):
        worker.revoke_assessment_item(banner["id"], {"reason": "again"}, CENTER)
    assert worker.list_assessment_items({"quarter": Q}, CENTER)["items"] == []
    assert len(worker.list_assessment_items({"quarter": Q, "include_revoked": True},
                                            CENTER)["items"]) == 1
    from sqlalchemy import select

    from services.reporting.models import ReportingAudit
    with db.engine.connect() as conn:
        actions = [r.action for r in conn.execute(select(ReportingAudit).order_by(
            ReportingAudit.id))]
    assert actions == ["assessment.item_added", "assessment.item_revoked"]


def test_publication_freezes_the_snapshot(worker: Worker, db: Any, monkeypatch: Any) -> None:
    clock = Clock(monkeypatch, datetime(2026, 11, 20, 2, tzinfo=UTC))
    known_quarter(worker)
    with pytest.raises(Conflict):  # the quarter has not ended
        worker.publish_assessments({"quarter": Q}, CENTER)
    clock.now = PUBLISH_AT
    enter_known_items(worker)
    out = worker.publish_assessments({"quarter": Q}, CENTER)
    assert [(p["department_code"], p["score"]) for p in out["published"]] == [
        ("chengguan", 82.8), ("shuiwu", 100.5)]
    published = [e for e in outbox(db) if e["type"] == "assessment.published"]
    assert [(e["data"]["department_code"], e["data"]["revision"], e["data"]["rules_version"],
             e["data"]["correction_of"]) for e in published] == [
        ("chengguan", 1, "004-2011", None), ("shuiwu", 1, "004-2011", None)]
    cg = out["published"][0]["id"]
    before = worker.get_assessment(cg, CENTER)

    # later events and items do not change it; editing the quarter's items is refused
    Orders(worker).order("chengguan", due=at(11, 10), replied=at(11, 25), rating="satisfied")
    with pytest.raises(Conflict):
        add(worker, "banner")
    banner = worker.list_assessment_items({"quarter": Q, "department_code": "chengguan"},
                                          CENTER)["items"][-1]
    with pytest.raises(Conflict):
        worker.revoke_assessment_item(banner["id"], {"reason": "x"}, CENTER)
    with pytest.raises(Conflict):
        worker.compute_assessments({"quarter": Q, "department_code": "chengguan"}, CENTER)
    with pytest.raises(Conflict):
        worker.publish_assessments({"quarter": Q, "department_code": "chengguan"}, CENTER)
    again = worker.compute_assessments({"quarter": Q}, CENTER)
    assert again["skipped_published"] == ["chengguan", "shuiwu"]
    assert worker.get_assessment(cg, CENTER) == before
    assert worker.preview_assessment({"quarter": Q, "department_code": "chengguan"})[
        "score"] == 80.8  # what a recomputation would say now: one more overdue order

    # the department now reads its own published result, with its rank
    mine = worker.list_assessments({"quarter": Q}, CHENGGUAN)
    assert [(r["department_code"], r["rank"]) for r in mine["results"]] == [("chengguan", 2)]
    assert worker.get_assessment(cg, CHENGGUAN)["snapshot"]["score"] == 82.8
    with pytest.raises(NotFound):
        worker.get_assessment(cg, SHUIWU)


def published(worker: Worker, monkeypatch: Any) -> tuple[Clock, int]:
    clock = Clock(monkeypatch, PUBLISH_AT)
    known_quarter(worker)
    enter_known_items(worker)
    out = worker.publish_assessments({"quarter": Q}, CENTER)
    return clock, out["published"][0]["id"]


OBJECTION = {"reason": "第2件超期系系统故障", "evidence": [
    {"description": "系统故障通报", "ticket_no": "20261000000027",
     "url": "https://example.org/notice.pdf"}]}


def test_objections_window_and_foreign(worker: Worker, db: Any, monkeypatch: Any) -> None:
    clock, cg = published(worker, monkeypatch)
    with pytest.raises(Forbidden):
        worker.submit_assessment_objection(cg, OBJECTION, SHUIWU)
    with pytest.raises(Forbidden):
        worker.submit_assessment_objection(cg, OBJECTION, CENTER)
    with pytest.raises(Invalid) as err:
        worker.submit_assessment_objection(cg, {"reason": "x", "evidence": []}, CHENGGUAN)
    assert "evidence" in err.value.details["fields"]
    with pytest.raises(Invalid) as err:
        worker.submit_assessment_objection(cg, {"reason": "x", "evidence": [{"url": "x"}]},
                                           CHENGGUAN)
    assert "evidence" in err.value.details["fields"]

    # 5 working days after Monday 12-07: the window closes at the end of Monday 12-14
    clock.now = datetime(2026, 12, 14, 15, 59, tzinfo=UTC)  # 23:59 Beijing, still open
    objection = worker.submit_assessment_objection(cg, OBJECTION, CHENGGUAN)
    assert objection["status"] == "pending"
    assert objection["due_at"] == "2026-12-21T16:00:00+00:00"  # end of Monday 12-21, Beijing
    with pytest.raises(Conflict):  # one pending objection at a time
        worker.submit_assessment_objection(cg, OBJECTION, CHENGGUAN)
    sub = [e for e in outbox(db) if e["type"] == "assessment.objection_submitted"]
    assert len(sub) == 1 and sub[0]["data"]["department_code"] == "chengguan"
    worker.answer_assessment_objection(objection["id"], {"upheld": False, "answer": "证据不足"},
                                       CENTER)
    clock.now = datetime(2026, 12, 14, 16, 0, tzinfo=UTC)  # 00:00 on Tuesday: closed
    with pytest.raises(Conflict) as late:
        worker.submit_assessment_objection(cg, OBJECTION, CHENGGUAN)
    assert late.value.details["state"] == "window_closed"
    # a department sees its own objections only
    assert len(worker.list_assessment_objections({}, CHENGGUAN)["objections"]) == 1
    assert worker.list_assessment_objections({}, SHUIWU)["objections"] == []


def test_overdue_sweep_once_and_late_answer(worker: Worker, db: Any, monkeypatch: Any) -> None:
    clock, cg = published(worker, monkeypatch)
    objection = worker.submit_assessment_objection(cg, OBJECTION, CHENGGUAN)
    clock.now = datetime(2026, 12, 14, 2, tzinfo=UTC)  # before its due (end of 12-14)
    assert worker.sweep_assessment_objections() == 0
    clock.now = datetime(2026, 12, 15, 2, tzinfo=UTC)
    assert worker.sweep_assessment_objections() == 1
    assert worker.sweep_assessment_objections() == 0  # once per objection
    overdue = [e for e in outbox(db) if e["type"] == "assessment.objection_overdue"]
    assert len(overdue) == 1 and overdue[0]["data"]["objection_id"] == objection["id"]
    answered = worker.answer_assessment_objection(objection["id"], {
        "upheld": False, "answer": "经核实，超期属实"}, CENTER)
    assert answered["status"] == "rejected" and answered["late"] is True
    decided = [e["data"] for e in outbox(db) if e["type"] == "assessment.objection_decided"]
    assert [(d["upheld"], d["late"], d["correction_id"]) for d in decided] == [
        (False, True, None)]
    with pytest.raises(Conflict):
        worker.answer_assessment_objection(objection["id"], {"upheld": True, "answer": "x"},
                                           CENTER)
    clock.now = datetime(2026, 12, 16, 2, tzinfo=UTC)
    assert worker.sweep_assessment_objections() == 0  # answered: no longer urged


def test_an_upheld_objection_publishes_a_correction_and_keeps_history(
        worker: Worker, db: Any, monkeypatch: Any) -> None:
    clock, cg = published(worker, monkeypatch)
    objection = worker.submit_assessment_objection(cg, OBJECTION, CHENGGUAN)
    complaints = [i for i in worker.list_assessment_items(
        {"quarter": Q, "department_code": "chengguan"}, CENTER)["items"]
        if i["rule"] == "valid_complaints"]
    clock.now = datetime(2026, 12, 9, 2, tzinfo=UTC)
    with pytest.raises(Invalid) as err:
        worker.answer_assessment_objection(objection["id"], {
            "upheld": False, "answer": "x", "adjustments": {"add": []}}, CENTER)
    assert "adjustments" in err.value.details["fields"]
    answered = worker.answer_assessment_objection(objection["id"], {
        "upheld": True, "answer": "第3件投诉经核实不成立",
        "adjustments": {"revoke": [{"item_id": complaints[2]["id"], "reason": "投诉不成立"}],
                        "add": [{"rule": "praise_letter", "reason": "群众来信表扬"}]}}, CENTER)
    assert answered["status"] == "upheld" and answered["late"] is False
    corrected = answered["correction"]
    # complaints 2 → −2 instead of −4; a praise letter +0.1: 82.8 + 2 + 0.1
    assert (corrected["revision"], corrected["score"], corrected["correction_of"]) == (2, 84.9, 1)
    history = worker.assessment_history({"quarter": Q}, CHENGGUAN)
    assert [(r["revision"], r["status"], r["score"]) for r in history["revisions"]] == [
        (1, "superseded", 82.8), (2, "published", 84.9)]
    assert history["revisions"][1]["snapshot"]["correction"]["objection_id"] == objection["id"]
    assert history["objections"][0]["correction_id"] == corrected["id"]
    assert worker.get_assessment(cg, CENTER)["snapshot"]["score"] == 82.8  # the old one kept
    events = [e["data"] for e in outbox(db) if e["type"] == "assessment.published"]
    assert (events[-1]["revision"], events[-1]["correction_of"], events[-1]["score"]) == (
        2, 1, 84.9)
    listed = worker.list_assessments({"quarter": Q}, CENTER)["results"]
    assert [(r["department_code"], r["revision"], r["score"]) for r in listed] == [
        ("shuiwu", 1, 100.5), ("chengguan", 2, 84.9)]
    with pytest.raises(Conflict):  # the superseded revision takes no objection
        worker.submit_assessment_objection(cg, OBJECTION, CHENGGUAN)
    second = worker.submit_assessment_objection(corrected["id"], OBJECTION, CHENGGUAN)
    assert second["assessment_id"] == corrected["id"]


def test_the_service_starts_with_its_calendar_and_sweep(make_config: Any, migrated: Any,
                                                        container_factory: Any) -> None:
    """A real container: the calendar (with a configured override) and the sweep's timer are
    set up from the configuration; the rules load."""
    config = make_config(CALENDAR_OVERRIDES={"2026-12-08": False}, SWEEP_INTERVAL_SECONDS=3600)
    container = container_factory(ReportingService, config)
    container.start()
    from nameko.testing.services import entrypoint_hook

    with entrypoint_hook(container, "assessment_rules") as rules:
        assert rules()["rule_sets"][0]["version"] == "004-2011"
    with entrypoint_hook(container, "sweep_assessment_objections") as sweep:
        assert sweep() == 0
    calendar = next(d for d in container.dependencies if d.attr_name == "calendar").calendar
    assert not calendar.is_workday(datetime(2026, 12, 8).date())
