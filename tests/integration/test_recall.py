"""撤回派单 over RabbitMQ on SQLite and PostgreSQL: after a real dispatch (intake routes the
order, dispatch sends it out, supervision starts the clocks), a ``ticket.recalled`` of the
round stops its clocks, lapses its pending extension and return, and puts the order back to
待派单; a redelivery changes nothing; the next round's dispatch starts fresh clocks.

Dispatch's recall RPC is another helper's work, so the test publishes dispatch's two facts
(the recall, then the next round's ``ticket.dispatched``) on the real broker, as other
integration tests publish the facts of behaviour they do not start.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hotline.client import wait_for
from shared.events import make_envelope
from tests.integration.conftest import ORDER, load_city
from tests.integration.test_reliability import publish


def test_a_recall_stops_the_round_and_the_next_dispatch_starts_fresh_clocks(
        start: Any, rpc: Any, config: dict[str, Any], backend: str) -> None:
    start("intake", "dispatch", "supervision")
    load_city(rpc)
    no = rpc.intake.register_ticket(ORDER, "agent1")["ticket_no"]
    clocks = wait_for(lambda: len(c := rpc.supervision.get_state(no)["clocks"]) == 2 and c,
                      what="clocks of the first round")
    lead = next(c for c in clocks if c["role"] == "lead")
    assist = next(c for c in clocks if c["role"] == "assist")
    rpc.dispatch.sign(assist["assignment_id"], assist["department_code"], "u")
    ext = rpc.supervision.request_extension(assist["assignment_id"], assist["department_code"],
                                            {"days": 2, "reason": "需现场勘查"}, "u")
    ret = rpc.supervision.request_return(lead["assignment_id"], lead["department_code"],
                                         {"reason_code": "function", "basis": "不属于本部门职能"},
                                         "u")
    assert rpc.supervision.get_state(no)["status"] == "return_requested"

    recalled_at = datetime.now(UTC)
    recall = make_envelope("ticket.recalled", {
        "ticket_no": no, "round": 1, "at": recalled_at, "actor": "dispatcher1",
        "reason": "派错部门", "assignment_ids": [lead["assignment_id"], assist["assignment_id"]],
        "departments": [lead["department_code"], assist["department_code"]]},
        producer="dispatch", ticket_no=no, sequence=100)
    publish(config["AMQP_URI"], recall, "ticket.recalled")
    state = wait_for(lambda: (s := rpc.supervision.get_state(no))["status"] == "pending_dispatch"
                     and s, what="recalled")
    assert all(datetime.fromisoformat(c["stopped_at"]) == recalled_at for c in state["clocks"])
    assert [(e["id"], e["state"]) for e in state["extensions"]] == [(ext["id"], "lapsed")]
    assert [(r["id"], r["state"]) for r in state["returns"]] == [(ret["id"], "lapsed")]
    assert state["history"][-1]["from_status"] == "return_requested"

    publish(config["AMQP_URI"], recall, "ticket.recalled")  # redelivered: applied once
    redispatched_at = datetime.now(UTC)
    publish(config["AMQP_URI"], make_envelope("ticket.dispatched", {
        "ticket_no": no, "round": 2, "dispatched_at": redispatched_at, "actor": "dispatcher1",
        "category": ORDER["category"], "urgency": "normal",
        "assignments": [{"assignment_id": 900201, "department_code": "huanbao",
                         "role": "lead"}]}, producer="dispatch", ticket_no=no, sequence=101),
        "ticket.dispatched")
    state = wait_for(lambda: (s := rpc.supervision.get_state(no))["status"] == "dispatched"
                     and s, what="dispatched again")
    assert [h["to_status"] for h in state["history"]].count("pending_dispatch") == 1
    new = next(c for c in state["clocks"] if c["assignment_id"] == 900201)
    assert datetime.fromisoformat(new["started_at"]) == redispatched_at
    assert (new["signed_at"], new["stopped_at"], new["overdue"]) == (None, None, False)
    assert datetime.fromisoformat(new["sign_due"]) > redispatched_at

    # long after every deadline only the new round is urged
    rpc.supervision.sweep((redispatched_at + timedelta(days=60)).isoformat())
    urged = {u["assignment_id"] for u in rpc.supervision.get_state(no)["urges"]}
    assert urged == {900201}
