"""Dispatch's Step 2 over HTTP against every service running as a process: an approved return
goes back to the dispatchers and is re-dispatched to another department; 协办 opinions gate the
lead's reply; 下派 to a street which signs; the routing catalogue's admin routes."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.client import HotlineClient, wait_for
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e

# complaint, no keyword rule → 投诉按属地派单: 江阳区人民政府 leads, no assistant
MANHOLE = {"category": "complaint", "phone": "13900001234", "caller_name": "钱先生",
           "territory_code": "510502001002", "address": "水井沟社区",
           "content": "水井沟社区门口路边井盖缺失，晚上很危险。"}
# keyword rule 市容秩序: 城管 leads, the order's street (南城街道) assists
STALLS = {**MANHOLE, "content": "水井沟社区门口流动摊贩占道经营，堵塞人行道。"}


def round_of(client: HotlineClient, no: str, n: int = 1) -> list[dict[str, Any]]:
    return wait_for(lambda: [a for a in client.ticket(no)["assignments"] if a["round"] == n],
                    what=f"round {n} of {no}")


def with_clock(client: HotlineClient, no: str, assignment_id: int) -> dict[str, Any]:
    return wait_for(lambda: next((a for a in client.ticket(no)["assignments"]
                                  if a["id"] == assignment_id and a["clock"]), None),
                    what=f"clock of assignment {assignment_id}")


class TestDispatchOverHttp:
    def test_approved_return_goes_back_to_dispatch_and_is_redispatched(
            self, system: System) -> None:
        agent, dispatcher = system.login("agent1"), system.login("dispatcher1")
        no = agent.register(MANHOLE)["ticket_no"]
        (lead,) = round_of(agent, no)
        assert lead["department_code"] == "jiangyang"
        with_clock(agent, no, lead["id"])
        district = system.login("dept_jiangyang")
        req = district.request("POST", f"/api/v1/assignments/{lead['id']}/return", json={
            "reason_code": "function", "basis": "井盖属市水务局管网设施"})
        dispatcher.request("POST", f"/api/v1/returns/{req['id']}/decision",
                           json={"approve": True, "note": "同意，改派水务"})

        item = wait_for(lambda: next((i for i in dispatcher.dispatch_queue(limit=500)["items"]
                                      if i["ticket_no"] == no), None),
                        what="the order back in the dispatch queue")
        assert (item["waiting_reason"], item["round"]) == ("returned", 2)
        # the catalogue's choice was just returned; routing help (派单辅助) may suggest another
        # department, asynchronously, never the one that returned it
        suggested = item["suggestion"]
        assert suggested is None or (suggested["source"], suggested["lead"] != "jiangyang") == (
            "knowledge", True)
        wait_for(lambda: agent.ticket(no)["status"] == "pending_dispatch", what="pending_dispatch")
        r = dispatcher.raw("POST", f"/api/v1/tickets/{no}/dispatch", json={"lead": "nosuch"})
        assert r.status_code == 422 and "lead" in r.json()["error"]["fields"]
        r = agent.raw("POST", f"/api/v1/tickets/{no}/dispatch", json={"lead": "shuiwu"})
        assert r.status_code == 403  # agents do not dispatch

        made = dispatcher.dispatch(no, lead="shuiwu", reason="井盖属供排水管网")["assignments"]
        assert [(a["department_code"], a["round"]) for a in made] == [("shuiwu", 2)]
        wait_for(lambda: agent.ticket(no)["status"] == "dispatched", what="re-dispatched")
        history = [(a["round"], a["department_code"], a["state"])
                   for a in agent.ticket(no)["assignments"]]
        assert history == [(1, "jiangyang", "returned"), (2, "shuiwu", "dispatched")]
        decisions = [(d["round"], d["decision"], d["lead"], d["reason"])
                     for d in dispatcher.dispatch_history(no)["items"]]
        assert decisions[0] == (1, "auto", "jiangyang", None)
        # manual, or the knowledge base's suggestion if it had arrived (accepted / overridden)
        assert decisions[1][0] == 2 and decisions[1][2:] == ("shuiwu", "井盖属供排水管网")
        assert decisions[1][1] in ("manual", "accepted", "overridden")
        water = system.login("dept_shuiwu")
        assert any(i["ticket_no"] == no for i in water.inbox("shuiwu", state="dispatched")["items"])
        assert water.sign(made[0]["id"])["state"] == "signed"
        r = dispatcher.raw("POST", f"/api/v1/tickets/{no}/dispatch", json={"lead": "zhujian"})
        assert r.status_code == 409 and r.json()["error"]["action"] == "dispatch"

    def test_assistants_opinion_gates_the_leads_reply(self, system: System) -> None:
        agent = system.login("agent1")
        no = agent.register(STALLS)["ticket_no"]
        made = round_of(agent, no)
        lead = next(a for a in made if a["role"] == "lead")
        assist = next(a for a in made if a["role"] == "assist")
        assert (lead["department_code"], assist["department_code"]) == ("chengguan",
                                                                        "jy_nancheng")
        cg, street = system.login("dept_chengguan"), system.login("dept_jy_nancheng")
        cg.sign(lead["id"])
        r = cg.raw("POST", f"/api/v1/assignments/{lead['id']}/reply", json={"reply": "已处理"})
        assert r.status_code == 409
        error = r.json()["error"]
        assert (error["action"], error["state"]) == ("reply", "assists_pending")
        assert [p["department_code"] for p in error["pending"]] == ["jy_nancheng"]

        assert street.raw("GET", f"/api/v1/assignments/{lead['id']}").status_code == 404
        r = street.raw("POST", f"/api/v1/assignments/{assist['id']}/opinion", json={"opinion": ""})
        assert r.status_code == 422 and "opinion" in r.json()["error"]["fields"]
        street.sign(assist["id"])
        done = street.opinion(assist["id"], "街道城管中队已到场劝离摊贩。")
        assert done["state"] == "opinion_submitted"
        seen = cg.assignment(lead["id"])["assists"]
        assert [(v["department_code"], v["opinion"]) for v in seen] == [
            ("jy_nancheng", "街道城管中队已到场劝离摊贩。")]
        assert cg.reply(lead["id"], "已联合街道劝离摊贩，并加强巡查。")["state"] == "replied"
        wait_for(lambda: agent.ticket(no)["status"] == "replied", what="replied")

    def test_district_passes_down_to_its_street_which_signs(self, system: System) -> None:
        agent = system.login("agent1")
        no = agent.register(MANHOLE)["ticket_no"]
        (lead,) = round_of(agent, no)
        district = system.login("dept_jiangyang")
        r = district.raw("POST", f"/api/v1/assignments/{lead['id']}/pass-down",
                         json={"department_code": "nx_anfu"})
        assert r.status_code == 422 and "department_code" in r.json()["error"]["fields"]
        other = system.login("dept_naxi")
        r = other.raw("POST", f"/api/v1/assignments/{lead['id']}/pass-down",
                      json={"department_code": "nx_anfu"})
        assert r.status_code == 404  # another department's assignment
        child = district.pass_down(lead["id"], "jy_nancheng", "井盖位于南城街道辖区")
        assert (child["department_code"], child["role"], child["state"]) == (
            "jy_nancheng", "lead", "dispatched")
        r = district.raw("POST", f"/api/v1/assignments/{lead['id']}/pass-down",
                         json={"department_code": "jy_beicheng"})
        assert r.status_code == 409 and r.json()["error"]["state"] == "passed_down"

        street = system.login("dept_jy_nancheng")
        inbox = street.inbox("jy_nancheng", state="dispatched")["items"]
        item = next(i for i in inbox if i["ticket_no"] == no)
        assert item["id"] == child["id"] and item["pass_down_note"] == "井盖位于南城街道辖区"
        assert street.sign(child["id"])["state"] == "signed"
        links = [(a["department_code"], a["state"], a["passed_to_id"], a["passed_from_id"])
                 for a in agent.ticket(no)["assignments"]]
        assert links == [("jiangyang", "passed_down", child["id"], None),
                         ("jy_nancheng", "signed", None, lead["id"])]

    def test_the_catalogue_is_versioned_and_audited_for_admins(self, system: System) -> None:
        admin, dispatcher = system.login("admin"), system.login("dispatcher1")
        before = admin.routing_rules()["catalogue_version"]
        assert dispatcher.raw("GET", "/api/v1/admin/routing-rules").status_code == 403
        r = admin.raw("POST", "/api/v1/admin/routing-rules",
                      json={"keywords": ["共享单车"], "lead": "nosuch"})
        assert r.status_code == 422 and "lead" in r.json()["error"]["fields"]
        made = admin.create_routing_rule(keywords=["共享单车"], lead="@street",
                                         assists=["jiaotong"], comment="共享单车乱停放")
        assert made["catalogue_version"] == before + 1
        admin.update_routing_rule(made["id"], priority=5)
        admin.deactivate_routing_rule(made["id"], "试行结束")
        history = admin.routing_rule_history(made["id"])["items"]
        assert [(h["action"], h["catalogue_version"], h["actor"]) for h in history] == [
            ("create", before + 1, "admin"), ("update", before + 2, "admin"),
            ("deactivate", before + 3, "admin")]
        changes = admin.catalogue_changes(cursor=history[0]["id"] - 1)["items"]
        assert [c["id"] for c in changes][-3:] == [h["id"] for h in history]
