"""Departments as endpoints over HTTP against every service running as a process: an admin
configures a webhook for 城管, an agent registers an order, and the department's system (a real
local receiver verifying signatures) receives the dispatch and the deadlines, promptly; the
pull feed, recall, progress and the operators' delivery routes, with their bad input."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.client import ApiError, wait_for
from tests.e2e.conftest import System
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e

# keyword rule 市容秩序: 城管 leads, the order's street (南城街道) assists
STALLS = {"category": "complaint", "phone": "13900001234", "caller_name": "钱先生",
          "territory_code": "510502001002", "address": "水井沟社区",
          "content": "水井沟社区门口流动摊贩占道经营，堵塞人行道。"}


@pytest.fixture(scope="module")
def receiver() -> Any:
    r = Receiver()
    yield r
    r.close()


def lead_of(client: Any, no: str) -> dict[str, Any]:
    return wait_for(lambda: next((a for a in client.ticket(no)["assignments"]
                                  if a["role"] == "lead"), None), what=f"lead of {no}")


class TestWebhookOverProcesses:
    def test_dispatched_order_reaches_the_departments_system(self, system: System,
                                                             receiver: Receiver) -> None:
        admin, agent = system.login("admin"), system.login("agent1")
        made = admin.create_endpoint("chengguan", "webhook", url=receiver.url_for("chengguan"),
                                     timeout_seconds=2)
        receiver.secrets["chengguan"] = made["secret"]
        listed = admin.endpoints("chengguan")["items"]
        assert [e["id"] for e in listed if e["active"]] == [made["id"]]
        assert all("secret" not in e for e in listed)
        no = agent.register(STALLS)["ticket_no"]
        got = wait_for(lambda: (e := [x for x in receiver.of("chengguan")
                                      if x["ticket_no"] == no]) and len(e) >= 2 and e,
                       what="the dispatch and the deadlines pushed", timeout=30)
        assert [e["type"] for e in got[:2]] == ["assignment.dispatched",
                                                "assignment.deadlines_set"]
        assert got[0]["data"]["phone"] == "139****1234"
        assert got[0]["seq"] < got[1]["seq"]
        assert receiver.refused == []
        deliveries = wait_for(lambda: [d for d in admin.deliveries(
            department_code="chengguan", state="delivered")["items"]
            if d["seq"] in (got[0]["seq"], got[1]["seq"])] or None, what="delivered")
        detail = admin.delivery(deliveries[0]["id"])
        assert detail["attempt_log"][0]["status_code"] == 200

        # the same entries in the pull feed, for the department's user and not another's
        dept = system.login("dept_chengguan")
        page = dept.department_feed("chengguan", limit=500)
        assert {e["seq"] for e in page["items"]} >= {got[0]["seq"], got[1]["seq"]}
        with pytest.raises(ApiError) as exc:
            system.login("dept_shuiwu").department_feed("chengguan")
        assert exc.value.status == 404

        # progress by the lead; another department's attempt on it is 404
        lead = lead_of(agent, no)
        note = dept.note_progress(lead["id"], "已安排执法队员到场")
        assert dept.assignment(lead["id"])["progress"][0]["id"] == note["id"]
        with pytest.raises(ApiError) as exc:
            system.login("dept_shuiwu").note_progress(lead["id"], "x")
        assert exc.value.status == 404

        # recall by a dispatcher: pushed to the department, the order back in the queue
        dispatcher = system.login("dispatcher1")
        with pytest.raises(ApiError) as exc:
            agent.recall(no, "派错")
        assert exc.value.status == 403
        out = dispatcher.recall(no, "派错部门，应由街道处理")
        assert lead["id"] in out["assignment_ids"]
        wait_for(lambda: any(e["type"] == "assignment.recalled" and e["ticket_no"] == no
                             for e in receiver.of("chengguan")), what="recall pushed")
        assert any(i["ticket_no"] == no and i["waiting_reason"] == "recalled"
                   for i in dispatcher.dispatch_queue(limit=500)["items"])

    def test_bad_input(self, system: System) -> None:
        admin = system.login("admin")
        with pytest.raises(ApiError) as exc:
            admin.create_endpoint("chengguan", "webhook", url="ftp://example.org/x")
        assert exc.value.status == 422 and "url" in exc.value.body["error"]["fields"]
        with pytest.raises(ApiError) as exc:
            admin.create_endpoint("nosuch", "pull")
        assert exc.value.status == 404
        with pytest.raises(ApiError) as exc:
            admin.replay_delivery(999999)
        assert exc.value.status == 404
        with pytest.raises(ApiError) as exc:
            system.login("dispatcher1").deliveries()
        assert exc.value.status == 403
        with pytest.raises(ApiError) as exc:
            system.login("dept_chengguan").department_feed("chengguan", limit=0)
        assert exc.value.status == 422
