"""Departments as endpoints over RabbitMQ with real containers, on SQLite and PostgreSQL:
webhook pushes to a real local HTTP receiver (tests/webhook_receiver.py, which verifies every
signature with shared.webhooks.verify), a department system down for a simulated 2 hours (the
clock stepped with ``dispatch.deliver_due(now)``), the 72-hour dead letter and its replay, two
dispatch instances delivering one department, confidential orders, recall, progress, the pull
feed. Replaced: nothing (the receiver is a real HTTP server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hotline.client import wait_for
from shared.errors import Conflict, Invalid, NotFound
from tests.integration.conftest import ORDER, load_city
from tests.webhook_receiver import Receiver

MANUAL = {"DELIVERY_BACKGROUND": False}  # the test steps the clock itself


@pytest.fixture
def receiver() -> Any:
    r = Receiver()
    yield r
    r.close()


def webhook(rpc: Any, receiver: Receiver, dept: str, timeout: int = 1) -> dict[str, Any]:
    made = rpc.dispatch.create_endpoint(dept, {"kind": "webhook", "url": receiver.url_for(dept),
                                               "timeout_seconds": timeout}, "admin")
    receiver.secrets[dept] = made["secret"]
    return made


def register(rpc: Any, **extra: Any) -> str:
    no = rpc.intake.register_ticket({**ORDER, **extra}, "agent1")["ticket_no"]
    wait_for(lambda: rpc.dispatch.assignments_of(no), what=f"dispatch of {no}")
    return str(no)


def iso(t: datetime) -> str:
    return t.isoformat()


class TestPush:
    def test_dispatch_and_deadlines_pushed_promptly_signed(self, start: Any, rpc: Any,
                                                           receiver: Any, backend: str) -> None:
        start("intake", "dispatch", "supervision")
        load_city(rpc)
        webhook(rpc, receiver, "chengguan")
        no = register(rpc)
        got = wait_for(lambda: len(e := receiver.of("chengguan")) >= 2 and e,
                       what="dispatched and deadlines_set pushed")
        assert [(e["seq"], e["type"]) for e in got] == [
            (1, "assignment.dispatched"), (2, "assignment.deadlines_set")]
        assert got[0]["ticket_no"] == no and got[0]["data"]["phone"] == "138****8000"
        assert got[1]["data"]["handle_due"]
        assert receiver.refused == []  # every signature verified
        delivered = wait_for(lambda: (d := rpc.dispatch.list_deliveries(
            {"department_code": "chengguan", "state": "delivered"})["items"]) and len(d) == 2
            and d, what="deliveries marked delivered")
        detail = rpc.dispatch.get_delivery(delivered[0]["id"])
        assert detail["attempt_log"][0]["status_code"] == 200
        # the pull feed holds the same entries, without delivery ids
        pulled = rpc.dispatch.feed("chengguan", {})["items"]
        assert [p["seq"] for p in pulled] == [1, 2] and "delivery_id" not in pulled[0]

    def test_two_instances_deliver_each_entry_once_in_order(self, start: Any, rpc: Any,
                                                            receiver: Any, backend: str) -> None:
        start("intake")
        start("dispatch", DELIVERY_POLL_SECONDS=0.2)
        start("dispatch", DELIVERY_POLL_SECONDS=0.2)  # a second instance of dispatch
        load_city(rpc)
        webhook(rpc, receiver, "chengguan")
        nos = [register(rpc) for _ in range(12)]
        got = wait_for(lambda: len(e := receiver.of("chengguan")) >= 12 and e, timeout=30,
                       what="12 entries pushed")
        assert [e["seq"] for e in got] == list(range(1, 13))
        assert sorted(e["ticket_no"] for e in got) == sorted(nos)
        assert receiver.requests == 12  # none sent twice


class TestOutage:
    def test_down_two_hours_then_back(self, start: Any, rpc: Any, receiver: Any,
                                      backend: str) -> None:
        start("intake", "dispatch", **MANUAL)
        load_city(rpc)
        webhook(rpc, receiver, "chengguan")
        webhook(rpc, receiver, "jy_nancheng")
        receiver.status["chengguan"] = 503
        nos = [register(rpc) for _ in range(3)]
        t0 = datetime.now(UTC)
        t = t0
        receiver.status["chengguan"] = "hang"  # first it times out …
        receiver.hang_seconds = 1.5
        rpc.dispatch.deliver_due(iso(t))
        receiver.status["chengguan"] = 503  # … then answers 503 for two hours
        while t < t0 + timedelta(hours=2):
            t += timedelta(minutes=10)
            rpc.dispatch.deliver_due(iso(t))
        assert receiver.of("chengguan") == []
        assert [e["seq"] for e in receiver.of("jy_nancheng")] == [1, 2, 3]  # not blocked
        head, *rest = rpc.dispatch.list_deliveries({"department_code": "chengguan"})["items"]
        log = rpc.dispatch.get_delivery(head["id"])["attempt_log"]
        assert log[0]["status_code"] is None and "Timeout" in log[0]["error"]
        assert {a["status_code"] for a in log[1:]} == {503} and len(log) > 5
        assert [r["attempts"] for r in rest] == [0, 0]
        receiver.status["chengguan"] = 200
        rpc.dispatch.deliver_due(iso(t + timedelta(minutes=31)))
        got = receiver.of("chengguan")
        assert [(e["seq"], e["ticket_no"]) for e in got] == list(zip([1, 2, 3], nos,
                                                                     strict=True))
        rpc.dispatch.deliver_due(iso(t + timedelta(hours=1)))
        assert len(receiver.of("chengguan")) == 3  # exactly once
        assert receiver.refused == []

    def test_dead_after_72_hours_replayed_others_not_blocked(self, start: Any, rpc: Any,
                                                             receiver: Any, backend: str) -> None:
        start("intake", "dispatch", **MANUAL)
        load_city(rpc)
        webhook(rpc, receiver, "chengguan")
        webhook(rpc, receiver, "jy_nancheng")
        receiver.status["chengguan"] = 500
        register(rpc)
        t0 = datetime.now(UTC)
        for hours in (0, 24, 48, 71.9):
            rpc.dispatch.deliver_due(iso(t0 + timedelta(hours=hours)))
        assert rpc.dispatch.list_deliveries({"state": "dead"})["items"] == []
        rpc.dispatch.deliver_due(iso(t0 + timedelta(hours=72, minutes=1)))
        (dead,) = rpc.dispatch.list_deliveries({"state": "dead"})["items"]
        assert dead["department_code"] == "chengguan" and dead["attempts"] == 5
        assert rpc.dispatch.delivery_problems(3600)["dead_ids"] == [dead["id"]]
        assert [e["seq"] for e in receiver.of("jy_nancheng")] == [1]
        receiver.status["chengguan"] = 200
        register(rpc)  # the department's next entry proceeds past the dead one
        rpc.dispatch.deliver_due(None)
        assert [e["seq"] for e in receiver.of("chengguan")] == [2]
        rpc.dispatch.replay_delivery(dead["id"], "admin")
        with pytest.raises(Conflict):
            rpc.dispatch.replay_delivery(dead["id"], "admin")
        rpc.dispatch.deliver_due(None)
        assert [e["seq"] for e in receiver.of("chengguan")] == [2, 1]
        assert rpc.dispatch.get_delivery(dead["id"])["state"] == "delivered"


class TestFeedAndActions:
    def test_confidential_never_in_the_feed_nor_pushed(self, start: Any, rpc: Any,
                                                       receiver: Any, backend: str) -> None:
        start("intake", "dispatch", **MANUAL)
        load_city(rpc)
        webhook(rpc, receiver, "chengguan")
        secret_no = register(rpc, confidential=True)
        plain_no = register(rpc)
        rpc.dispatch.deliver_due(None)
        assert [e["ticket_no"] for e in receiver.of("chengguan")] == [plain_no]
        fed = rpc.dispatch.feed("chengguan", {})["items"]
        assert secret_no not in {e["ticket_no"] for e in fed}

    def test_recall_progress_and_bad_input(self, start: Any, rpc: Any, receiver: Any,
                                           backend: str) -> None:
        start("intake", "dispatch", **MANUAL)
        load_city(rpc)
        webhook(rpc, receiver, "chengguan")
        no = register(rpc)
        lead = next(a for a in rpc.dispatch.assignments_of(no) if a["role"] == "lead")
        note = rpc.dispatch.note_progress(lead["id"], "chengguan", {"note": "已到现场"}, "u")
        assert rpc.dispatch.get_assignment(lead["id"], "chengguan")["progress"][0]["id"] \
            == note["id"]
        with pytest.raises(NotFound):
            rpc.dispatch.note_progress(lead["id"], "shuiwu", {"note": "x"}, "u")
        out = rpc.dispatch.recall(no, {"reason": "派错部门"}, "dispatcher1")
        assert lead["id"] in out["assignment_ids"]
        assert any(i["ticket_no"] == no and i["waiting_reason"] == "recalled"
                   for i in rpc.dispatch.queue({})["items"])
        rpc.dispatch.deliver_due(None)
        assert [e["type"] for e in receiver.of("chengguan")] == [
            "assignment.dispatched", "assignment.recalled"]
        with pytest.raises(Conflict):
            rpc.dispatch.note_progress(lead["id"], "chengguan", {"note": "x"}, "u")
        with pytest.raises(Invalid) as exc:
            rpc.dispatch.create_endpoint("chengguan", {"kind": "webhook", "url": "not a url"},
                                         "admin")
        assert "url" in exc.value.details["fields"]
        with pytest.raises(NotFound):
            rpc.dispatch.create_endpoint("nosuch", {"kind": "pull"}, "admin")

    def test_pull_feed_cursor(self, start: Any, rpc: Any, backend: str) -> None:
        start("intake", "dispatch", **MANUAL)
        load_city(rpc)
        nos = [register(rpc) for _ in range(5)]
        seen, cursor = [], None
        while True:
            page = rpc.dispatch.feed("chengguan", {"cursor": cursor, "limit": 2})
            if not page["items"]:
                assert page["next_cursor"] is None
                break
            seen += page["items"]
            cursor = page["next_cursor"]
        assert [e["seq"] for e in seen] == [1, 2, 3, 4, 5]
        assert [e["ticket_no"] for e in seen] == nos


class TestReconcile:
    def test_dead_and_stale_deliveries_are_reported(self, start: Any, rpc: Any, receiver: Any,
                                                    config: dict[str, Any], backend: str) -> None:
        from hotline.reconcile import run

        start("intake", "supervision", "knowledge", "reporting")
        start("dispatch", **MANUAL)
        load_city(rpc)
        webhook(rpc, receiver, "chengguan")
        receiver.status["chengguan"] = 503
        register(rpc)
        register(rpc)
        assert rpc.dispatch.delivery_problems(0)["stale_pending"] >= 2  # pending, any age
        assert rpc.dispatch.delivery_problems(3600)["stale_pending"] == 0  # not for an hour
        rpc.dispatch.deliver_due(iso(datetime.now(UTC) + timedelta(hours=73)))
        since = datetime.now(UTC) - timedelta(hours=1)
        report = wait_for(lambda: (r := run(rpc, config, since=since, grace=timedelta(0)))
                          and any("dead-lettered" in p for p in r["problems"]) and r,
                          what="reconcile to report the dead deliveries")
        assert report["deliveries"]["dead"] >= 2 and not report["ok"]
