"""The Step 1 flow over HTTP against every service running as a process, plus the access
rules and the error contract of the gateway."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from hotline.client import ApiError, HotlineClient, wait_for
from shared.business_time import business_today
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e

ORDER = {
    "category": "complaint", "phone": "0830-2345678", "caller_name": "赵先生",
    "territory_code": "510502001002", "address": "水井沟社区",
    "content": "楼下流动摊贩占道经营，晚上十点以后还在营业，请城管处理。",
}


def register(agent: HotlineClient, **overrides: Any) -> dict[str, Any]:
    return agent.register({**ORDER, **overrides})


def lead_of(client: HotlineClient, no: str) -> dict[str, Any]:
    detail = wait_for(lambda: (d := client.ticket(no))["assignments"] and d, what="dispatch")
    return next(a for a in detail["assignments"] if a["role"] == "lead")


class TestOrderLifeOverHttp:
    def test_registered_dispatched_signed_replied_called_back_closed_counted(self, system: System) -> None:
        agent, sup = system.login("agent1"), system.login("supervisor1")
        today = business_today().isoformat()
        before = {r["group"]: r for r in sup.kpis(today, today)["rows"]}.get("chengguan")

        t = register(agent)
        assert len(t["ticket_no"]) == 14 and t["phone"] == "0830-2345678"
        lead = lead_of(agent, t["ticket_no"])
        assert lead["department_code"] == "chengguan"
        clock = wait_for(lambda: lead_of(agent, t["ticket_no"])["clock"], what="clock")
        assert clock["sign_due"] < clock["handle_due"]

        dept = system.login("dept_chengguan")
        inbox = dept.inbox("chengguan", state="dispatched")["items"]
        item = next(i for i in inbox if i["ticket_no"] == t["ticket_no"])
        assert item["phone"] == "0830-****5678"  # departments see masked phones
        assert dept.sign(lead["id"])["state"] == "signed"
        wait_for(lambda: agent.ticket(t["ticket_no"])["status"] == "in_progress", what="in_progress")
        for assist in (a for a in agent.ticket(t["ticket_no"])["assignments"]
                       if a["role"] == "assist"):  # 协办意见 before the lead's reply
            street = system.login(f"dept_{assist['department_code']}")
            street.sign(assist["id"])
            street.opinion(assist["id"], "街道已配合现场劝离。")
        dept.reply(lead["id"], "已责令摊贩退出占道区域，并安排夜间巡查。")
        wait_for(lambda: agent.ticket(t["ticket_no"])["status"] == "replied", what="replied")
        closed = sup.callback(t["ticket_no"], reached=True, solved=True,
                              satisfaction="basically_satisfied")
        assert closed["status"] == "closed"

        detail = agent.ticket(t["ticket_no"])
        assert [h["to_status"] for h in detail["lifecycle"]["history"]] == [
            "registered", "dispatched", "in_progress", "replied", "closed"]
        assert detail["lifecycle"]["callbacks"][0]["satisfaction"] == "basically_satisfied"

        def counted() -> Any:
            row = {r["group"]: r for r in sup.kpis(today, today)["rows"]}.get("chengguan")
            closed_before = before["closed"] if before else 0
            return row if row and row["closed"] == closed_before + 1 else None

        row = wait_for(counted, what="KPIs to count the order")
        assert row["on_time_sign"]["sample"] >= 1 and row["on_time_completion"]["sample"] >= 1

    def test_same_idempotency_key_returns_the_same_order(self, system: System) -> None:
        agent = system.login("agent1")
        key = str(uuid.uuid4())
        first = agent.raw("POST", "/api/v1/tickets", {"Idempotency-Key": key}, json=ORDER)
        again = agent.raw("POST", "/api/v1/tickets", {"Idempotency-Key": key}, json=ORDER)
        assert first.status_code == 201 and again.status_code == 200
        assert first.json()["ticket_no"] == again.json()["ticket_no"]
        other = system.login("agent2").raw("POST", "/api/v1/tickets", {"Idempotency-Key": key},
                                            json=ORDER)
        assert other.status_code == 201 and other.json()["ticket_no"] != first.json()["ticket_no"]


class TestDepartmentScoping:
    def test_a_department_sees_and_acts_only_on_its_own_assignments(self, system: System) -> None:
        agent = system.login("agent1")
        no = register(agent)["ticket_no"]
        lead = lead_of(agent, no)
        other = system.login("dept_huanbao")
        for method, path, body in [
            ("GET", f"/api/v1/tickets/{no}", None),
            ("GET", "/api/v1/departments/chengguan/inbox", None),
            ("POST", f"/api/v1/assignments/{lead['id']}/sign", None),
            ("POST", f"/api/v1/assignments/{lead['id']}/reply", {"reply": "不是我们的"}),
        ]:
            r = other.raw(method, path, json=body)
            assert r.status_code == 404, (method, path, r.text)
        own = system.login("dept_chengguan")
        assert own.ticket(no)["ticket_no"] == no
        assert own.ticket(no)["phone"].count("*") == 4

    def test_api_key_acts_for_its_department_until_revoked(self, system: System) -> None:
        admin, agent = system.login("admin"), system.login("agent1")
        issued = admin.request("POST", "/api/v1/admin/api-keys",
                               json={"department_code": "chengguan", "name": "城管业务系统"})
        key = HotlineClient(system.url, api_key=issued["api_key"])
        no = register(agent)["ticket_no"]
        lead = lead_of(agent, no)
        assert key.sign(lead["id"])["signed_by"] == f"apikey:{issued['key_id']}"
        foreign = HotlineClient(system.url, api_key=issued["api_key"])
        assert foreign.raw("GET", "/api/v1/departments/huanbao/inbox").status_code == 404
        admin.request("DELETE", f"/api/v1/admin/api-keys/{issued['key_id']}")
        r = key.raw("GET", "/api/v1/departments/chengguan/inbox")
        assert r.status_code == 401


class TestErrorContract:
    @pytest.mark.parametrize("change, field", [
        ({"content": None}, "content"),
        ({"phone": "12345"}, "phone"),
        ({"phone": "1381234567"}, "phone"),
        ({"content": "长" * 4001}, "content"),
        ({"category": "gossip"}, "category"),
        ({"territory_code": "999999"}, "territory_code"),
        ({"urgency": "whenever"}, "urgency"),
        ({"colour": "red"}, "colour"),
    ])
    def test_bad_registration_is_422_naming_the_field(self, system: System, change: dict[str, Any],
                                                       field: str) -> None:
        agent = system.login("agent1")
        body = {k: v for k, v in {**ORDER, **change}.items() if v is not None}
        r = agent.raw("POST", "/api/v1/tickets", json=body)
        assert r.status_code == 422, r.text
        assert field in r.json()["error"]["fields"]

    def test_phone_formats_are_accepted_and_normalised(self, system: System) -> None:
        agent = system.login("agent1")
        for raw, canonical in [("+86 139 0000 1111", "13900001111"), ("(010) 8765 4321", "010-87654321"),
                               ("0086-13900001111", "13900001111")]:
            assert register(agent, phone=raw)["phone"] == canonical

    def test_errors_are_json_with_the_right_status(self, system: System) -> None:
        agent, sup = system.login("agent1"), system.login("supervisor1")
        assert agent.raw("GET", "/api/v1/tickets/20990101000001").status_code == 404
        r = requests.get(f"{system.url}/api/v1/tickets", timeout=5)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        r = agent.raw("POST", "/api/v1/tickets/20990101000001/callback", json={"reached": True})
        assert r.status_code == 403
        r = agent.raw("POST", "/api/v1/tickets", data="{not json",
                      headers={"Content-Type": "application/json"})
        assert r.status_code == 400
        r = agent.raw("GET", "/api/v1/no/such/thing")
        assert r.status_code == 404 and r.json()["error"]["path"] == "/api/v1/no/such/thing"
        r = sup.raw("GET", "/api/v1/reports/kpis", params={"from": "2026-02-01", "to": "2026-01-01"})
        assert r.status_code == 422 and "to" in r.json()["error"]["fields"]
        r = sup.raw("GET", "/api/v1/reports/kpis", params={"from": "2026-01-01", "to": "2026-01-02",
                                                          "group_by": "mood"})
        assert r.status_code == 422 and "department" in r.json()["error"]["fields"]["group_by"][0]
        bad = HotlineClient(system.url, token="forged.token")
        assert bad.raw("GET", "/api/v1/tickets").status_code == 401

    def test_actions_in_the_wrong_state_are_409_naming_state_and_action(self, system: System) -> None:
        agent, sup = system.login("agent1"), system.login("supervisor1")
        dept = system.login("dept_chengguan")
        no = register(agent)["ticket_no"]
        lead = lead_of(agent, no)
        r = dept.raw("POST", f"/api/v1/assignments/{lead['id']}/reply", json={"reply": "x"})
        assert r.status_code == 409 and r.json()["error"]["action"] == "reply"
        r = sup.raw("POST", f"/api/v1/tickets/{no}/close", json={})
        assert r.status_code == 409 and r.json()["error"]["state"] in ("dispatched", "registered")
        dept.sign(lead["id"])
        r = dept.raw("POST", f"/api/v1/assignments/{lead['id']}/sign")
        assert r.status_code == 409 and r.json()["error"]["state"] == "signed"

    def test_login_lockout_after_repeated_failures(self, system: System) -> None:
        for _ in range(5):
            with pytest.raises(ApiError) as err:
                HotlineClient.login(system.url, "auditor1", "wrong")
            assert err.value.status == 401
        with pytest.raises(ApiError) as err:
            HotlineClient.login(system.url, "auditor1", "demo12345")
        assert err.value.status == 403 and "锁定" in err.value.body["error"]["message"]

    def test_openapi_document_lists_the_routes(self, system: System) -> None:
        doc = requests.get(f"{system.url}/api/v1/openapi.json", timeout=5).json()
        assert doc["openapi"].startswith("3.")
        for path in ("/api/v1/tickets", "/api/v1/tickets/{ticket_no}", "/api/v1/auth/token",
                     "/api/v1/departments/{code}/inbox", "/api/v1/assignments/{assignment_id}/sign",
                     "/api/v1/reports/kpis", "/health"):
            assert path in doc["paths"], path


class TestUrging:
    def test_supervisor_urges_by_hand_and_the_order_shows_it(self, system: System) -> None:
        agent, sup = system.login("agent1"), system.login("supervisor1")
        no = register(agent)["ticket_no"]
        lead_of(agent, no)
        wait_for(lambda: agent.ticket(no)["lifecycle"]["history"][-1]["to_status"] == "dispatched",
                 what="dispatched")
        made = sup.request("POST", f"/api/v1/tickets/{no}/urge",
                           json={"channel": "notice", "note": "请尽快签收"})
        assert {u["kind"] for u in made["urges"]} == {"manual"}
        assert {u["clock"] for u in made["urges"]} == {"sign"}
        urges = agent.ticket(no)["lifecycle"]["urges"]
        assert len(urges) == len(made["urges"]) and urges[0]["note"] == "请尽快签收"
        r = agent.raw("POST", f"/api/v1/tickets/{no}/urge", json={})
        assert r.status_code == 403
        r = sup.raw("POST", f"/api/v1/tickets/{no}/urge", json={"channel": "fax"})
        assert r.status_code == 422 and "channel" in r.json()["error"]["fields"]


class TestExtensionsOverHttp:
    def test_department_requests_supervisor_approves_deadline_moves(self, system: System) -> None:
        agent, sup = system.login("agent1"), system.login("supervisor1")
        no = register(agent)["ticket_no"]
        lead = lead_of(agent, no)
        clock = wait_for(lambda: lead_of(agent, no)["clock"], what="clock")
        dept = system.login("dept_chengguan")
        r = system.login("dept_huanbao").raw(
            "POST", f"/api/v1/assignments/{lead['id']}/extension",
            json={"days": 3, "reason": "需现场勘查"})
        assert r.status_code == 404
        ext = dept.request("POST", f"/api/v1/assignments/{lead['id']}/extension",
                           json={"days": 3, "reason": "需现场勘查"})
        r = dept.raw("POST", f"/api/v1/assignments/{lead['id']}/extension",
                     json={"days": 1, "reason": "再申请"})
        assert r.status_code == 409
        assert dept.raw("POST", f"/api/v1/extensions/{ext['id']}/decision",
                        json={"approve": True}).status_code == 403
        decided = sup.request("POST", f"/api/v1/extensions/{ext['id']}/decision",
                              json={"approve": True, "note": "同意"})
        assert decided["state"] == "approved" and decided["new_due"] > clock["handle_due"]
        detail = agent.ticket(no)
        assert detail["lifecycle"]["extensions"][0]["state"] == "approved"
        moved = next(a for a in detail["assignments"] if a["id"] == lead["id"])["clock"]
        assert moved["handle_due"] == decided["new_due"]


class TestReturnsOverHttp:
    def test_lead_requests_a_return_and_the_dispatcher_rejects_it(self, system: System) -> None:
        agent, dispatcher = system.login("agent1"), system.login("dispatcher1")
        no = register(agent)["ticket_no"]
        lead = lead_of(agent, no)
        wait_for(lambda: lead_of(agent, no)["clock"], what="clock")
        dept = system.login("dept_chengguan")
        r = dept.raw("POST", f"/api/v1/assignments/{lead['id']}/return",
                     json={"reason_code": "mood", "basis": "x"})
        assert r.status_code == 422 and "reason_code" in r.json()["error"]["fields"]
        req = dept.request("POST", f"/api/v1/assignments/{lead['id']}/return",
                           json={"reason_code": "territory", "basis": "该地址不在本辖区"})
        assert agent.ticket(no)["status"] == "return_requested"
        assert dept.raw("POST", f"/api/v1/returns/{req['id']}/decision",
                        json={"approve": True}).status_code == 403
        decided = dispatcher.request("POST", f"/api/v1/returns/{req['id']}/decision",
                                     json={"approve": False, "note": "属本单位职责"})
        assert decided["state"] == "rejected"
        detail = agent.ticket(no)
        assert detail["status"] == "dispatched" and detail["lifecycle"]["returns"][0]["state"] == "rejected"


class TestResolutionOverHttp:
    def test_cited_article_must_be_published(self, system: System) -> None:
        agent, admin = system.login("agent1"), system.login("admin")
        draft = admin.request("POST", "/api/v1/kb/articles", json={
            "article_type": "faq", "title": "草稿", "body": "未发布的内容"})
        published = admin.request("POST", "/api/v1/kb/articles", json={
            "article_type": "faq", "title": "居住证办理", "body": "持身份证和居住证明到派出所办理",
            "publish": True})
        body = {**ORDER, "category": "consultation"}
        r = agent.raw("POST", "/api/v1/tickets", json={
            **body, "resolution": {"answer": "见资料", "article_id": draft["id"]}})
        assert r.status_code == 422 and "resolution" in r.json()["error"]["fields"]
        t = agent.register({**body, "resolution": {"answer": "已告知到派出所办理",
                                                   "article_id": published["id"]}})
        assert t["resolution_article_id"] == published["id"]
        wait_for(lambda: agent.ticket(t["ticket_no"])["status"] == "resolved_at_intake",
                 what="resolved at intake")
