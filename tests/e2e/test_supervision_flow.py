"""督办 over HTTP against every service running as a process: reopening (重办) after an
unsatisfied callback and by hand, a 督办单 with the department's explanation and an urge
answer, and 回头看 of a closed order."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.client import HotlineClient, wait_for
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e

ORDER = {
    "category": "complaint", "phone": "0830-2345678", "caller_name": "钱女士",
    "territory_code": "510502001002", "address": "水井沟社区",
    "content": "小区门口流动摊贩占道经营，早晚高峰堵路，请城管处理。",
}


def leads(client: HotlineClient, no: str, count: int) -> list[dict[str, Any]]:
    """The order's lead assignments once there are ``count`` of them, each with its clock."""
    def ready() -> Any:
        found = [a for a in client.ticket(no)["assignments"] if a["role"] == "lead"]
        return found if len(found) == count and all(a["clock"] for a in found) else None
    return wait_for(ready, what=f"{count} lead assignment(s) with clocks")


def handle_round(system: System, agent: HotlineClient, no: str, assignment_id: int) -> None:
    dept = system.login("dept_chengguan")
    dept.sign(assignment_id)
    wait_for(lambda: agent.ticket(no)["status"] == "in_progress", what="in_progress")
    system.give_opinions(no)
    dept.reply(assignment_id, "已责令摊贩退出占道区域。")
    wait_for(lambda: agent.ticket(no)["status"] == "replied", what="replied")


class TestReopen:
    def test_unsatisfied_callback_then_by_hand_each_opens_a_new_round(
            self, system: System) -> None:
        agent, sup = system.login("agent1"), system.login("supervisor1")
        no = agent.register(ORDER)["ticket_no"]
        [first] = leads(agent, no, 1)
        handle_round(system, agent, no, first["id"])

        reopened = sup.callback(no, reached=True, solved=False, satisfaction="unsatisfied",
                                note="摊贩晚上又回来了")
        assert reopened["status"] == "reopened"
        first_round, second = leads(agent, no, 2)
        assert second["department_code"] == "chengguan" and second["id"] != first["id"]
        assert second["clock"]["started_at"] > first["clock"]["started_at"]
        assert second["clock"]["replied_at"] is None and first_round["clock"]["replied_at"]
        detail = wait_for(lambda: (d := agent.ticket(no))["status"] == "dispatched" and d,
                          what="dispatched again")
        assert [h["to_status"] for h in detail["lifecycle"]["history"]] == [
            "registered", "dispatched", "in_progress", "replied", "reopened", "dispatched"]

        # 重办 by hand: supervisors only, a reason, only from replied
        assert agent.raw("POST", f"/api/v1/tickets/{no}/reopen",
                         json={"reason": "答复不实"}).status_code == 403
        r = sup.raw("POST", f"/api/v1/tickets/{no}/reopen", json={"reason": "答复不实"})
        assert r.status_code == 409 and r.json()["error"]["state"] == "dispatched"
        handle_round(system, agent, no, second["id"])
        r = sup.raw("POST", f"/api/v1/tickets/{no}/reopen", json={})
        assert r.status_code == 422 and "reason" in r.json()["error"]["fields"]
        assert sup.reopen(no, "答复与现场不符，重办")["status"] == "reopened"
        third = leads(agent, no, 3)[2]
        assert third["clock"]["started_at"] > second["clock"]["started_at"]


class TestSupervisionOrderAndUrgeAnswer:
    def test_supervise_explain_and_answer_an_urge(self, system: System) -> None:
        agent, sup = system.login("agent1"), system.login("supervisor1")
        dept, other = system.login("dept_chengguan"), system.login("dept_huanbao")
        no = agent.register(ORDER)["ticket_no"]
        [lead] = leads(agent, no, 1)

        assert agent.raw("POST", f"/api/v1/tickets/{no}/supervise", json={}).status_code == 403
        made = sup.supervise(no, assignment_id=lead["id"], note="群众反映强烈")
        [order] = made["supervision_orders"]
        assert (order["source"], order["state"], order["department_code"]) == (
            "manual", "open", "chengguan")
        assert order["explanation_due"] < order["escalate_at"]
        r = sup.raw("POST", f"/api/v1/tickets/{no}/supervise", json={"assignment_id": lead["id"]})
        assert r.status_code == 409

        mine = dept.department_supervision("chengguan")["supervision_orders"]
        assert order["id"] in [o["id"] for o in mine]
        assert other.raw("GET", "/api/v1/departments/chengguan/supervision").status_code == 404
        path = f"/api/v1/supervision-orders/{order['id']}/explanation"
        assert other.raw("POST", path, json={"explanation": "不归我们"}).status_code == 404
        assert sup.raw("POST", path, json={"explanation": "代为说明"}).status_code == 403
        assert dept.raw("POST", path, json={}).status_code == 422
        explained = dept.explain(order["id"], "涉及多个摊点，已联合街道整治")
        assert explained["state"] == "explained" and explained["explanation_late"] is False
        assert dept.raw("POST", path, json={"explanation": "再说明"}).status_code == 409

        [urge] = sup.request("POST", f"/api/v1/tickets/{no}/urge",
                             json={"assignment_id": lead["id"], "channel": "phone"})["urges"]
        answer_path = f"/api/v1/urges/{urge['id']}/answer"
        assert other.raw("POST", answer_path, json={"answer": "已处理"}).status_code == 404
        assert dept.answer_urge(urge["id"], "今日内签收处理")["answered_by"] == "dept_chengguan"

        lifecycle = dept.ticket(no)["lifecycle"]
        [shown] = lifecycle["supervision_orders"]
        assert shown["explanation"] == "涉及多个摊点，已联合街道整治"
        assert lifecycle["urges"][0]["answer"] == "今日内签收处理"


class TestRecheck:
    def test_recheck_of_a_closed_order_leaves_the_closure_alone(self, system: System) -> None:
        agent, sup = system.login("agent1"), system.login("supervisor1")
        no = agent.register(ORDER)["ticket_no"]
        [lead] = leads(agent, no, 1)
        r = sup.raw("POST", f"/api/v1/tickets/{no}/recheck", json={})
        assert r.status_code == 409 and r.json()["error"]["action"] == "recheck"
        handle_round(system, agent, no, lead["id"])
        sup.callback(no, reached=True, solved=True, satisfaction="satisfied")
        before = agent.ticket(no)
        assert before["status"] == "closed"

        assert agent.raw("POST", f"/api/v1/tickets/{no}/recheck", json={}).status_code == 403
        picked = sup.recheck(no, "季度回头看抽查")
        assert picked["finding"] is None
        r = sup.raw("POST", f"/api/v1/rechecks/{picked['id']}/result", json={"finding": "meh"})
        assert r.status_code == 422 and "finding" in r.json()["error"]["fields"]
        done = sup.recheck_result(picked["id"], "confirmed", "现场已无占道经营")
        assert done["finding"] == "confirmed"

        after = agent.ticket(no)
        assert after["status"] == "closed"
        for key in ("closed_at", "close_reason", "history", "callbacks"):
            assert after["lifecycle"][key] == before["lifecycle"][key], key
        assert [(c["finding"], c["result_note"]) for c in after["lifecycle"]["rechecks"]] == [
            ("confirmed", "现场已无占道经营")]
