"""撤回派单 (``ticket.recalled``) in supervision, with a real database and the real calendar:
the recalled assignments' clocks stop, their pending 延期 and 退单 requests lapse, their open
督办单 close without escalation, the order goes back to 待派单; idempotent, retried before
its clocks exist, a stale recall ignored; the next dispatch starts fresh clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.supervision.dependencies import build_calendar
from services.supervision.entrypoints.urging import _advance_clocks
from services.supervision.models import Clock
from services.supervision.policy import SlaPolicy
from services.supervision.service import OutOfOrder, SupervisionService
from shared.database import Database
from shared.errors import Conflict
from shared.migrations import metadata_of
from tests.service.conftest import Worker, outbox
from tests.service.test_supervision_service import DISPATCHED_AT, NO, SH, dispatch, event


@pytest.fixture
def supervision(store: Any) -> Any:
    db = store("supervision")
    config = {"WORKING_HOURS": [["08:30", "12:00"], ["13:30", "17:30"]],
              "TIMEZONE": "Asia/Shanghai"}

    def calendar(session: Any) -> Any:
        return build_calendar(config, session)

    return Worker(SupervisionService, db, consumer="supervision.on_lifecycle_fact",
                  calendar=calendar, policy=SlaPolicy()), db


def recalled(at: datetime, seq: int = 10, ids: tuple[int, ...] = (7, 9), round_: int = 1) -> Any:
    return event("ticket.recalled", seq, ticket_no=NO, round=round_, at=at, actor="dispatcher1",
                 reason="派错部门", assignment_ids=list(ids),
                 departments=["chengguan", "gongan"][:len(ids)])


def signed(assignment_id: int = 7, at: datetime = DISPATCHED_AT, seq: int = 2,
           department: str = "chengguan") -> Any:
    return event("assignment.signed", seq, assignment_id=assignment_id, ticket_no=NO,
                 department_code=department, role="lead", signed_at=at, actor="u")


def redispatch(worker: Any, at: datetime, seq: int = 20) -> None:
    """Round 2 to huanbao (assignment 21)."""
    worker.on_lifecycle_fact(event(
        "ticket.dispatched", seq, ticket_no=NO, dispatched_at=at, actor="dispatcher1", round=2,
        category="complaint", urgency="normal",
        assignments=[{"assignment_id": 21, "department_code": "huanbao", "role": "lead"}]))


def status_changes(db: Any) -> list[tuple[str, str]]:
    return [(e["data"]["from_status"], e["data"]["to_status"]) for e in outbox(db)
            if e["type"] == "ticket.status_changed"]


class TestRecall:
    def test_the_clocks_stop_the_extension_lapses_and_the_order_waits_for_dispatch(
            self, supervision: Any) -> None:
        worker, db = supervision
        now = datetime.now(UTC)
        dispatch(worker, at=now, assists={9: "gongan"})
        worker.on_lifecycle_fact(signed(at=now))
        ext = worker.request_extension(7, "chengguan", {"days": 3, "reason": "需现场勘查"}, "u")
        at = now + timedelta(minutes=30)
        worker.on_lifecycle_fact(recalled(at))

        state = worker.get_state(NO)
        assert state["status"] == "pending_dispatch"
        assert status_changes(db)[-1] == ("in_progress", "pending_dispatch")
        assert state["history"][-1]["actor"] == "dispatcher1"
        assert "派错部门" in state["history"][-1]["reason"]
        assert {c["assignment_id"]: datetime.fromisoformat(c["stopped_at"])
                for c in state["clocks"]} == {7: at, 9: at}
        [lapsed] = state["extensions"]
        assert (lapsed["id"], lapsed["state"], lapsed["decided_by"]) == (ext["id"], "lapsed",
                                                                          "system")
        with pytest.raises(Conflict) as err:
            worker.decide_extension(ext["id"], {"approve": True}, "supervisor1")
        assert err.value.details == {"action": "decide_extension", "state": "lapsed"}
        assert "assignment.extension_decided" not in [e["type"] for e in outbox(db)]
        # nothing of the withdrawn round is urged again, however late
        urges = len(state["urges"])
        result = worker.sweep(now=(now + timedelta(days=90)).isoformat())
        assert result["urges"] == 0 and len(worker.get_state(NO)["urges"]) == urges

    def test_a_pending_return_lapses_and_is_not_counted_as_rejected(
            self, supervision: Any) -> None:
        worker, db = supervision
        now = datetime.now(UTC)
        dispatch(worker, at=now)
        req = worker.request_return(7, "chengguan", {"reason_code": "function",
                                                     "basis": "不属于本部门职能"}, "u")
        assert worker.get_state(NO)["status"] == "return_requested"
        worker.on_lifecycle_fact(recalled(now + timedelta(minutes=5), ids=(7,)))

        state = worker.get_state(NO)
        assert state["status"] == "pending_dispatch"
        assert status_changes(db)[-1] == ("return_requested", "pending_dispatch")
        [lapsed] = state["returns"]
        assert (lapsed["id"], lapsed["state"]) == (req["id"], "lapsed")
        with pytest.raises(Conflict) as err:
            worker.decide_return(req["id"], {"approve": False}, "supervisor1")
        assert err.value.details == {"action": "decide_return", "state": "lapsed"}
        assert "失效" in err.value.message
        assert "assignment.return_decided" not in [e["type"] for e in outbox(db)]

    def test_open_supervision_orders_close_without_escalation(self, supervision: Any) -> None:
        worker, db = supervision
        dispatch(worker)  # complaint, handling due end of Fri Oct 23 (National Day skipped)
        worker.on_lifecycle_fact(signed())
        worker.sweep(datetime(2026, 10, 26, 9, tzinfo=SH).isoformat())  # breach → 督办单
        [order] = worker.get_state(NO)["supervision_orders"]
        assert order["state"] == "open"
        worker.on_lifecycle_fact(recalled(datetime(2026, 10, 27, 10, tzinfo=SH), ids=(7,)))

        [order] = worker.get_state(NO)["supervision_orders"]
        assert order["state"] == "resolved"
        assert worker.department_supervision("chengguan")["supervision_orders"] == []
        later = datetime(2026, 11, 20, 9, tzinfo=SH).isoformat()  # long after escalate_at
        assert worker.supervision_sweep(later) == {"supervised": 0, "escalated": 0, "monthly": 0}
        assert "ticket.escalated" not in [e["type"] for e in outbox(db)]

    def test_once_per_event_and_retried_before_its_clocks_exist(self, supervision: Any) -> None:
        worker, db = supervision
        at = DISPATCHED_AT + timedelta(hours=1)
        early = recalled(at)
        with pytest.raises(OutOfOrder):  # no order yet
            worker.on_lifecycle_fact(early)
        dispatch(worker)  # the lead's clock (7) exists, the assist's (9) not yet
        with pytest.raises(OutOfOrder):
            worker.on_lifecycle_fact(early)
        assert worker.get_state(NO)["status"] == "dispatched"
        assert all(c["stopped_at"] is None for c in worker.get_state(NO)["clocks"])
        once = recalled(at, ids=(7,))
        worker.on_lifecycle_fact(once)
        worker.on_lifecycle_fact(once)  # redelivered
        state = worker.get_state(NO)
        assert state["status"] == "pending_dispatch"
        assert [h["to_status"] for h in state["history"]].count("pending_dispatch") == 1
        assert status_changes(db).count(("dispatched", "pending_dispatch")) == 1

    def test_the_next_dispatch_starts_fresh_clocks(self, supervision: Any) -> None:
        worker, db = supervision
        dispatch(worker)
        worker.on_lifecycle_fact(signed())
        worker.on_lifecycle_fact(recalled(DISPATCHED_AT + timedelta(hours=1), ids=(7,)))
        again = datetime(2026, 9, 29, 9, 0, tzinfo=SH)
        redispatch(worker, again)

        state = worker.get_state(NO)
        assert state["status"] == "dispatched"
        clocks = {c["assignment_id"]: c for c in state["clocks"]}
        old, new = clocks[7], clocks[21]
        assert old["stopped_at"] is not None and old["signed_at"] is not None
        assert new["department_code"] == "huanbao"
        assert datetime.fromisoformat(new["started_at"]) == again
        assert new["signed_at"] is None and new["stopped_at"] is None and not new["overdue"]
        # the deadlines count from the new dispatch (2 working hours: Tue 9:00 → 11:00)
        assert datetime.fromisoformat(new["sign_due"]) == datetime(2026, 9, 29, 11, 0, tzinfo=SH)
        assert new["handle_due"] > old["handle_due"]
        # the new round is urged; the withdrawn one is not
        worker.sweep((again + timedelta(days=2)).isoformat())
        assert {u["assignment_id"] for u in worker.get_state(NO)["urges"]} == {21}
        started = [e["data"]["assignment_id"] for e in outbox(db)
                   if e["type"] == "assignment.clocks_started"]
        assert started == [7, 21]


class TestStaleRecall:
    def test_a_recall_after_the_reply_leaves_the_reply_standing(self, supervision: Any) -> None:
        worker, db = supervision
        dispatch(worker, assists={9: "gongan"})
        worker.on_lifecycle_fact(signed())
        replied_at = datetime(2026, 9, 29, 9, 0, tzinfo=SH)
        worker.on_lifecycle_fact(event("assignment.replied", 3, assignment_id=7, ticket_no=NO,
                                       department_code="chengguan", replied_at=replied_at,
                                       actor="u", reply="done"))
        changes = status_changes(db)
        worker.on_lifecycle_fact(recalled(replied_at + timedelta(minutes=1)))  # no crash

        state = worker.get_state(NO)
        assert state["status"] == "replied" and status_changes(db) == changes
        clocks = {c["assignment_id"]: c for c in state["clocks"]}
        assert datetime.fromisoformat(clocks[7]["replied_at"]) == replied_at
        assert clocks[7]["stopped_at"] is None  # the lead's answered clock is untouched

    def test_a_recall_overtaken_by_the_next_round_leaves_that_round_alone(
            self, supervision: Any) -> None:
        worker, db = supervision
        dispatch(worker)
        late = recalled(DISPATCHED_AT + timedelta(hours=1), ids=(7,))
        redispatch(worker, datetime(2026, 9, 29, 9, 0, tzinfo=SH))  # overtook the recall
        worker.on_lifecycle_fact(late)

        state = worker.get_state(NO)
        assert state["status"] == "dispatched"
        clocks = {c["assignment_id"]: c for c in state["clocks"]}
        assert clocks[7]["stopped_at"] is not None  # the recalled assignment stops all the same
        assert clocks[21]["stopped_at"] is None

    def test_a_late_sign_of_the_withdrawn_round_neither_moves_nor_urges(
            self, supervision: Any) -> None:
        worker, db = supervision
        dispatch(worker)
        worker.on_lifecycle_fact(recalled(DISPATCHED_AT + timedelta(hours=1), ids=(7,)))
        again = datetime(2026, 9, 29, 9, 0, tzinfo=SH)
        redispatch(worker, again)
        worker.on_lifecycle_fact(signed(at=DISPATCHED_AT + timedelta(minutes=30), seq=5))

        state = worker.get_state(NO)
        assert state["status"] == "dispatched"  # round 2 is not signed by round 1's lead
        worker.sweep((again + timedelta(days=60)).isoformat())
        assert {u["assignment_id"] for u in worker.get_state(NO)["urges"]} == {21}


@pytest.fixture
def supervision_db(database_urls: dict[str, str], migrate: Any) -> Any:
    """A migrated supervision database on each backend (the sweep's statements differ)."""
    url = database_urls["supervision"]
    migrate("supervision")
    db = Database.standalone(metadata_of("supervision"), url, "supervision")
    yield db
    db.engine.dispose()


def test_a_sweep_batch_read_before_the_recall_does_not_re_arm_its_clocks(
        supervision_db: Any) -> None:
    db = supervision_db
    config = {"WORKING_HOURS": [["08:30", "12:00"], ["13:30", "17:30"]],
              "TIMEZONE": "Asia/Shanghai"}
    worker = Worker(SupervisionService, db, consumer="supervision.on_lifecycle_fact",
                    calendar=lambda session: build_calendar(config, session), policy=SlaPolicy())
    dispatch(worker, assists={9: "gongan"})
    worker.on_lifecycle_fact(recalled(DISPATCHED_AT + timedelta(hours=1), ids=(7,)))
    # what a sweep that read both clocks before the recall committed then writes
    due = DISPATCHED_AT + timedelta(days=3)
    with db.engine.begin() as conn:
        with Session(bind=conn) as session:
            _advance_clocks(session, [(7, due), (9, due)], {7, 9})
            session.flush()
    with db.engine.connect() as conn:
        rows = {r.assignment_id: r for r in conn.execute(select(Clock.__table__))}
    assert rows[7].next_check_at is None and rows[7].stopped_at is not None
    assert rows[9].next_check_at is not None  # the running one is advanced as before
    assert rows[7].overdue and rows[9].overdue
