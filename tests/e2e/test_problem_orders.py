"""问题工单 over HTTP, across dispatch and supervision running as processes: an order
transferred three times (returned by its lead, approved, re-dispatched elsewhere) is flagged
by dispatch and escalated by supervision to a 督办单 for the department that now holds it."""

from __future__ import annotations

import pytest

from hotline.client import HotlineClient, wait_for
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e

# complaint with no keyword rule → the district government (江阳区) leads, nobody assists
MANHOLE = {"category": "complaint", "phone": "13900004321", "caller_name": "孙女士",
           "territory_code": "510502001002", "address": "水井沟社区",
           "content": "水井沟社区门口路边井盖缺失，晚上很危险，请尽快处理。"}
# where the dispatcher sends it after each return
NEXT = ["shuiwu", "zhujian", "chengguan"]


def current_lead(client: HotlineClient, no: str, round_: int) -> dict:
    return wait_for(lambda: next((a for a in client.ticket(no)["assignments"]
                                  if a["round"] == round_ and a["role"] == "lead" and a["clock"]),
                                 None), what=f"the lead of round {round_} with its clock")


def test_three_transfers_make_a_problem_order_supervised(system: System) -> None:
    agent, dispatcher, sup = (system.login(u) for u in ("agent1", "dispatcher1", "supervisor1"))
    no = agent.register(MANHOLE)["ticket_no"]
    for transfer, target in enumerate(NEXT, start=1):
        lead = current_lead(agent, no, transfer)
        dept = system.login(f"dept_{lead['department_code']}")
        req = dept.request("POST", f"/api/v1/assignments/{lead['id']}/return", json={
            "reason_code": "function", "basis": "不属本单位职能"})
        dispatcher.request("POST", f"/api/v1/returns/{req['id']}/decision",
                           json={"approve": True, "note": f"同意，改派{target}"})
        wait_for(lambda: agent.ticket(no)["status"] == "pending_dispatch",
                 what=f"pending dispatch after return {transfer}")
        assert sup.ticket(no)["lifecycle"].get("problem") is False  # not yet: transfers < 3
        dispatcher.dispatch(no, lead=target, reason="按职能改派")

    detail = wait_for(lambda: (d := sup.ticket(no))["lifecycle"]["problem"] and d,
                      what="the 问题工单 flag in supervision")
    [flag] = detail["lifecycle"]["problem_flags"]
    assert (flag["transfers"], flag["reopens"]) == (3, 0)
    holder = current_lead(agent, no, 4)
    assert holder["department_code"] == "chengguan"
    orders = wait_for(lambda: sup.ticket(no)["lifecycle"]["supervision_orders"],
                      what="the 督办单 of the problem order")
    assert [(o["source"], o["assignment_id"], o["department_code"]) for o in orders] == [
        ("problem", holder["id"], "chengguan")]
    # the department that holds the order sees its 督办单; an earlier one no longer does
    mine = system.login("dept_chengguan").ticket(no)["lifecycle"]["supervision_orders"]
    assert [o["id"] for o in mine] == [orders[0]["id"]]
    moves = [h["to_status"] for h in detail["lifecycle"]["history"]
             if h["from_status"] != h["to_status"]]
    assert moves.count("pending_dispatch") == 3 and moves.count("dispatched") == 4
    # the flag itself is in the history, with its reason, without changing the status
    [marked] = [h for h in detail["lifecycle"]["history"]
                if h["from_status"] == h["to_status"] == "dispatched"]
    assert "问题工单" in marked["reason"]
