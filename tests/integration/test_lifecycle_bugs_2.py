"""Regression tests for lifecycle bugs found with the property-based tests
(``test_lifecycle_properties.py``) after the fixes of ``test_lifecycle_bugs.py``, each made
deterministic over the real services. The comments say what the services answered before
the fix.
"""

from __future__ import annotations

from typing import Any

from kombu import Connection, Queue

from hotline.client import wait_for
from tests.integration.conftest import ORDER, give_opinions, load_city

SERVICES = ("intake", "dispatch", "supervision")


def _queue(conn: Connection, name: str) -> Queue:
    return Queue(name, routing_key=name)(conn.default_channel)


def test_a_reply_crossing_an_approved_return_is_not_lost(start: Any, rpc: Any,
                                                         config: dict[str, Any]) -> None:
    start(*SERVICES)
    load_city(rpc)
    no = rpc.intake.register_ticket(ORDER, "agent1")["ticket_no"]
    made = wait_for(lambda: rpc.dispatch.assignments_of(no), what="dispatch")
    wait_for(lambda: len(rpc.supervision.get_state(no)["clocks"]) == len(made), what="clocks")
    lead = next(a for a in made if a["role"] == "lead")
    rpc.dispatch.sign(lead["id"], lead["department_code"], "dept")
    wait_for(lambda: rpc.supervision.get_state(no)["status"] == "in_progress", what="signed")
    give_opinions(rpc, no)  # the lead may reply
    wait_for(lambda: all(c["replied_at"] for c in rpc.supervision.get_state(no)["clocks"]
                         if c["role"] == "assist"), what="opinions applied")

    # The race, made deterministic by holding two events on the bus: (1) the lead asks for a
    # return and, before dispatch hears of it, replies (dispatch accepts: the assignment is
    # still 'signed' there); (2) the center approves the return before supervision hears of
    # the reply.
    start.started["dispatch"].stop()
    req = rpc.supervision.request_return(lead["id"], lead["department_code"],
                                         {"reason_code": "other", "basis": "不属本单位"}, "dept")
    with Connection(config["AMQP_URI"]) as conn:
        requested = wait_for(lambda: _queue(conn, "dispatch.on_return").get(no_ack=False),
                             what="assignment.return_requested on its way to dispatch")
        start.started["supervision"].stop()
        start("dispatch")
        rpc.dispatch.reply(lead["id"], lead["department_code"], {"reply": "已处理"}, "dept")
        replied = wait_for(
            lambda: _queue(conn, "supervision.on_lifecycle_fact").get(no_ack=False),
            what="assignment.replied on its way to supervision")
        assert replied.payload["type"] == "assignment.replied", replied.payload
        requested.requeue()
        start("supervision")
        rpc.supervision.decide_return(req["id"], {"approve": True}, "dispatcher1")
        replied.requeue()

    wait_for(lambda: all(getattr(rpc, s).outbox_status()["pending"] == 0 for s in SERVICES),
             what="every outbox published")
    wait_for(lambda: any(c["assignment_id"] == lead["id"] and c["replied_at"]
                         for c in rpc.supervision.get_state(no)["clocks"]),
             what="supervision consumed the reply")
    state = rpc.supervision.get_state(no)
    statuses = [h["to_status"] for h in state["history"]]
    replied_in_dispatch = rpc.dispatch.get_assignment(lead["id"])["state"] == "replied"
    # the services agree that the department's reply stands. Before the fix: dispatch
    # 'replied' (the reply accepted, HTTP 200 to the department), supervision
    # [..., 'in_progress', 'return_requested', 'pending_dispatch'] with no 'replied', the
    # return 'approved', and the order back in the dispatchers' queue as returned
    assert replied_in_dispatch == ("replied" in statuses), (statuses, state["returns"])
    assert replied_in_dispatch and state["status"] == "replied"
    assert statuses[-3:] == ["pending_dispatch", "in_progress", "replied"]
    assert [r["state"] for r in state["returns"]] == ["withdrawn"]
    # and the order is no longer waiting for a dispatcher
    wait_for(lambda: all(i["ticket_no"] != no for i in rpc.dispatch.queue()["items"]),
             what="the order out of the dispatch queue")
