"""Supervision's entrypoints with a real database, the real calendar and no broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.supervision.dependencies import build_calendar
from services.supervision.policy import SlaPolicy
from services.supervision.service import OutOfOrder, SupervisionService
from shared.calendar import WorkCalendar
from shared.errors import Conflict, Invalid, NotFound
from shared.events import load_envelope, make_envelope
from tests.service.conftest import Worker, outbox

SH = ZoneInfo("Asia/Shanghai")
NO = "20260928000001"
DISPATCHED_AT = datetime(2026, 9, 28, 10, 0, tzinfo=SH)  # Monday before National Day 2026


def event(event_type: str, seq: int, **data: Any) -> Any:
    return load_envelope(make_envelope(event_type, data, producer="x", ticket_no=NO, sequence=seq))


@pytest.fixture
def supervision(store: Any) -> Any:
    db = store("supervision")
    config = {"WORKING_HOURS": [["08:30", "12:00"], ["13:30", "17:30"]], "TIMEZONE": "Asia/Shanghai"}

    def calendar(session: Any) -> Any:
        return build_calendar(config, session)

    return Worker(SupervisionService, db, consumer="supervision.on_lifecycle_fact",
                  calendar=calendar, policy=SlaPolicy()), db



def dispatch(worker: Any, at: datetime = DISPATCHED_AT, category: str = "complaint",
             assists: dict[int, str] | None = None) -> None:
    """Order NO registered and dispatched at ``at`` to chengguan as lead (assignment 7), and
    to ``assists`` (assignment id → department) assisting."""
    worker.on_lifecycle_fact(event("ticket.registered", 1, ticket_no=NO, registered_at=at,
                                   channel="phone", category=category, urgency="normal",
                                   title="t", content="c", confidential=False))
    worker.on_lifecycle_fact(event(
        "ticket.dispatched", 1, ticket_no=NO, dispatched_at=at, actor="system", round=1,
        category=category, urgency="normal",
        assignments=[{"assignment_id": 7, "department_code": "chengguan", "role": "lead"},
                     *({"assignment_id": i, "department_code": code, "role": "assist"}
                       for i, code in (assists or {}).items())]))

def run_to_replied(worker: Any) -> None:
    dispatch(worker)
    worker.on_lifecycle_fact(event("assignment.signed", 2, assignment_id=7, ticket_no=NO,
                                   department_code="chengguan", role="lead",
                                   signed_at=DISPATCHED_AT, actor="u"))
    worker.on_lifecycle_fact(event("assignment.replied", 3, assignment_id=7, ticket_no=NO,
                                   department_code="chengguan",
                                   replied_at=datetime(2026, 9, 29, 9, 0, tzinfo=SH),
                                   actor="u", reply="done"))


class TestClocks:
    def test_the_lead_reply_stops_the_clock_of_an_assistant_that_never_answered(
            self, supervision: Any) -> None:
        worker, db = supervision
        dispatch(worker, assists={8: "gongan"})
        worker.on_lifecycle_fact(event("assignment.signed", 2, assignment_id=7, ticket_no=NO,
                                       department_code="chengguan", role="lead",
                                       signed_at=DISPATCHED_AT, actor="u"))
        replied_at = datetime(2026, 9, 29, 9, 0, tzinfo=SH)
        worker.on_lifecycle_fact(event("assignment.replied", 3, assignment_id=7, ticket_no=NO,
                                       department_code="chengguan", replied_at=replied_at,
                                       actor="u", reply="done"))
        clocks = {c["assignment_id"]: c for c in worker.get_state(NO)["clocks"]}
        assert datetime.fromisoformat(clocks[8]["stopped_at"]) == replied_at
        # long after every deadline, the silent assistant is not urged
        result = worker.sweep(now=(DISPATCHED_AT + timedelta(days=60)).isoformat())
        urged = {u["assignment_id"] for u in worker.get_state(NO)["urges"]}
        assert 8 not in urged and result["clocks"] == 0

    def test_complaint_clock_skips_national_day_2026(self, supervision: Any) -> None:
        worker, db = supervision
        run_to_replied(worker)
        state = worker.get_state(NO)
        clock = state["clocks"][0]
        # sign: 2 working hours from Mon 10:00 → Mon 12:00 local
        assert datetime.fromisoformat(clock["sign_due"]) == datetime(2026, 9, 28, 12, 0, tzinfo=SH)
        # handle: 15 working days from the next working day, skipping 中秋+国庆 2026
        # (Sep 25–27 and Oct 1–7 holidays, make-up working days Sun Sep 20 and Sat Oct 10):
        # Sep 29, 30 (2), Oct 8, 9, 10(调休), 12–16 (10), 19–23 (15) → due end of Fri Oct 23
        assert datetime.fromisoformat(clock["handle_due"]) == datetime(2026, 10, 24, 0, 0, tzinfo=SH)
        # callback: 2 working days after the reply on Tue Sep 29 → end of Thu Oct 8
        assert datetime.fromisoformat(state["callback_due"]) == datetime(2026, 10, 9, 0, 0, tzinfo=SH)

    def test_every_transition_is_recorded_and_announced(self, supervision: Any) -> None:
        worker, db = supervision
        run_to_replied(worker)
        state = worker.get_state(NO)
        assert [h["to_status"] for h in state["history"]] == [
            "registered", "dispatched", "in_progress", "replied"]
        changes = [e["data"]["to_status"] for e in outbox(db) if e["type"] == "ticket.status_changed"]
        assert changes == ["registered", "dispatched", "in_progress", "replied"]
        seqs = [e["sequence"] for e in outbox(db)]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


class TestCallbackAndClose:
    def test_close_needs_a_reply_and_a_satisfied_callback_closes(self, supervision: Any) -> None:
        worker, db = supervision
        worker.on_lifecycle_fact(event("ticket.registered", 1, ticket_no=NO,
                                       registered_at=DISPATCHED_AT, channel="phone",
                                       category="help", urgency="normal", title="t", content="c",
                                       confidential=False))
        with pytest.raises(Conflict) as err:
            worker.close(NO, {}, "supervisor1")
        assert err.value.details == {"action": "close", "state": "registered"}
        with pytest.raises(Conflict):
            worker.record_callback(NO, {"reached": True, "solved": True,
                                        "satisfaction": "satisfied"}, "s")

    def test_callback_rules(self, supervision: Any) -> None:
        worker, db = supervision
        run_to_replied(worker)
        with pytest.raises(Invalid) as err:
            worker.record_callback(NO, {"reached": True}, "s")
        assert set(err.value.details["fields"]) == {"solved", "satisfaction"}
        unreached = worker.record_callback(NO, {"reached": False}, "s")
        assert unreached["status"] == "replied"
        closed = worker.record_callback(NO, {"reached": True, "solved": True,
                                             "satisfaction": "satisfied"}, "s")
        assert closed["status"] == "closed" and closed["close_reason"] == "callback"
        assert len(worker.get_state(NO)["callbacks"]) == 2
        assert [e["type"] for e in outbox(db)][-2:] == ["ticket.status_changed", "ticket.closed"]


class TestOrdering:
    def test_a_signature_before_its_dispatch_is_retried_not_applied(self, supervision: Any) -> None:
        worker, db = supervision
        with pytest.raises(OutOfOrder):
            worker.on_lifecycle_fact(event("assignment.signed", 2, assignment_id=9, ticket_no=NO,
                                           department_code="c", role="lead",
                                           signed_at=datetime.now(UTC), actor="u"))
        assert outbox(db) == []  # rolled back: the event will be retried, not half-applied


class TestDeadlineSweep:
    def test_each_threshold_is_urged_once_and_breach_marks_overdue(self, supervision: Any) -> None:
        worker, db = supervision
        dispatch(worker)

        def at(y: int, m: int, d: int, hh: int, mm: int) -> str:
            return datetime(y, m, d, hh, mm, tzinfo=SH).isoformat()

        assert worker.sweep(at(2026, 9, 28, 11, 0))["urges"] == 0
        assert worker.sweep(at(2026, 9, 28, 11, 40))["urges"] == 1  # 80 % of the sign clock
        assert worker.sweep(at(2026, 9, 28, 11, 50))["urges"] == 0  # never twice
        assert worker.sweep(at(2026, 9, 28, 12, 1))["urges"] == 1  # breach
        state = worker.get_state(NO)
        assert [(u["clock"], u["kind"]) for u in state["urges"]] == [("sign", "warning"),
                                                                    ("sign", "breach")]
        types = [e["type"] for e in outbox(db)]
        assert types.count("ticket.urged") == 2 and types.count("ticket.overdue") == 1
        worker.on_lifecycle_fact(event("assignment.signed", 2, assignment_id=7, ticket_no=NO,
                                       department_code="chengguan", role="lead",
                                       signed_at=datetime(2026, 9, 28, 12, 30, tzinfo=SH),
                                       actor="u"))
        assert worker.sweep(at(2026, 10, 10, 9, 0))["clocks"] == 0  # nothing due until 80 %
        assert worker.sweep(at(2026, 10, 30, 9, 0))["urges"] == 2  # handle warning + breach
        assert worker.sweep(at(2026, 11, 30, 9, 0)) == {"clocks": 0, "urges": 0}

    def test_manual_urge_and_bad_input(self, supervision: Any) -> None:
        worker, db = supervision
        run_to_replied(worker)
        with pytest.raises(Conflict):  # replied: nothing open to urge
            worker.urge(NO, {"channel": "phone"}, "supervisor1")
        with pytest.raises(Invalid) as err:
            worker.sweep("yesterday")
        assert "now" in err.value.details["fields"]
        with pytest.raises(Invalid):
            worker.urge(NO, {"channel": "carrier-pigeon"}, "supervisor1")


class TestCallbackLoop:
    def test_three_unreached_attempts_close_as_unreachable(self, supervision: Any) -> None:
        worker, db = supervision
        run_to_replied(worker)
        outcomes = [worker.record_callback(NO, {"reached": False}, "s")["outcome"]
                    for _ in range(3)]
        assert outcomes == ["retry", "retry", "unreachable"]
        state = worker.get_state(NO)
        assert state["status"] == "closed" and state["close_reason"] == "unreachable"

    def test_unsatisfied_reopens_and_announces_it(self, supervision: Any) -> None:
        worker, db = supervision
        run_to_replied(worker)
        result = worker.record_callback(NO, {"reached": True, "solved": False,
                                             "satisfaction": "unsatisfied",
                                             "note": "问题依旧"}, "s")
        assert result["outcome"] == "reopen" and result["status"] == "reopened"
        reopened = [e for e in outbox(db) if e["type"] == "ticket.reopened"]
        assert len(reopened) == 1 and reopened[0]["data"]["reason"] == "问题依旧"

    def test_unsatisfied_but_not_attributable_closes(self, supervision: Any) -> None:
        worker, _ = supervision
        run_to_replied(worker)
        result = worker.record_callback(NO, {"reached": True, "solved": False,
                                             "satisfaction": "unsatisfied",
                                             "attributable": False}, "s")
        assert result["outcome"] == "close_unsatisfied" and result["status"] == "closed"


class TestExtensions:
    def dispatched(self, worker: Any) -> None:
        dispatch(worker, at=datetime.now(UTC))

    def test_request_rules_and_an_approval_that_moves_the_deadline_once(
            self, supervision: Any) -> None:
        worker, db = supervision
        self.dispatched(worker)
        with pytest.raises(NotFound):
            worker.request_extension(7, "huanbao", {"days": 3, "reason": "需现场勘查"}, "x")
        with pytest.raises(Invalid) as err:
            worker.request_extension(7, "chengguan", {"days": 11, "reason": "需现场勘查"}, "u")
        assert "days" in err.value.details["fields"]
        ext = worker.request_extension(7, "chengguan", {"days": 3, "reason": "需现场勘查"}, "u")
        assert ext["state"] == "pending"
        with pytest.raises(Conflict) as err:
            worker.request_extension(7, "chengguan", {"days": 2, "reason": "again"}, "u")
        assert err.value.details["action"] == "extension"
        old_due = datetime.fromisoformat(worker.get_state(NO)["clocks"][0]["handle_due"])
        decided = worker.decide_extension(ext["id"], {"approve": True}, "supervisor1")
        new_due = datetime.fromisoformat(decided["new_due"])
        # 3 more working days after the last day of the old deadline, on the real calendar
        expected = WorkCalendar().add_working_days(old_due - timedelta(microseconds=1), 3)
        assert new_due == expected and new_due > old_due
        assert datetime.fromisoformat(worker.get_state(NO)["clocks"][0]["handle_due"]) == new_due
        with pytest.raises(Conflict):
            worker.decide_extension(ext["id"], {"approve": False}, "supervisor1")
        types = [e["type"] for e in outbox(db)]
        assert types.count("assignment.extension_requested") == 1
        assert types.count("assignment.extension_decided") == 1

    def test_no_extension_after_the_deadline_or_the_reply(self, supervision: Any) -> None:
        worker, _ = supervision
        dispatch(worker)
        with pytest.raises(Conflict) as err:  # due 2026-10-24, long past
            worker.request_extension(7, "chengguan", {"days": 2, "reason": "晚了"}, "u")
        assert err.value.details["state"] == "overdue"
        worker.on_lifecycle_fact(event("assignment.signed", 2, assignment_id=7, ticket_no=NO,
                                       department_code="chengguan", role="lead",
                                       signed_at=DISPATCHED_AT, actor="u"))
        worker.on_lifecycle_fact(event("assignment.replied", 3, assignment_id=7, ticket_no=NO,
                                       department_code="chengguan", replied_at=DISPATCHED_AT,
                                       actor="u", reply="done"))
        with pytest.raises(Conflict) as err:
            worker.request_extension(7, "chengguan", {"days": 2, "reason": "晚了"}, "u")
        assert err.value.details["state"] == "replied"

    def test_a_rejection_keeps_the_deadline(self, supervision: Any) -> None:
        worker, _ = supervision
        self.dispatched(worker)
        before = worker.get_state(NO)["clocks"][0]["handle_due"]
        ext = worker.request_extension(7, "chengguan", {"days": 3, "reason": "需协调"}, "u")
        decided = worker.decide_extension(ext["id"], {"approve": False, "note": "理由不足"}, "s")
        assert decided["state"] == "rejected" and decided["new_due"] is None
        assert worker.get_state(NO)["clocks"][0]["handle_due"] == before
