"""Dispatch's Step 2 over RabbitMQ with real containers, on SQLite and PostgreSQL: 预审 queue and
acceptance, 协办 opinions gating the lead's reply (deadlines learnt from supervision's
``assignment.clocks_started``), 下派 to a street, and 问题工单 after three transfers.

Where supervision is not started, the test publishes the one supervision fact the behaviour
needs (``assignment.clocks_started``) at the broker — the edge of the layer under test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hotline.client import wait_for
from shared.errors import Conflict
from shared.events import make_envelope
from tests.integration.conftest import ORDER, load_city
from tests.integration.test_reliability import publish

MANHOLE = {**ORDER, "content": "路边井盖缺失，很危险"}  # complaint → 属地: 江阳区 leads


def assignments(rpc: Any, no: str, round_: int = 1) -> list[dict[str, Any]]:
    return wait_for(lambda: [a for a in rpc.dispatch.assignments_of(no) if a["round"] == round_],
                    what=f"round {round_} of {no}")


class TestReview:
    def test_review_queue_accept_dispatches(self, start: Any, rpc: Any, backend: str) -> None:
        start("intake", "dispatch", "supervision", DISPATCH_REVIEW={"default": "all"})
        load_city(rpc)
        no = rpc.intake.register_ticket(ORDER, "agent1")["ticket_no"]
        wait_for(lambda: rpc.supervision.get_state(no)["status"] == "pending_dispatch",
                 what="pending_dispatch (ticket.pending_dispatch reached supervision)")
        item = next(i for i in rpc.dispatch.queue({})["items"] if i["ticket_no"] == no)
        assert item["waiting_reason"] == "review"
        assert item["suggestion"]["lead"] == "chengguan"
        assert item["suggestion"]["assists"] == ["jy_nancheng"]
        assert rpc.dispatch.assignments_of(no) == []
        made = rpc.dispatch.dispatch(no, {"accept_suggestion": True}, "dispatcher1")
        assert [(a["department_code"], a["rule_id"]) for a in made] == [
            ("chengguan", item["suggestion"]["rule_id"]),
            ("jy_nancheng", item["suggestion"]["rule_id"])]
        state = wait_for(lambda: (s := rpc.supervision.get_state(no))["status"] == "dispatched"
                         and len(s["clocks"]) == 2 and s, what="dispatched with clocks")
        assert state["history"][-1]["actor"] == "dispatcher1"
        assert rpc.dispatch.queue({})["items"] == []


class TestOpinions:
    def test_opinion_then_reply_with_real_supervision_deadlines(
            self, start: Any, rpc: Any, backend: str) -> None:
        start("intake", "dispatch", "supervision")
        load_city(rpc)
        no = rpc.intake.register_ticket(ORDER, "agent1")["ticket_no"]
        made = assignments(rpc, no)
        lead = next(a for a in made if a["role"] == "lead")
        assist = next(a for a in made if a["role"] == "assist")
        clocks = wait_for(lambda: len(c := rpc.supervision.get_state(no)["clocks"]) == 2 and c,
                          what="clocks")
        clock = next(c for c in clocks if c["assignment_id"] == assist["id"])
        # dispatch learnt the assistant's deadline from supervision's assignment.clocks_started
        seen = wait_for(lambda: (v := rpc.dispatch.get_assignment(lead["id"])["assists"][0])[
            "handle_due"] and v, what="dispatch to learn the assistant's deadline")
        assert datetime.fromisoformat(seen["handle_due"]) == datetime.fromisoformat(
            clock["handle_due"])
        rpc.dispatch.sign(lead["id"], "chengguan", "dept_chengguan")
        with pytest.raises(Conflict) as exc:
            rpc.dispatch.reply(lead["id"], "chengguan", {"reply": "已处理"}, "dept_chengguan")
        assert exc.value.details["state"] == "assists_pending"
        assert [p["department_code"] for p in exc.value.details["pending"]] == ["jy_nancheng"]

        rpc.dispatch.sign(assist["id"], "jy_nancheng", "dept_jy_nancheng")
        rpc.dispatch.submit_opinion(assist["id"], "jy_nancheng",
                                    {"opinion": "街道已安排网格员配合"}, "dept_jy_nancheng")
        view = rpc.dispatch.get_assignment(lead["id"], "chengguan")["assists"][0]
        assert (view["state"], view["opinion"]) == ("opinion_submitted", "街道已安排网格员配合")
        rpc.dispatch.reply(lead["id"], "chengguan", {"reply": "已处理"}, "dept_chengguan")
        wait_for(lambda: rpc.supervision.get_state(no)["status"] == "replied", what="replied")

    def test_reply_blocked_until_the_assistants_deadline_passes(
            self, start: Any, rpc: Any, config: dict[str, Any], backend: str) -> None:
        start("intake", "dispatch")  # supervision replaced at the broker by this test
        load_city(rpc)
        no = rpc.intake.register_ticket(ORDER, "agent1")["ticket_no"]
        made = assignments(rpc, no)
        lead = next(a for a in made if a["role"] == "lead")
        assist = next(a for a in made if a["role"] == "assist")
        rpc.dispatch.sign(lead["id"], "chengguan", "dept_chengguan")

        def clocks_started(handle_due: datetime) -> None:
            now = datetime.now(UTC)
            publish(config["AMQP_URI"], make_envelope("assignment.clocks_started", {
                "assignment_id": assist["id"], "ticket_no": no, "department_code": "jy_nancheng",
                "role": "assist", "started_at": now, "sign_due": now + timedelta(hours=2),
                "handle_due": handle_due, "policy": "test"}, producer="supervision",
                ticket_no=no, sequence=2), "assignment.clocks_started")

        def known_due() -> Any:
            return rpc.dispatch.get_assignment(lead["id"])["assists"][0]["handle_due"]

        with pytest.raises(Conflict):  # no deadline known yet: the assistant counts as pending
            rpc.dispatch.reply(lead["id"], "chengguan", {"reply": "已处理"}, "dept_chengguan")
        future = datetime.now(UTC) + timedelta(days=2)
        clocks_started(future)
        wait_for(lambda: known_due() and datetime.fromisoformat(known_due()) == future,
                 what="the future deadline")
        with pytest.raises(Conflict) as exc:
            rpc.dispatch.reply(lead["id"], "chengguan", {"reply": "已处理"}, "dept_chengguan")
        assert exc.value.details["pending"][0]["handle_due"] is not None
        passed = datetime.now(UTC) - timedelta(minutes=1)
        clocks_started(passed)  # (a restarted clock: the deadline is now behind us)
        wait_for(lambda: datetime.fromisoformat(known_due()) == passed, what="the passed deadline")
        replied = rpc.dispatch.reply(lead["id"], "chengguan", {"reply": "已处理"}, "dept_chengguan")
        assert replied["state"] == "replied"


class TestPassDown:
    def test_district_passes_down_and_the_streets_inbox_shows_it(
            self, start: Any, rpc: Any, backend: str) -> None:
        start("intake", "dispatch", "reporting")
        load_city(rpc)
        no = rpc.intake.register_ticket(MANHOLE, "agent1")["ticket_no"]
        (lead,) = assignments(rpc, no)
        assert lead["department_code"] == "jiangyang"
        child = rpc.dispatch.pass_down(lead["id"], "jiangyang",
                                       {"department_code": "jy_nancheng", "note": "属地街道处理"},
                                       "dept_jiangyang")
        inbox = rpc.dispatch.inbox("jy_nancheng", {"state": "dispatched"})["items"]
        item = next(i for i in inbox if i["ticket_no"] == no)
        assert (item["id"], item["role"], item["passed_from_id"]) == (child["id"], "lead",
                                                                       lead["id"])
        assert rpc.dispatch.get_assignment(lead["id"])["state"] == "passed_down"
        wait_for(lambda: rpc.reporting.event_counts().get("assignment.passed_down") == 1,
                 what="assignment.passed_down on the bus")
        assert rpc.dispatch.sign(child["id"], "jy_nancheng", "dept_jy_nancheng")["state"] == \
            "signed"


class TestProblemOrders:
    def test_three_approved_returns_and_redispatches_flag_the_order_once(
            self, start: Any, rpc: Any, backend: str) -> None:
        start("intake", "dispatch", "supervision", "reporting")
        load_city(rpc)
        no = rpc.intake.register_ticket(MANHOLE, "agent1")["ticket_no"]
        for n, target in enumerate(["jy_nancheng", "zhujian", "shuiwu"], start=1):
            (lead,) = [a for a in assignments(rpc, no, n) if a["role"] == "lead"]
            wait_for(lambda: any(c["assignment_id"] == lead["id"]  # noqa: B023
                                 for c in rpc.supervision.get_state(no)["clocks"]),
                     what=f"clock of round {n}")
            req = rpc.supervision.request_return(
                lead["id"], lead["department_code"],
                {"reason_code": "function", "basis": "不属本单位职责"}, "dept")
            rpc.supervision.decide_return(req["id"], {"approve": True}, "dispatcher1")
            wait_for(lambda: any(i["ticket_no"] == no for i in rpc.dispatch.queue({})["items"]),
                     what=f"round {n} back in the dispatch queue")
            assert rpc.reporting.event_counts().get("ticket.problem_flagged") is None
            rpc.dispatch.dispatch(no, {"lead": target}, "dispatcher1")
        wait_for(lambda: rpc.reporting.event_counts().get("ticket.problem_flagged") == 1,
                 what="ticket.problem_flagged")
        leads = [(a["round"], a["department_code"], a["state"])
                 for a in rpc.dispatch.assignments_of(no) if a["role"] == "lead"]
        assert leads == [(1, "jiangyang", "returned"), (2, "jy_nancheng", "returned"),
                         (3, "zhujian", "returned"), (4, "shuiwu", "dispatched")]
        wait_for(lambda: rpc.supervision.get_state(no)["status"] == "dispatched",
                 what="the 4th round dispatched")
        assert rpc.reporting.event_counts()["ticket.problem_flagged"] == 1
