"""Regression tests for lifecycle bugs found by the property-based tests
(``test_lifecycle_properties.py``), each the shortest failing sequence, over the real services.
Each comment says what the services answered before the fix.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kombu import Connection, Queue

from hotline.client import wait_for
from shared.errors import Conflict, Invalid
from tests.integration.conftest import ORDER, give_opinions, load_city

SERVICES = ("intake", "dispatch", "supervision")
LATER = timedelta(days=60)  # every threshold of every clock has passed


def _dispatched(start: Any, rpc: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    start(*SERVICES)
    load_city(rpc)
    no = rpc.intake.register_ticket(ORDER, "agent1")["ticket_no"]
    made = wait_for(lambda: rpc.dispatch.assignments_of(no), what="dispatch")
    wait_for(lambda: len(rpc.supervision.get_state(no)["clocks"]) == len(made), what="clocks")
    lead = next(a for a in made if a["role"] == "lead")
    assist = next(a for a in made if a["role"] == "assist")
    return no, lead, assist


def test_a_closed_order_is_neither_urged_nor_marked_overdue(start: Any, rpc: Any) -> None:
    no, lead, assist = _dispatched(start, rpc)
    rpc.dispatch.sign(lead["id"], lead["department_code"], "dept")
    wait_for(lambda: rpc.supervision.get_state(no)["status"] == "in_progress", what="signed")
    give_opinions(rpc, no)
    rpc.dispatch.reply(lead["id"], lead["department_code"], {"reply": "已处理"}, "dept")
    wait_for(lambda: rpc.supervision.get_state(no)["status"] == "replied", what="replied")
    closed = rpc.supervision.record_callback(
        no, {"reached": True, "solved": True, "satisfaction": "satisfied"}, "supervisor1")
    assert closed["status"] == "closed"

    rpc.supervision.sweep((datetime.now(UTC) + LATER).isoformat())
    state = rpc.supervision.get_state(no)
    assert state["urges"] == []  # was: 4 automatic urges of jy_nancheng (sign + handle)
    assert all(c["replied_at"] or c["stopped_at"] for c in state["clocks"])
    assert not any(c["overdue"] for c in state["clocks"])
    with pytest.raises(Conflict) as refused:
        rpc.supervision.urge(no, {}, "supervisor1")  # was: accepted, urged jy_nancheng
    assert refused.value.details == {"action": "urge", "state": "closed"}


def test_a_returned_assignment_cannot_be_extended(start: Any, rpc: Any) -> None:
    no, lead, _ = _dispatched(start, rpc)
    req = rpc.supervision.request_return(lead["id"], lead["department_code"],
                                         {"reason_code": "function", "basis": "不属本单位"}, "d")
    rpc.supervision.decide_return(req["id"], {"approve": True}, "dispatcher1")
    wait_for(lambda: rpc.dispatch.get_assignment(lead["id"])["state"] == "returned",
             what="returned")
    with pytest.raises(Conflict) as refused:  # was: accepted, and approving it re-armed the clock
        rpc.supervision.request_extension(lead["id"], lead["department_code"],
                                          {"days": 3, "reason": "需要协调"}, "d")
    assert refused.value.details == {"action": "extension", "state": "stopped"}
    assert rpc.supervision.get_state(no)["extensions"] == []



def test_a_reply_racing_a_return_request_is_not_lost(start: Any, rpc: Any,
                                                     config: dict[str, Any]) -> None:
    no, lead, _ = _dispatched(start, rpc)
    rpc.dispatch.sign(lead["id"], lead["department_code"], "dept")
    wait_for(lambda: rpc.supervision.get_state(no)["status"] == "in_progress", what="signed")
    give_opinions(rpc, no)  # the lead may reply (协办 opinions in)

    # the race, made deterministic: dispatch has not consumed assignment.return_requested yet
    # when the department's reply reaches it (we hold the event, then hand it back)
    start.started["dispatch"].stop()
    req = rpc.supervision.request_return(lead["id"], lead["department_code"],
                                         {"reason_code": "other", "basis": "不属本单位"}, "dept")
    with Connection(config["AMQP_URI"]) as conn:
        queue = Queue("dispatch.on_return", routing_key="dispatch.on_return")(conn.default_channel)
        held = wait_for(lambda: queue.get(no_ack=False), what="the return_requested event")
        start("dispatch")
        rpc.dispatch.reply(lead["id"], lead["department_code"], {"reply": "已处理"}, "dept")
        held.requeue()

    # the reply stands: supervision withdraws the crossed return request (was: the reply was
    # ignored, and after the center rejected the return the order stayed in_progress forever)
    state = wait_for(lambda: (s := rpc.supervision.get_state(no))["status"] == "replied" and s,
                     what="replied in supervision")
    [withdrawn] = state["returns"]
    assert withdrawn["state"] == "withdrawn" and withdrawn["decided_by"] == "system"
    moves = [(h["from_status"], h["to_status"]) for h in state["history"]][-3:]
    assert moves == [("in_progress", "return_requested"), ("return_requested", "in_progress"),
                     ("in_progress", "replied")]
    with pytest.raises(Conflict) as refused:
        rpc.supervision.decide_return(req["id"], {"approve": False}, "dispatcher1")
    assert refused.value.details == {"action": "decide_return", "state": "withdrawn"}
    # the held event reached dispatch after the reply and changed nothing there
    wait_for(lambda: rpc.dispatch.outbox_status()["pending"] == 0, what="dispatch settled")
    assert rpc.dispatch.get_assignment(lead["id"])["state"] == "replied"


def test_the_lead_named_as_assistant_is_invalid_input_naming_the_field(start: Any,
                                                                       rpc: Any) -> None:
    start(*SERVICES)
    load_city(rpc)
    order = {**ORDER, "category": "consultation", "territory_code": None,
             "content": "请问市图书馆周一开放吗？"}
    no = rpc.intake.register_ticket(order, "agent1")["ticket_no"]
    wait_for(lambda: rpc.supervision.get_state(no)["status"] == "pending_dispatch", what="pending")
    with pytest.raises(Invalid) as refused:  # was: Conflict naming no state
        rpc.dispatch.dispatch(no, {"lead": "minzheng", "assists": ["minzheng"]}, "dispatcher1")
    assert "assists" in refused.value.details["fields"]
    assert rpc.dispatch.assignments_of(no) == []
