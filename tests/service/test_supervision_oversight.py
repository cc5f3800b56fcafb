"""Supervision's Step 2 entrypoints (督办单, urge answers, 每月催办, 回头看, linked callers,
重办 by hand, 下派 / 协办意见 / 问题工单 facts) with a real database and the real calendar."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from services.supervision.dependencies import build_calendar
from services.supervision.policy import SlaPolicy
from services.supervision.service import OutOfOrder, SupervisionService
from shared.errors import Conflict, Invalid, NotFound
from tests.service.conftest import Worker, outbox
from tests.service.test_supervision_service import (
    DISPATCHED_AT,
    NO,
    SH,
    dispatch,
    event,
    run_to_replied,
)


@pytest.fixture
def supervision(store: Any) -> Any:
    db = store("supervision")
    config = {"WORKING_HOURS": [["08:30", "12:00"], ["13:30", "17:30"]],
              "TIMEZONE": "Asia/Shanghai"}

    def calendar(session: Any) -> Any:
        return build_calendar(config, session)

    return Worker(SupervisionService, db, consumer="supervision.on_supervision_fact",
                  calendar=calendar, policy=SlaPolicy()), db


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> str:
    return datetime(y, m, d, hh, mm, tzinfo=SH).isoformat()


def sign(worker: Any, assignment_id: int = 7, department: str = "chengguan",
         role: str = "lead") -> None:
    worker.on_lifecycle_fact(event("assignment.signed", 2, assignment_id=assignment_id,
                                   ticket_no=NO, department_code=department, role=role,
                                   signed_at=DISPATCHED_AT, actor="u"))


def dispatch_with_assist(worker: Any) -> None:
    """Order NO dispatched at DISPATCHED_AT: lead chengguan (7), assist gongan (9)."""
    dispatch(worker, assists={9: "gongan"})


def types(db: Any) -> list[str]:
    return [e["type"] for e in outbox(db)]


class TestSupervisionOrders:
    def test_breach_opens_one_order_explained_then_escalated_once(self, supervision: Any) -> None:
        worker, db = supervision
        dispatch(worker)  # complaint, handling due end of Fri Oct 23 (National Day skipped)
        sign(worker)
        worker.sweep(at(2026, 10, 26, 9))  # breach urge marks it overdue → 督办单
        assert worker.supervision_sweep(at(2026, 10, 26, 9, 5))["supervised"] == 0  # once
        [order] = worker.get_state(NO)["supervision_orders"]
        assert (order["assignment_id"], order["department_code"], order["source"],
                order["state"]) == (7, "chengguan", "breach", "open")
        # opened Mon Oct 26: explain by end of Wed Oct 28; escalate after Oct 27–30, Nov 2
        assert datetime.fromisoformat(order["explanation_due"]) == datetime(2026, 10, 29, tzinfo=SH)
        assert datetime.fromisoformat(order["escalate_at"]) == datetime(2026, 11, 3, tzinfo=SH)

        with pytest.raises(NotFound):
            worker.explain_supervision(order["id"], "gongan", {"explanation": "不是我们"}, "x")
        with pytest.raises(Invalid) as err:
            worker.explain_supervision(order["id"], "chengguan", {}, "cg1")
        assert "explanation" in err.value.details["fields"]
        assert [o["id"] for o in worker.department_supervision("chengguan")[
            "supervision_orders"]] == [order["id"]]
        explained = worker.explain_supervision(order["id"], "chengguan",
                                               {"explanation": "需协调多部门现场处置"}, "cg1")
        assert explained["state"] == "explained" and explained["explained_by"] == "cg1"
        with pytest.raises(Conflict):
            worker.explain_supervision(order["id"], "chengguan", {"explanation": "再说明"}, "cg1")

        assert worker.supervision_sweep(at(2026, 11, 2, 23, 59))["escalated"] == 0
        assert worker.supervision_sweep(at(2026, 11, 3, 0, 0))["escalated"] == 1
        assert worker.supervision_sweep(at(2026, 11, 4, 9))["escalated"] == 0
        [order] = worker.get_state(NO)["supervision_orders"]
        assert order["state"] == "escalated" and order["explanation"] == "需协调多部门现场处置"
        assert types(db).count("ticket.supervised") == 1
        assert types(db).count("supervision.explanation_given") == 1
        [escalated] = [e for e in outbox(db) if e["type"] == "ticket.escalated"]
        assert escalated["data"]["supervision_order_id"] == order["id"]

    def test_replied_in_time_is_not_escalated(self, supervision: Any) -> None:
        worker, db = supervision
        dispatch(worker)
        sign(worker)
        worker.sweep(at(2026, 10, 26, 9))
        worker.on_lifecycle_fact(event("assignment.replied", 3, assignment_id=7, ticket_no=NO,
                                       department_code="chengguan",
                                       replied_at=datetime(2026, 10, 27, 9, tzinfo=SH),
                                       actor="u", reply="done"))
        assert worker.supervision_sweep(at(2026, 11, 5, 9))["escalated"] == 0
        [order] = worker.get_state(NO)["supervision_orders"]
        assert order["state"] == "resolved" and order["resolved_at"] is not None
        assert "ticket.escalated" not in types(db)

    def test_an_assist_without_opinion_is_not_escalated_once_the_lead_replied(
            self, supervision: Any) -> None:
        worker, db = supervision
        dispatch_with_assist(worker)
        sign(worker)
        sign(worker, 9, "gongan", "assist")
        worker.sweep(at(2026, 10, 26, 9))
        assert [o["assignment_id"] for o in worker.get_state(NO)["supervision_orders"]] == [7, 9]
        worker.on_lifecycle_fact(event("assignment.replied", 3, assignment_id=7, ticket_no=NO,
                                       department_code="chengguan",
                                       replied_at=datetime(2026, 10, 27, 9, tzinfo=SH),
                                       actor="u", reply="done"))
        assert worker.supervision_sweep(at(2026, 11, 5, 9)) == {
            "supervised": 0, "escalated": 0, "monthly": 0}
        assert {o["state"] for o in worker.get_state(NO)["supervision_orders"]} == {"resolved"}

    def test_by_hand(self, supervision: Any) -> None:
        worker, db = supervision
        dispatch(worker)
        made = worker.supervise(NO, {"note": "市领导关注"}, "supervisor1")["supervision_orders"]
        assert [(o["assignment_id"], o["source"], o["opened_by"]) for o in made] == [
            (7, "manual", "supervisor1")]
        with pytest.raises(Conflict) as err:  # already under supervision
            worker.supervise(NO, {}, "supervisor1")
        assert err.value.details == {"action": "supervise", "state": "supervised"}
        with pytest.raises(NotFound):
            worker.supervise(NO, {"assignment_id": 999}, "supervisor1")
        with pytest.raises(NotFound):
            worker.supervise("20260101000009", {}, "supervisor1")
        with pytest.raises(Invalid):
            worker.supervise(NO, {"assignment_id": "seven"}, "supervisor1")
        # an assignment already supervised by hand gets no second automatic one at its breach
        worker.sweep(at(2026, 10, 26, 9))
        assert len(worker.get_state(NO)["supervision_orders"]) == 1

    def test_nothing_open_to_supervise(self, supervision: Any) -> None:
        worker, _ = supervision
        run_to_replied(worker)
        with pytest.raises(Conflict) as err:
            worker.supervise(NO, {}, "supervisor1")
        assert err.value.details == {"action": "supervise", "state": "replied"}


class TestUrgeAnswers:
    def test_the_urged_department_answers_once(self, supervision: Any) -> None:
        worker, db = supervision
        dispatch(worker)
        [urge] = worker.urge(NO, {"channel": "notice"}, "supervisor1")["urges"]
        with pytest.raises(NotFound):
            worker.answer_urge(urge["id"], "gongan", {"answer": "已处理"}, "ga1")
        with pytest.raises(NotFound):
            worker.answer_urge(9999, "chengguan", {"answer": "已处理"}, "cg1")
        assert [u["id"] for u in worker.department_supervision("chengguan")["urges"]] == [
            urge["id"]]
        assert worker.department_supervision("gongan")["urges"] == []
        answered = worker.answer_urge(urge["id"], "chengguan", {"answer": "已安排执法队员"}, "cg1")
        assert answered["answer"] == "已安排执法队员" and answered["answered_by"] == "cg1"
        assert answered["answered_at"] is not None
        with pytest.raises(Conflict):
            worker.answer_urge(urge["id"], "chengguan", {"answer": "再答复"}, "cg1")
        [shown] = worker.get_state(NO)["urges"]
        assert shown["answer"] == "已安排执法队员"
        assert worker.department_supervision("chengguan")["urges"] == []
        [e] = [e for e in outbox(db) if e["type"] == "ticket.urge_answered"]
        assert e["data"]["urge_id"] == urge["id"]


class TestMonthlyUrge:
    def test_once_per_local_month_across_national_day(self, supervision: Any) -> None:
        worker, db = supervision
        dispatch(worker)  # Mon Sep 28
        sign(worker)

        def monthly(now: str) -> int:
            return int(worker.supervision_sweep(now)["monthly"])

        assert monthly(at(2026, 9, 29, 10)) == 0  # dispatched this month: waits for its end
        assert monthly(at(2026, 9, 30, 9)) == 1  # last working day of September
        assert monthly(at(2026, 9, 30, 15)) == 0  # never twice in a month
        assert monthly(at(2026, 10, 7, 12)) == 0  # holidays before October's first working day
        assert monthly(at(2026, 10, 8, 8)) == 1
        assert monthly(at(2026, 10, 20, 8)) == 0
        assert monthly(at(2026, 11, 2, 0, 1)) == 1
        urges = worker.get_state(NO)["urges"]
        assert [(u["kind"], u["clock"], u["channel"]) for u in urges] == [
            ("monthly", "handle", "system")] * 3
        assert [u["issued_at"][:10] for u in urges] == ["2026-09-30", "2026-10-08", "2026-11-01"]
        assert types(db).count("ticket.urged") == 3

    def test_any_urge_this_month_counts_and_replied_ones_are_left_alone(
            self, supervision: Any) -> None:
        worker, _ = supervision
        dispatch(worker)
        sign(worker)
        worker.sweep(at(2026, 10, 20, 9))  # the 80 % warning urge falls in October
        assert worker.supervision_sweep(at(2026, 10, 21, 9))["monthly"] == 0
        worker.on_lifecycle_fact(event("assignment.replied", 3, assignment_id=7, ticket_no=NO,
                                       department_code="chengguan",
                                       replied_at=datetime(2026, 10, 22, 9, tzinfo=SH),
                                       actor="u", reply="done"))
        assert worker.supervision_sweep(at(2026, 11, 2, 9))["monthly"] == 0


class TestFactsFromDispatch:
    def test_passed_down_moves_the_clock_without_moving_deadlines(self, supervision: Any) -> None:
        worker, db = supervision
        passed = event("assignment.passed_down", 4, ticket_no=NO, assignment_id=7,
                       new_assignment_id=8, from_department="chengguan",
                       to_department="street_b", role="lead",
                       at=datetime(2026, 9, 29, 9, tzinfo=SH), actor="cg1", note="属地办理")
        with pytest.raises(OutOfOrder):
            worker.on_supervision_fact(passed)
        dispatch(worker)
        sign(worker)
        worker.on_supervision_fact(passed)
        worker.on_supervision_fact(passed)  # redelivered: no second effect
        old, new = worker.get_state(NO)["clocks"]
        assert (old["assignment_id"], new["assignment_id"]) == (7, 8)
        assert old["stopped_at"] is not None and new["stopped_at"] is None
        assert new["department_code"] == "street_b" and new["role"] == "lead"
        for key in ("started_at", "sign_due", "handle_due", "return_due", "signed_at"):
            assert new[key] == old[key], key
        assert [e["data"]["assignment_id"] for e in outbox(db)
                if e["type"] == "assignment.clocks_started"] == [7, 8]
        worker.sweep(at(2026, 10, 26, 9))  # only the new assignment is urged and supervised
        state = worker.get_state(NO)
        assert {u["assignment_id"] for u in state["urges"]} == {8}
        assert [o["assignment_id"] for o in state["supervision_orders"]] == [8]

    def test_an_assists_opinion_stops_its_clock(self, supervision: Any) -> None:
        worker, _ = supervision
        dispatch_with_assist(worker)
        sign(worker, 9, "gongan", "assist")
        worker.on_supervision_fact(event("assignment.opinion_submitted", 5, assignment_id=9,
                                         ticket_no=NO, department_code="gongan",
                                         submitted_at=datetime(2026, 9, 29, 9, tzinfo=SH),
                                         actor="ga1", opinion="已配合核查"))
        worker.on_supervision_fact(event("assignment.opinion_submitted", 5, assignment_id=7,
                                         ticket_no=NO, department_code="chengguan",
                                         submitted_at=datetime(2026, 9, 29, 9, tzinfo=SH),
                                         actor="cg1", opinion="主办不发协办意见"))
        lead, assist = worker.get_state(NO)["clocks"]
        assert assist["replied_at"] is not None and lead["replied_at"] is None
        urges = worker.urge(NO, {}, "supervisor1")["urges"]
        assert [u["assignment_id"] for u in urges] == [7]

    def test_problem_order_is_flagged_and_supervised(self, supervision: Any) -> None:
        worker, db = supervision
        dispatch(worker)
        worker.on_supervision_fact(event("ticket.problem_flagged", 6, ticket_no=NO,
                                         at=datetime(2026, 9, 29, 9, tzinfo=SH), transfers=3,
                                         reopens=0, reason="转办3次 问题工单"))
        state = worker.get_state(NO)
        assert state["problem"] is True and state["problem_flags"][0]["transfers"] == 3
        last = state["history"][-1]
        assert (last["from_status"], last["to_status"]) == ("dispatched", "dispatched")
        assert "问题工单" in last["reason"]
        [order] = state["supervision_orders"]
        assert (order["source"], order["assignment_id"], order["department_code"]) == (
            "problem", 7, "chengguan")
        assert state["status"] == "dispatched"


class TestRecheck:
    def test_recheck_is_its_own_record_and_the_closure_is_untouched(
            self, supervision: Any) -> None:
        worker, db = supervision
        run_to_replied(worker)
        with pytest.raises(Conflict) as err:
            worker.pick_recheck(NO, {}, "supervisor1")
        assert err.value.details == {"action": "recheck", "state": "replied"}
        worker.record_callback(NO, {"reached": True, "solved": True,
                                    "satisfaction": "satisfied"}, "s")
        before = worker.get_state(NO)
        picked = worker.pick_recheck(NO, {"note": "季度回头看"}, "supervisor1")
        assert picked["finding"] is None and picked["picked_by"] == "supervisor1"
        with pytest.raises(Conflict):  # one open re-check at a time
            worker.pick_recheck(NO, {}, "supervisor1")
        with pytest.raises(Invalid):
            worker.record_recheck(picked["id"], {"finding": "meh"}, "supervisor1")
        done = worker.record_recheck(picked["id"], {"finding": "problem_found",
                                                    "note": "占道经营复发"}, "supervisor1")
        assert done["finding"] == "problem_found" and done["recorded_at"] is not None
        with pytest.raises(Conflict):
            worker.record_recheck(picked["id"], {"finding": "confirmed"}, "supervisor1")
        with pytest.raises(NotFound):
            worker.record_recheck(999, {"finding": "confirmed"}, "supervisor1")
        after = worker.get_state(NO)
        for key in ("status", "closed_at", "close_reason", "history", "callbacks"):
            assert after[key] == before[key], key
        assert [r["finding"] for r in after["rechecks"]] == ["problem_found"]
        [e] = [e for e in outbox(db) if e["type"] == "ticket.rechecked"]
        assert e["data"]["finding"] == "problem_found"

    def test_batch_is_all_or_nothing(self, supervision: Any) -> None:
        worker, _ = supervision
        run_to_replied(worker)
        worker.record_callback(NO, {"reached": True, "solved": True,
                                    "satisfaction": "satisfied"}, "s")
        with pytest.raises(NotFound):
            worker.pick_rechecks([NO, "20260101000009"], {}, "supervisor1")
        assert worker.get_state(NO)["rechecks"] == []
        with pytest.raises(Invalid):
            worker.pick_rechecks([], {}, "supervisor1")
        made = worker.pick_rechecks([NO, NO], {}, "supervisor1")["rechecks"]
        assert [r["ticket_no"] for r in made] == [NO]


class TestLinkedCallersAndReopen:
    def linked(self, worker: Any, link_id: int = 31) -> None:
        worker.on_supervision_fact(event("ticket.linked", 7, ticket_no=NO, link_id=link_id,
                                         linked_at=DISPATCHED_AT, caller_name="王先生",
                                         phone="13912345678", content="同一处又来电",
                                         channel="phone", agent="agent2", call_id=None,
                                         reason="similar_matter"))

    def test_a_linked_caller_keeps_their_own_callback(self, supervision: Any) -> None:
        worker, db = supervision
        dispatch(worker)
        self.linked(worker)
        [caller] = worker.get_state(NO)["callers"]
        assert (caller["link_id"], caller["callback_status"]) == (31, "pending")
        assert "phone" not in caller
        with pytest.raises(Conflict):  # not replied yet
            worker.record_callback(NO, {"link_id": 31, "reached": False}, "s")
        run_to_replied(worker)
        with pytest.raises(NotFound):
            worker.record_callback(NO, {"link_id": 99, "reached": False}, "s")
        result = worker.record_callback(NO, {"link_id": 31, "reached": True, "solved": False,
                                             "satisfaction": "unsatisfied"}, "s")
        assert result["status"] == "replied" and result["outcome"] == "linked_done"
        assert "ticket.reopened" not in types(db)
        [e] = [e for e in outbox(db) if e["type"] == "ticket.linked_callback_recorded"]
        assert (e["data"]["link_id"], e["data"]["satisfaction"]) == (31, "unsatisfied")
        closed = worker.record_callback(NO, {"reached": True, "solved": True,
                                             "satisfaction": "satisfied"}, "s")
        assert closed["status"] == "closed"
        state = worker.get_state(NO)
        assert state["callers"][0]["satisfaction"] == "unsatisfied"
        assert len(state["callbacks"]) == 1  # only the original caller's

    def test_three_unreached_attempts_for_a_linked_caller(self, supervision: Any) -> None:
        worker, _ = supervision
        run_to_replied(worker)
        self.linked(worker)
        outcomes = [worker.record_callback(NO, {"link_id": 31, "reached": False}, "s")["outcome"]
                    for _ in range(3)]
        assert outcomes == ["linked_pending", "linked_pending", "linked_unreachable"]
        assert worker.get_state(NO)["status"] == "replied"

    def test_reopen_by_hand(self, supervision: Any) -> None:
        worker, db = supervision
        dispatch(worker)
        with pytest.raises(Conflict) as err:
            worker.reopen(NO, {"reason": "答复不实"}, "supervisor1")
        assert err.value.details == {"action": "reopen", "state": "dispatched"}
        run_to_replied(worker)
        with pytest.raises(Invalid) as bad:
            worker.reopen(NO, {}, "supervisor1")
        assert "reason" in bad.value.details["fields"]
        state = worker.reopen(NO, {"reason": "答复不实，重办"}, "supervisor1")
        assert state["status"] == "reopened"
        [e] = [e for e in outbox(db) if e["type"] == "ticket.reopened"]
        assert (e["data"]["reason"], e["data"]["actor"]) == ("答复不实，重办", "supervisor1")
        assert worker.get_state(NO)["history"][-1]["to_status"] == "reopened"
