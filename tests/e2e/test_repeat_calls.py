"""Repeat calls (重复来电), phone unmasking and confidential orders (涉密) over HTTP against every
service running as a process."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from hotline.client import ApiError, HotlineClient, wait_for
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e

STREET = "510502001002"


def unique_phone() -> str:
    return "139" + f"{uuid.uuid4().int % 10**8:08d}"


def matter(phone: str, content: str, **extra: Any) -> dict[str, Any]:
    return {"category": "complaint", "phone": phone, "territory_code": STREET,
            "caller_name": "赵先生", "content": content, **extra}


def lead_of(client: HotlineClient, no: str) -> dict[str, Any]:
    detail = wait_for(lambda: (d := client.ticket(no))["assignments"] and d, what="dispatch")
    return next(a for a in detail["assignments"] if a["role"] == "lead")


def status(exc: pytest.ExceptionInfo[ApiError]) -> int:
    return exc.value.status


class TestRepeatCalls:
    def test_related_link_hotspot_masking_and_audited_unmasking(self, system: System) -> None:
        agent1, agent2 = system.login("agent1"), system.login("agent2")
        first_phone, second_phone, third_phone = unique_phone(), unique_phone(), unique_phone()
        # a marker keeps this test's matter apart from the other orders of the shared system
        marker = f"水井沟{uuid.uuid4().hex[:4]}号院"
        t = agent1.register(matter(first_phone, f"{marker}门口每天晚上有流动摊贩占道经营，"
                                                "烧烤油烟很大，影响休息，请城管处理。"))
        no = t["ticket_no"]

        form = agent2.registration_form(first_phone)
        assert set(form["vocabulary"]["categories"]) >= {"complaint", "consultation"}
        assert form["vocabulary"]["categories"]["complaint"] == "投诉"
        assert [h["ticket_no"] for h in form["history"]] == [no]
        assert form["open_orders"][0]["ticket_no"] == no and form["history"][0]["status"]

        draft = matter(second_phone, f"{marker}门口夜里有人摆摊烧烤，油烟呛人，睡不着觉")
        related = agent2.related(draft)["items"]
        assert related and related[0]["ticket_no"] == no
        assert related[0]["reason"] == "similar_matter" and related[0]["score"] >= 0.45
        # registering anyway is not blocked, and shows the candidate too
        shown = agent2.register({**draft, "phone": unique_phone()})["related"]
        assert no in [r["ticket_no"] for r in shown]

        second = agent2.link(no, {"phone": second_phone, "content": draft["content"],
                                  "reason": "similar_matter", "call_id": f"call-{no}-2"})
        assert (second["callers"], second["hotspot"]) == (2, False)
        third = agent1.link(no, {"phone": third_phone, "caller_name": "钱女士",
                                 "content": "门口烧烤摊太吵", "call_id": f"call-{no}-3"})
        assert (third["callers"], third["hotspot_raised"]) == (3, True)
        again = agent1.link(no, {"phone": third_phone, "content": "门口烧烤摊太吵",
                                 "call_id": f"call-{no}-3"})
        assert again["replayed"] is True and again["hotspot_raised"] is False

        detail = agent1.ticket(no)
        assert detail["hotspot"]["callers"] == 3 and detail["callers"] == 3
        assert [x["phone"] for x in detail["links"]] == [second_phone, third_phone]
        with pytest.raises(ApiError) as err:
            agent1.link("20200101999999", {"phone": third_phone, "content": "x"})
        assert status(err) == 404
        with pytest.raises(ApiError) as err:
            agent1.link(no, {"content": " "})
        assert status(err) == 422 and {"phone", "content"} <= set(err.value.body["error"]["fields"])

        lead = lead_of(agent1, no)
        dept = system.login(f"dept_{lead['department_code']}")
        seen = dept.ticket(no)
        assert seen["phone"] == first_phone[:3] + "****" + first_phone[-4:]
        assert [x["phone"] for x in seen["links"]] == [
            p[:3] + "****" + p[-4:] for p in (second_phone, third_phone)]
        with pytest.raises(ApiError) as err:
            dept.unmask(no, "回电")
        assert status(err) == 422 and "reason" in err.value.body["error"]["fields"]
        assert dept.unmask(no, "需回电核实摊点位置")["phone"] == first_phone
        linked = seen["links"][1]["id"]
        assert dept.unmask(no, "需回电告知处理进度", link_id=linked)["phone"] == third_phone
        other = system.login("dept_gongan")
        with pytest.raises(ApiError) as err:
            other.unmask(no, "需回电核实摊点位置")
        assert status(err) == 404

        auditor = system.login("auditor1")
        log = auditor.audit_log(action="phone.unmask", target=no)["items"]
        actor = f"dept_{lead['department_code']}"
        assert [(e["actor"], e["detail"]["reason"]) for e in log] == [
            (actor, "需回电告知处理进度"), (actor, "需回电核实摊点位置")]
        assert log[0]["detail"]["link_id"] == linked and log[0]["at"]
        page = auditor.audit_log(limit=1)
        assert len(page["items"]) == 1 and page["next_cursor"]
        with pytest.raises(ApiError) as err:
            agent1.audit_log()
        assert status(err) == 403


class TestConfidentialOrders:
    def test_only_cleared_users_see_a_confidential_order(self, system: System) -> None:
        """涉密, and the caller also asked for privacy (保密): the assigned department handles
        it without learning who called."""
        agent1, agent2 = system.login("agent1"), system.login("agent2")
        admin, sup = system.login("admin"), system.login("supervisor1")
        phone = unique_phone()
        t = agent1.register(matter(phone, "水井沟社区有人在小区里私设赌场，涉及公职人员，请保密处理。",
                                   confidential=True, caller_privacy=True))
        no = t["ticket_no"]

        assert agent1.ticket(no)["confidential"] is True  # the agent who registered it
        assert sup.ticket(no)["ticket_no"] == no
        with pytest.raises(ApiError) as err:
            agent2.ticket(no)
        assert status(err) == 404
        assert no not in [x["ticket_no"] for x in agent2.tickets(phone=phone)["items"]]
        assert no in [x["ticket_no"] for x in agent1.tickets(phone=phone)["items"]]
        assert no not in [h["ticket_no"] for h in agent2.registration_form(phone)["history"]]
        assert no not in [r["ticket_no"] for r in agent2.related({"phone": phone})["items"]]

        lead = lead_of(sup, no)
        code = lead["department_code"]
        dept = system.login(f"dept_{code}")
        assert no in [i["ticket_no"] for i in dept.inbox(code, limit=500)["items"]]
        seen = dept.ticket(no)
        assert seen["caller_name"] == "赵**" and seen["phone"] == phone[:3] + "****" + phone[-4:]
        with pytest.raises(ApiError) as err:
            dept.unmask(no, "需回电核实情况")
        assert status(err) == 403 and err.value.body["error"]["state"] == "caller_privacy"
        assert sup.unmask(no, "督办回访需要")["phone"] == phone
        dispatcher = system.login("dispatcher1")
        assert no not in [i["ticket_no"] for i in dispatcher.inbox(code, limit=500)["items"]]
        issued = admin.request("POST", "/api/v1/admin/api-keys",
                               json={"department_code": code, "name": "own system"})
        system_key = HotlineClient(system.url, api_key=issued["api_key"])
        with pytest.raises(ApiError) as err:
            system_key.ticket(no)
        assert status(err) == 404
        assert no not in [i["ticket_no"] for i in system_key.inbox(code, limit=500)["items"]]

        assert admin.set_clearance("agent2", True)["cleared_confidential"] is True
        assert agent2.ticket(no)["ticket_no"] == no
        assert no in [x["ticket_no"] for x in agent2.tickets(phone=phone)["items"]]
        admin.set_clearance("agent2", False)
        with pytest.raises(ApiError) as err:
            agent2.ticket(no)
        assert status(err) == 404
