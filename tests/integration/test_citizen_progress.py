"""Intake's citizen progress read model (流程查询) over RabbitMQ, on SQLite and PostgreSQL:
Open311 submissions with their token and idempotent retry; the facts of dispatch and
supervision applied in any order, each once; confidential orders never in it; personal
fields never in a view.

Only intake runs: the other services' facts are published here as they would publish them
(their envelopes, their per-order sequences), so their order can be chosen.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hotline.client import wait_for
from shared.events import make_envelope
from tests.integration.conftest import ORDER
from tests.integration.test_reliability import publish

SUBMISSION = {"category": "complaint", "content": "被投诉对象：某烧烤店\n夜间油烟扰民",
              "address": "江阳区白招牌社区", "lat": 28.87, "long": 105.44,
              "media_url": "https://img.example/1.jpg", "caller_name": "张 三",
              "phone": "13800138000", "email": "zhang@example.com", "account_id": "acct-9",
              "device_id": "dev-1"}
PERSONAL = ("张 三", "13800138000", "zhang@example.com", "acct-9", "dev-1")


def send(config: dict[str, Any], event_type: str, data: dict[str, Any], no: str,
         producer: str, sequence: int | None = None) -> dict[str, Any]:
    body = make_envelope(event_type, {"ticket_no": no, **data}, producer=producer,
                         ticket_no=no, sequence=sequence)
    publish(config["AMQP_URI"], body, event_type)
    return body


class TestOpen311Submission:
    def test_registers_with_a_token_and_a_retry_returns_the_first_order(
            self, start: Any, rpc: Any, backend: str) -> None:
        start("intake")
        first = rpc.intake.register_open311(SUBMISSION, "apikey:abcd1234", "open311:k:1")
        again = rpc.intake.register_open311(SUBMISSION, "apikey:abcd1234", "open311:k:1")
        assert first["replayed"] is False and again["replayed"] is True
        assert (again["ticket_no"], again["token"]) == (first["ticket_no"], first["token"])
        assert rpc.intake.open311_token(first["token"]) == {"ticket_no": first["ticket_no"],
                                                            "token": first["token"]}
        ticket = rpc.intake.get_ticket(first["ticket_no"])
        assert (ticket["channel"], ticket["phone"], ticket["agent"]) == (
            "open311", "13800138000", "apikey:abcd1234")
        view = rpc.intake.citizen_progress_of(first["ticket_no"])
        assert (view["status"], view["stage"], view["closed"]) == ("registered", "待派单", False)
        assert (view["lat"], view["long"], view["media_url"]) == (28.87, 105.44,
                                                                  "https://img.example/1.jpg")
        assert not any(p in repr(view) for p in PERSONAL)


class TestProgressFacts:
    def test_facts_in_any_order_each_applied_once(self, start: Any, rpc: Any,
                                                   config: dict[str, Any], backend: str) -> None:
        start("intake")
        no = rpc.intake.register_open311(SUBMISSION, "apikey:abcd1234")["ticket_no"]
        now = datetime.now(UTC).replace(microsecond=0)
        due, extended = now + timedelta(days=15), now + timedelta(days=20)
        # supervision's in_progress (seq 3) before its dispatched (seq 2); the clock and the
        # extension before dispatch's own fact
        send(config, "ticket.status_changed", {"from_status": "dispatched",
             "to_status": "in_progress", "at": now, "actor": "dept_x", "reason": None},
             no, "supervision", 3)
        send(config, "assignment.extension_decided", {
            "extension_id": 1, "assignment_id": 41, "department_code": "chengguan",
            "approved": True, "old_due": due, "new_due": extended, "at": now,
            "actor": "supervisor1", "note": None}, no, "supervision", 5)
        send(config, "assignment.clocks_started", {
            "assignment_id": 41, "department_code": "chengguan", "role": "lead",
            "started_at": now, "sign_due": now + timedelta(hours=2), "handle_due": due,
            "policy": "p"}, no, "supervision", 4)
        send(config, "ticket.status_changed", {"from_status": "registered",
             "to_status": "dispatched", "at": now, "actor": "system", "reason": None},
             no, "supervision", 2)
        dispatched = send(config, "ticket.dispatched", {
            "dispatched_at": now, "actor": "system", "round": 1, "category": "complaint",
            "urgency": "normal", "rule_id": None, "assignments": [
                {"assignment_id": 41, "department_code": "chengguan", "role": "lead"},
                {"assignment_id": 42, "department_code": "jy_nancheng", "role": "assist"}]},
            no, "dispatch", 1)
        publish(config["AMQP_URI"], dispatched, "ticket.dispatched")  # redelivered

        view = wait_for(lambda: (v := rpc.intake.citizen_progress_of(no))["lead_department"]
                        and v["expected_at"] == extended.isoformat() and v, what="progress")
        assert (view["status"], view["stage"]) == ("in_progress", "延期中")

        send(config, "assignment.replied", {"assignment_id": 41, "department_code": "chengguan",
             "replied_at": now, "actor": "dept_chengguan", "reply": "已责令整改"},
             no, "dispatch", 2)
        send(config, "ticket.status_changed", {"from_status": "replied", "to_status": "closed",
             "at": now + timedelta(minutes=2), "actor": "s1", "reason": None}, no,
             "supervision", 7)
        send(config, "ticket.status_changed", {"from_status": "in_progress",
             "to_status": "replied", "at": now + timedelta(minutes=1), "actor": "d",
             "reason": None}, no, "supervision", 6)
        view = wait_for(lambda: (v := rpc.intake.citizen_progress_of(no))["reply"]
                        and v["closed"] and v, what="closed")
        assert (view["status"], view["stage"], view["reply"]) == ("closed", "办结", "已责令整改")

        replied = send(config, "assignment.progress_noted", {
            "note_id": 1, "assignment_id": 41, "department_code": "chengguan",
            "note": "已约谈店主", "at": now, "actor": "apikey:x"}, no, "dispatch", 3)
        publish(config["AMQP_URI"], replied, "assignment.progress_noted")  # redelivered
        window = {"start": (now - timedelta(days=1)).isoformat(),
                  "end": (now + timedelta(days=1)).isoformat()}
        steps = wait_for(lambda: (u := rpc.intake.progress_updates(window)["items"])
                         and any(s["kind"] == "progress" for s in u) and u, what="steps")
        assert [s["kind"] for s in steps].count("reply") == 1
        assert [s["description"] for s in steps if s["kind"] == "progress"] == ["已约谈店主"]
        # whatever order the consumer took them in, the newest status is the one shown
        assert "办结" in {s["description"] for s in steps if s["kind"] == "status"}
        assert steps == sorted(steps, key=lambda s: (s["at"], s["update_id"]))

    def test_a_recall_leaves_no_lead_until_the_next_round(
            self, start: Any, rpc: Any, config: dict[str, Any], backend: str) -> None:
        start("intake")
        no = rpc.intake.register_open311(SUBMISSION, "apikey:abcd1234")["ticket_no"]
        now = datetime.now(UTC)
        send(config, "ticket.status_changed", {"from_status": "registered",
             "to_status": "dispatched", "at": now, "actor": "system", "reason": None},
             no, "supervision", 2)
        # round 2 arrives before round 1 and before round 1's recall
        for rnd, (aid, dept) in ((2, (61, "shuiwu")), (1, (60, "chengguan"))):
            send(config, "ticket.dispatched", {
                "dispatched_at": now, "actor": "d", "round": rnd, "category": "complaint",
                "urgency": "normal", "rule_id": None,
                "assignments": [{"assignment_id": aid, "department_code": dept,
                                 "role": "lead"}]}, no, "dispatch", rnd)
        send(config, "ticket.recalled", {"round": 1, "at": now, "actor": "dispatcher1",
             "reason": "派错", "assignment_ids": [60], "departments": ["chengguan"]},
             no, "dispatch", 3)
        wait_for(lambda: rpc.intake.citizen_progress_of(no)["lead_department"] == "shuiwu",
                 what="round 2 lead")
        send(config, "ticket.recalled", {"round": 2, "at": now, "actor": "dispatcher1",
             "reason": "再次改派", "assignment_ids": [61], "departments": ["shuiwu"]},
             no, "dispatch", 4)
        wait_for(lambda: rpc.intake.citizen_progress_of(no)["lead_department"] is None,
                 what="no lead after the recall")


class TestWhatIsListed:
    def test_confidential_never_and_phoned_orders_without_their_text(
            self, start: Any, rpc: Any, backend: str) -> None:
        start("intake")
        secret = rpc.intake.register_ticket({**ORDER, "confidential": True}, "agent1")
        phoned = rpc.intake.register_ticket(ORDER, "agent1")
        web = rpc.intake.register_open311(SUBMISSION, "apikey:abcd1234")
        nos = [secret["ticket_no"], phoned["ticket_no"], web["ticket_no"]]
        listed = rpc.intake.citizen_progress({"ticket_nos": nos})["items"]
        assert [v["ticket_no"] for v in listed] == [web["ticket_no"], phoned["ticket_no"]]
        by_no = {v["ticket_no"]: v for v in listed}
        assert by_no[phoned["ticket_no"]]["description"] is None
        assert by_no[phoned["ticket_no"]]["address"] is None
        assert by_no[web["ticket_no"]]["description"] == SUBMISSION["content"]
        assert ORDER["caller_name"] not in repr(listed) and "13800138000" not in repr(listed)
        try:
            rpc.intake.citizen_progress_of(secret["ticket_no"])
            raise AssertionError("a confidential order was returned")
        except Exception as exc:  # noqa: BLE001 - NotFound comes back through the RPC proxy
            assert "not found" in str(exc)
        only = rpc.intake.citizen_progress({"ticket_nos": nos, "listing": "open311"})["items"]
        assert [v["ticket_no"] for v in only] == [web["ticket_no"]]
        everything = rpc.intake.citizen_progress({"ticket_nos": nos, "text": "all"})["items"]
        assert all(v["description"] for v in everything)
        paged = rpc.intake.citizen_progress({"ticket_nos": nos, "page": 2, "page_size": 1})
        assert ([v["ticket_no"] for v in paged["items"]], paged["total"]) == (
            [phoned["ticket_no"]], 2)
