"""Routing help (派单辅助) over RabbitMQ with real containers, on SQLite and PostgreSQL: an order
no catalogue rule matches ends up in dispatch's 预审 queue with the knowledge base's suggestion
and its reasons, learnt from the published 部门职能 entries and from where the catalogue sent
earlier orders; the dispatcher accepts it; the console's route answers, and refuses bad input
naming the field.

Real: intake, dispatch, knowledge and the gateway (HTTP), the broker, the databases."""

from __future__ import annotations

from typing import Any

import pytest

from hotline import demo
from hotline.client import ApiError, HotlineClient, wait_for
from tests.integration.conftest import load_city
from tests.routing_labelled import ADMIN, ENTRIES, entry_payload

pytestmark = pytest.mark.timeout(180)

MANHOLE = {"category": "consultation", "phone": "+86 138-0013-8001",
           "territory_code": "510502001", "address": "白塔路",
           "content": "白塔路的窨井盖丢了，晚上有人差点掉下去，污水井还往外冒水"}
NO_WATER = {"category": "consultation", "phone": "+86 138-0013-8002",
            "territory_code": "510502002",
            "content": "家里停水两天了，门口的污水井往外冒水，晚上也没人管"}


def publish_entries(rpc: Any) -> None:
    for e in ENTRIES:
        rpc.knowledge.create_article(entry_payload(e), ADMIN)


def test_an_unmatched_order_waits_with_the_knowledge_suggestion_and_its_reasons(
        start: Any, rpc: Any, config: dict[str, Any], backend: str) -> None:
    start("intake", "dispatch", "knowledge", "gateway")
    load_city(rpc)
    rpc.gateway.load_users(demo.users(demo.DEPARTMENTS))
    publish_entries(rpc)

    # history: the catalogue sends 停水 to 市水务局, and knowledge learns where it went
    past = rpc.intake.register_ticket(NO_WATER, "agent1")["ticket_no"]
    wait_for(lambda: rpc.dispatch.assignments_of(past), what="the catalogue's dispatch")
    wait_for(lambda: any("相似历史工单" in r for s in rpc.knowledge.suggest_departments(
        {"text": NO_WATER["content"]})["suggestions"] for r in s["reasons"]),
        what="knowledge learnt where the order went")

    no = rpc.intake.register_ticket(MANHOLE, "agent1")["ticket_no"]
    item = wait_for(lambda: next((i for i in rpc.dispatch.queue({})["items"]
                                  if i["ticket_no"] == no and i["suggestion"]), None),
                    what="the knowledge suggestion in dispatch's queue")
    s = item["suggestion"]
    assert item["waiting_reason"] == "unmatched"
    assert (s["source"], s["lead"], s["assists"], s["rule_id"]) == ("knowledge", "shuiwu", [],
                                                                    None)
    assert 0 < s["score"] <= 1 and s["confidence"] is not None
    assert any(r.startswith("部门职能「市水务局主要职责」命中：") for r in s["reasons"])
    assert any(r.startswith("相似历史工单 1 件派往该部门") and past in r for r in s["reasons"])

    made = rpc.dispatch.dispatch(no, {"accept_suggestion": True}, "dispatcher1")
    assert [(a["department_code"], a["role"]) for a in made] == [("shuiwu", "lead")]
    assert rpc.dispatch.dispatch_history(no)[0]["suggestion_source"] == "knowledge"

    # the console's route, as a dispatcher; bad input names the field; agents may not ask
    base = f"http://{config['WEB_SERVER_ADDRESS']}"
    dispatcher = HotlineClient.login(base, "dispatcher1", demo.DEMO_PASSWORD)
    found = dispatcher.request("POST", "/api/v1/kb/route-suggestions",
                               json={"text": "老旧小区楼道堆放杂物没人管",
                                     "territory_code": "510504001", "limit": 3})
    assert found["suggestions"][0]["department_code"] == "lmt_xiaoshi"
    assert "属地：小市街道" in found["suggestions"][0]["reasons"]
    for body, field in [({"text": "  "}, "text"), ({"text": "井盖", "category": "poem"},
                                                    "category")]:
        with pytest.raises(ApiError) as err:
            dispatcher.request("POST", "/api/v1/kb/route-suggestions", json=body)
        assert err.value.status == 422 and field in err.value.body["error"]["fields"]
    agent = HotlineClient.login(base, "agent1", demo.DEMO_PASSWORD)
    with pytest.raises(ApiError) as err:
        agent.request("POST", "/api/v1/kb/route-suggestions", json={"text": "井盖"})
    assert err.value.status == 403


def test_a_wrong_lead_returned_the_order_comes_back_with_a_suggestion_without_it(
        start: Any, rpc: Any, backend: str) -> None:
    start("intake", "dispatch", "supervision", "knowledge")
    load_city(rpc)
    publish_entries(rpc)
    no = rpc.intake.register_ticket(MANHOLE, "agent1")["ticket_no"]
    wait_for(lambda: any(i["ticket_no"] == no and i["suggestion"]
                         for i in rpc.dispatch.queue({})["items"]), what="the first suggestion")
    [wrong] = rpc.dispatch.dispatch(no, {"lead": "chengguan"}, "dispatcher1")  # no reason needed
    wait_for(lambda: rpc.supervision.get_state(no)["status"] == "dispatched",
             what="supervision knows the dispatch")
    req = rpc.supervision.request_return(wrong["id"], "chengguan", {
        "reason_code": "function", "basis": "窨井盖属水务部门管理"}, "dept_chengguan")
    rpc.supervision.decide_return(req["id"], {"approve": True}, "dispatcher1")
    item = wait_for(lambda: next((i for i in rpc.dispatch.queue({})["items"]
                                  if i["ticket_no"] == no and i["waiting_reason"] == "returned"
                                  and i["suggestion"]), None),
                    what="the order back in the queue with a new suggestion")
    assert item["round"] == 2
    assert (item["suggestion"]["source"], item["suggestion"]["lead"]) == ("knowledge", "shuiwu")
    assert "chengguan" not in [a["department_code"] for a in item["suggestion"]["alternatives"]]
    made = rpc.dispatch.dispatch(no, {"accept_suggestion": True}, "dispatcher1")
    assert (made[0]["department_code"], made[0]["round"]) == ("shuiwu", 2)

    def learnt() -> Any:  # the order counts for 市水务局 now, not for 城管
        found = rpc.knowledge.suggest_departments({"text": MANHOLE["content"]})["suggestions"]
        said = {s["department_code"]: " ".join(s["reasons"]) for s in found}
        return "相似历史工单 1 件" in said.get("shuiwu", "") and "相似历史工单" not in said.get(
            "chengguan", "") and said
    wait_for(learnt, what="knowledge moved the count to the department that kept the order")
