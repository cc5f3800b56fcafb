"""One order end to end across intake → dispatch → supervision → reporting, over RabbitMQ,
on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hotline.client import wait_for
from shared.business_time import business_today
from shared.errors import Conflict
from tests.integration.conftest import ORDER, load_city

SERVICES = ("intake", "dispatch", "supervision", "reporting")


class TestHappyPath:
    def test_order_is_dispatched_signed_replied_called_back_closed_and_counted(
            self, start: Any, rpc: Any, backend: str) -> None:
        start(*SERVICES)
        load_city(rpc)
        ticket = rpc.intake.register_ticket(ORDER, "agent1")
        no = ticket["ticket_no"]
        assert no[:8] == f"{business_today():%Y%m%d}" and len(no) == 14
        assert ticket["phone"] == "13800138000"

        assignments = wait_for(lambda: rpc.dispatch.assignments_of(no), what="dispatch")
        lead = next(a for a in assignments if a["role"] == "lead")
        assert lead["department_code"] == "chengguan"
        assert {a["department_code"] for a in assignments if a["role"] == "assist"} == {"jy_nancheng"}

        state = wait_for(lambda: (s := rpc.supervision.get_state(no))["clocks"] and s,
                         what="clocks")
        assert state["status"] == "dispatched"
        clock = next(c for c in state["clocks"] if c["assignment_id"] == lead["id"])
        assert clock["policy"].startswith("sign:normal=2wh;handle:complaint=15wd")
        assert clock["handle_due"] > clock["sign_due"]

        rpc.dispatch.sign(lead["id"], "chengguan", "dept_chengguan")
        wait_for(lambda: rpc.supervision.get_state(no)["status"] == "in_progress",
                 what="in_progress")
        assist = next(a for a in assignments if a["role"] == "assist")  # 协办意见 before the reply
        rpc.dispatch.sign(assist["id"], "jy_nancheng", "dept_jy_nancheng")
        rpc.dispatch.submit_opinion(assist["id"], "jy_nancheng", {"opinion": "街道已配合劝离"},
                                    "dept_jy_nancheng")
        rpc.dispatch.reply(lead["id"], "chengguan", {"reply": "已清理占道摊点"}, "dept_chengguan")
        state = wait_for(lambda: (s := rpc.supervision.get_state(no))["status"] == "replied" and s,
                         what="replied")
        assert state["callback_due"] is not None

        closed = rpc.supervision.record_callback(
            no, {"reached": True, "solved": True, "satisfaction": "satisfied"}, "supervisor1")
        assert closed["status"] == "closed"
        history = [h["to_status"] for h in rpc.supervision.get_state(no)["history"]]
        assert history == ["registered", "dispatched", "in_progress", "replied", "closed"]

        today = business_today().isoformat()

        def counted() -> Any:
            rows = rpc.reporting.kpis({"from": today, "to": today, "group_by": "department"})["rows"]
            row = next((r for r in rows if r["group"] == "chengguan"), None)
            return row if row and row["closed"] == 1 else None

        row = wait_for(counted, what="KPI row")
        assert row["intake"] == 1 and row["dispatched"] == 1
        assert row["on_time_sign"] == {"rate": 1.0, "numerator": 1, "sample": 1}
        assert row["on_time_completion"] == {"rate": 1.0, "numerator": 1, "sample": 1}

    def test_order_without_matching_rule_waits_for_a_dispatcher(
            self, start: Any, rpc: Any, backend: str) -> None:
        start(*SERVICES)
        load_city(rpc)
        order = {**ORDER, "category": "consultation", "territory_code": None,
                 "content": "请问市图书馆周一开放吗？"}
        no = rpc.intake.register_ticket(order, "agent1")["ticket_no"]
        wait_for(lambda: rpc.supervision.get_state(no)["status"] == "pending_dispatch",
                 what="pending_dispatch")
        assert rpc.dispatch.assignments_of(no) == []
        made = rpc.dispatch.dispatch(no, {"lead": "minzheng", "assists": ["jiaoyu"]}, "dispatcher1")
        assert [(a["department_code"], a["role"]) for a in made] == [("minzheng", "lead"),
                                                                      ("jiaoyu", "assist")]
        wait_for(lambda: rpc.supervision.get_state(no)["status"] == "dispatched", what="dispatched")


class TestRoutingCatalogueEdits:
    def test_a_new_rule_applies_to_the_next_order(self, start: Any, rpc: Any) -> None:
        start("intake", "dispatch")
        load_city(rpc)
        first = rpc.intake.register_ticket({**ORDER, "content": "路边井盖缺失，很危险"}, "agent1")
        lead = wait_for(lambda: rpc.dispatch.assignments_of(first["ticket_no"]), what="dispatch")
        assert lead[0]["department_code"] == "jiangyang"  # complaint → 属地 district (fallback)
        rpc.dispatch.load_reference({"rules": [{"keywords": ["井盖"], "lead": "shuiwu"}]})
        second = rpc.intake.register_ticket({**ORDER, "content": "路边井盖缺失，很危险"}, "agent1")
        lead = wait_for(lambda: rpc.dispatch.assignments_of(second["ticket_no"]), what="dispatch")
        assert lead[0]["department_code"] == "shuiwu"


class TestReopen:
    def test_unsatisfied_callback_reopens_to_the_same_department_with_new_clocks(
            self, start: Any, rpc: Any) -> None:
        start(*SERVICES)
        load_city(rpc)
        no = rpc.intake.register_ticket(ORDER, "agent1")["ticket_no"]
        first = wait_for(lambda: rpc.dispatch.assignments_of(no), what="dispatch")
        lead = next(a for a in first if a["role"] == "lead")
        rpc.dispatch.sign(lead["id"], lead["department_code"], "u")
        wait_for(lambda: rpc.supervision.get_state(no)["status"] == "in_progress", what="sign")
        for assist in (a for a in first if a["role"] == "assist"):  # 协办意见 before the reply
            rpc.dispatch.sign(assist["id"], assist["department_code"], "u")
            rpc.dispatch.submit_opinion(assist["id"], assist["department_code"],
                                        {"opinion": "已配合"}, "u")
        rpc.dispatch.reply(lead["id"], lead["department_code"], {"reply": "已处理"}, "u")
        wait_for(lambda: rpc.supervision.get_state(no)["status"] == "replied", what="reply")
        result = rpc.supervision.record_callback(
            no, {"reached": True, "solved": False, "satisfaction": "unsatisfied"}, "sup")
        assert result["outcome"] == "reopen"

        def second_round() -> Any:
            rounds = [a for a in rpc.dispatch.assignments_of(no) if a["round"] == 2]
            return rounds or None

        again = wait_for(second_round, what="the second round")
        assert [(a["department_code"], a["role"]) for a in again] == [(lead["department_code"], "lead")]
        state = wait_for(lambda: (s := rpc.supervision.get_state(no))["status"] == "dispatched"
                         and len(s["clocks"]) == len(first) + 1 and s, what="new clocks")
        new_clock = next(c for c in state["clocks"] if c["assignment_id"] == again[0]["id"])
        assert new_clock["started_at"] > lead["dispatched_at"]
        assert [h["to_status"] for h in state["history"]][-3:] == ["replied", "reopened", "dispatched"]


class TestReturns:
    def dispatched(self, start: Any, rpc: Any) -> tuple[str, dict[str, Any]]:
        start(*SERVICES)
        load_city(rpc)
        no = rpc.intake.register_ticket(ORDER, "agent1")["ticket_no"]
        first = wait_for(lambda: rpc.dispatch.assignments_of(no), what="dispatch")
        wait_for(lambda: rpc.supervision.get_state(no)["clocks"], what="clocks")
        return no, next(a for a in first if a["role"] == "lead")

    def test_approved_return_goes_back_to_dispatch_and_is_redispatched(
            self, start: Any, rpc: Any) -> None:
        no, lead = self.dispatched(start, rpc)
        req = rpc.supervision.request_return(
            lead["id"], lead["department_code"],
            {"reason_code": "function", "basis": "占道经营属街道管理"}, "dept")
        assert rpc.supervision.get_state(no)["status"] == "return_requested"
        wait_for(lambda: rpc.dispatch.get_assignment(lead["id"])["state"] == "return_requested",
                 what="dispatch to hold the assignment")
        with pytest.raises(Conflict):  # neither sign nor reply while the center decides
            rpc.dispatch.sign(lead["id"], lead["department_code"], "dept")
        decided = rpc.supervision.decide_return(req["id"], {"approve": True}, "dispatcher1")
        assert decided["state"] == "approved"
        assert rpc.supervision.get_state(no)["status"] == "pending_dispatch"
        wait_for(lambda: rpc.dispatch.get_assignment(lead["id"])["state"] == "returned",
                 what="returned")
        made = rpc.dispatch.dispatch(no, {"lead": "jy_nancheng"}, "dispatcher1")
        assert made[0]["round"] == 2
        state = wait_for(lambda: (s := rpc.supervision.get_state(no))["status"] == "dispatched"
                         and s, what="re-dispatched")
        stopped = next(c for c in state["clocks"] if c["assignment_id"] == lead["id"])
        assert stopped["stopped_at"] is not None  # the returned assignment's clocks stopped
        assert rpc.supervision.sweep((datetime.now(UTC) + timedelta(days=90)).isoformat())[
            "urges"] == 4  # only the new round's lead is urged (2 clocks × 2 thresholds)

    def test_rejected_return_leaves_the_order_with_the_department(
            self, start: Any, rpc: Any) -> None:
        no, lead = self.dispatched(start, rpc)
        rpc.dispatch.sign(lead["id"], lead["department_code"], "dept")
        wait_for(lambda: rpc.supervision.get_state(no)["status"] == "in_progress", what="sign")
        req = rpc.supervision.request_return(
            lead["id"], lead["department_code"], {"reason_code": "other", "basis": "不归我们"}, "d")
        with pytest.raises(Conflict):
            rpc.supervision.request_return(lead["id"], lead["department_code"],
                                           {"reason_code": "other", "basis": "再退"}, "d")
        rpc.supervision.decide_return(req["id"], {"approve": False, "note": "属本单位职责"}, "d1")
        assert rpc.supervision.get_state(no)["status"] == "in_progress"
        wait_for(lambda: rpc.dispatch.get_assignment(lead["id"])["state"] == "signed",
                 what="back to signed")
        with pytest.raises(Conflict):
            rpc.supervision.decide_return(req["id"], {"approve": True}, "d1")


class TestResolutionAtIntake:
    def test_answered_on_the_spot_is_not_dispatched_and_can_be_closed(
            self, start: Any, rpc: Any) -> None:
        start(*SERVICES)
        load_city(rpc)
        no = rpc.intake.register_ticket(
            {**ORDER, "category": "consultation",
             "resolution": {"answer": "已告知办理流程"}}, "agent1")["ticket_no"]
        wait_for(lambda: rpc.supervision.get_state(no)["status"] == "resolved_at_intake",
                 what="resolved at intake")
        assert rpc.dispatch.assignments_of(no) == []
        closed = rpc.supervision.close(no, {}, "supervisor1")
        assert closed["status"] == "closed"
        history = [h["to_status"] for h in rpc.supervision.get_state(no)["history"]]
        assert history == ["registered", "resolved_at_intake", "closed"]
