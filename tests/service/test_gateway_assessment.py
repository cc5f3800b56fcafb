"""Service layer: the gateway's department assessment routes (部门考核) by role, through
``worker_factory`` with real werkzeug requests.

Real: the gateway's database and access rules, and reporting itself (its entrypoints on a
migrated SQLite file, called in-process where the gateway would call it by RPC). Replaced (this
layer's edge): dispatch's department list, a ``Mock``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from unittest.mock import Mock

import pytest

from services.gateway import access
from services.gateway.service import GatewayService
from services.reporting.dependencies import build_calendar
from services.reporting.service import ReportingService
from shared.errors import Conflict, Forbidden, Invalid, NotFound
from tests.service.conftest import Worker
from tests.service.test_gateway_inbound import CONFIG, request, token
from tests.service.test_reporting_assessment import (
    OBJECTION,
    PUBLISH_AT,
    Clock,
    enter_known_items,
    known_quarter,
)

BASE = "/api/v1/reports/assessments"


@pytest.fixture
def gw_db(store: Any) -> Any:
    db = store("gateway")
    access.upsert_users(db.unit_of_work(), [
        {"username": u, "password": "pw", "role": role, "department_code": dept}
        for u, role, dept in (("supervisor1", "supervisor", None), ("leader1", "leader", None),
                              ("agent1", "agent", None),
                              ("dept_chengguan", "department", "chengguan"),
                              ("dept_shuiwu", "department", "shuiwu"))])
    return db


@pytest.fixture
def reporting(store: Any) -> Worker:
    return Worker(ReportingService, store("reporting"), calendar=build_calendar({}), settings={})


def gateway(gw_db: Any, reporting: Any) -> Worker:
    dispatch = Mock()
    dispatch.departments.return_value = [{"code": "chengguan"}, {"code": "shuiwu"}]
    return Worker(GatewayService, gw_db, config=CONFIG, reporting=reporting, dispatch=dispatch)


def sup() -> dict[str, str]:
    return token("supervisor1", "supervisor")


def leader() -> dict[str, str]:
    return token("leader1", "leader")


def cg() -> dict[str, str]:
    return token("dept_chengguan", "department", "chengguan")


def sw() -> dict[str, str]:
    return token("dept_shuiwu", "department", "shuiwu")


def agent() -> dict[str, str]:
    return token("agent1", "agent")


def test_the_whole_flow_by_role(gw_db: Any, reporting: Worker, monkeypatch: Any) -> None:
    clock = Clock(monkeypatch, PUBLISH_AT)
    known_quarter(reporting)
    g = gateway(gw_db, reporting)
    # items: the center enters them; 422 naming the field; an unknown department 422
    status, banner = g.assessment_item_add(request("POST", f"{BASE}/items", sup(), {
        "quarter": "2026Q4", "department_code": "chengguan", "rule": "praise_letter",
        "reason": "群众来信表扬"}))
    assert status == 201 and banner["entered_by"] == "supervisor1"
    with pytest.raises(Invalid) as err:
        g.assessment_item_add(request("POST", f"{BASE}/items", sup(), {
            "quarter": "2026Q4", "department_code": "nowhere", "rule": "banner", "reason": "x"}))
    assert "department_code" in err.value.details["fields"]
    with pytest.raises(Invalid) as err:
        g.assessment_item_add(request("POST", f"{BASE}/items", sup(), {
            "quarter": "2026Q4", "department_code": "chengguan", "rule": "banner"}))
    assert "reason" in err.value.details["fields"]
    for who in (cg(), leader(), agent()):
        with pytest.raises(Forbidden):
            g.assessment_item_add(request("POST", f"{BASE}/items", who, {
                "quarter": "2026Q4", "department_code": "chengguan", "rule": "banner",
                "reason": "x"}))
    g.assessment_item_revoke(request("POST", f"{BASE}/items/{banner['id']}/revoke", sup(),
                                     {"reason": "录入错误"}), item_id=banner["id"])
    enter_known_items(reporting)

    # compute and preview: the center; a department sees no draft
    computed = g.assessment_compute(request("POST", f"{BASE}/compute", sup(),
                                            {"quarter": "2026Q4"}))
    assert [c["department_code"] for c in computed["computed"]] == ["chengguan", "shuiwu"]
    preview = g.assessment_preview(request(
        "GET", f"{BASE}/preview?quarter=2026Q4&department_code=chengguan", sup()))
    assert preview["score"] == 82.8
    with pytest.raises(Forbidden):
        g.assessment_preview(request("GET", f"{BASE}/preview?quarter=2026Q4", cg()))
    with pytest.raises(Invalid) as err:
        g.assessment_list(request("GET", f"{BASE}?quarter=2026-13", sup()))
    assert "quarter" in err.value.details["fields"]
    assert g.assessment_list(request("GET", f"{BASE}?quarter=2026Q4", cg()))["results"] == []
    with pytest.raises(Forbidden):
        g.assessment_list(request("GET", f"{BASE}?quarter=2026Q4", agent()))

    # publish: the center; then the leader reads the ranking, a department its own result
    with pytest.raises(Forbidden):
        g.assessment_publish(request("POST", f"{BASE}/publish", leader(), {"quarter": "2026Q4"}))
    out = g.assessment_publish(request("POST", f"{BASE}/publish", sup(), {"quarter": "2026Q4"}))
    cg_id = out["published"][0]["id"]
    ranking = g.assessment_list(request("GET", f"{BASE}?quarter=2026Q4", leader()))
    assert [(r["department_code"], r["rank"], r["score"]) for r in ranking["results"]] == [
        ("shuiwu", 1, 100.5), ("chengguan", 2, 82.8)]
    own = g.assessment_list(request("GET", f"{BASE}?quarter=2026Q4", cg()))
    assert [r["department_code"] for r in own["results"]] == ["chengguan"]
    detail = g.assessment_detail(request("GET", f"{BASE}/{cg_id}", cg()), assessment_id=cg_id)
    assert {i["code"] for i in detail["snapshot"]["items"]} >= {"overdue", "rejected_return"}
    with pytest.raises(NotFound):
        g.assessment_detail(request("GET", f"{BASE}/{cg_id}", sw()), assessment_id=cg_id)
    with pytest.raises(Conflict):  # editing a published quarter
        g.assessment_item_add(request("POST", f"{BASE}/items", sup(), {
            "quarter": "2026Q4", "department_code": "chengguan", "rule": "banner",
            "reason": "x"}))

    # objections: the department itself (403 for another, and for the center), 409 when late
    with pytest.raises(Forbidden):
        g.assessment_object(request("POST", f"{BASE}/{cg_id}/objections", sw(), OBJECTION),
                            assessment_id=cg_id)
    with pytest.raises(Forbidden):
        g.assessment_object(request("POST", f"{BASE}/{cg_id}/objections", sup(), OBJECTION),
                            assessment_id=cg_id)
    with pytest.raises(Invalid) as err:
        g.assessment_object(request("POST", f"{BASE}/{cg_id}/objections", cg(),
                                    {"evidence": []}), assessment_id=cg_id)
    assert {"reason", "evidence"} <= set(err.value.details["fields"])
    status, objection = g.assessment_object(
        request("POST", f"{BASE}/{cg_id}/objections", cg(), OBJECTION), assessment_id=cg_id)
    assert status == 201 and objection["submitted_by"] == "dept_chengguan"
    listed = g.assessment_objections(request("GET", f"{BASE}/objections?status=pending", sup()))
    assert [o["id"] for o in listed["objections"]] == [objection["id"]]
    assert g.assessment_objections(request("GET", f"{BASE}/objections", sw()))[
        "objections"] == []
    with pytest.raises(Forbidden):
        g.assessment_objection_answer(request(
            "POST", f"{BASE}/objections/{objection['id']}/answer", cg(),
            {"upheld": True, "answer": "x"}), objection_id=objection["id"])
    answered = g.assessment_objection_answer(request(
        "POST", f"{BASE}/objections/{objection['id']}/answer", sup(),
        {"upheld": True, "answer": "更正", "adjustments": {
            "add": [{"rule": "banner", "reason": "漏录锦旗"}]}}), objection_id=objection["id"])
    assert answered["correction"]["score"] == 82.9
    history = g.assessment_history(request("GET", f"{BASE}/history?quarter=2026Q4", cg()))
    assert [(r["revision"], r["status"]) for r in history["revisions"]] == [
        (1, "superseded"), (2, "published")]
    with pytest.raises(NotFound):  # a department asks only about itself
        g.assessment_history(request(
            "GET", f"{BASE}/history?quarter=2026Q4&department_code=shuiwu", cg()))

    clock.now = datetime(2026, 12, 31, 2, tzinfo=UTC)  # long after the window
    new_id = answered["correction"]["id"]
    with pytest.raises(Conflict):
        g.assessment_object(request("POST", f"{BASE}/{new_id}/objections", cg(), OBJECTION),
                            assessment_id=new_id)


def test_rules_are_readable_and_the_viewer_is_passed(gw_db: Any) -> None:
    reporting = Mock()
    reporting.assessment_rules.return_value = {"rule_sets": []}
    reporting.list_assessments.return_value = {"results": []}
    g = gateway(gw_db, reporting)
    assert g.assessment_rules(request("GET", f"{BASE}/rules", cg())) == {"rule_sets": []}
    g.assessment_list(request("GET", f"{BASE}?quarter=2026Q4&ignored=1&status=published", cg()))
    query, viewer = reporting.list_assessments.call_args.args
    assert query == {"quarter": "2026Q4", "status": "published"}
    assert viewer == {"name": "dept_chengguan", "role": "department",
                      "department_code": "chengguan", "via": "token"}
