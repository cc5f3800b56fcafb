"""督办 over RabbitMQ on SQLite and PostgreSQL: breach → urge → 督办单 → explanation → still
overdue → escalated exactly once with two supervision instances; monthly urges once per month
with two instances; 下派 moves the clock; a 问题工单 is supervised; a linked caller keeps their
own callback.

Time is moved with the ``sweep(now=...)`` RPC. On PostgreSQL the two instances sweep at the
same moment; SQLite allows one writer at a time, so there they sweep one after the other.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import eventlet
from nameko.testing.services import entrypoint_hook

from hotline.client import wait_for
from hotline.registry import service_class
from services.supervision import supervising
from shared.calendar import WorkCalendar
from shared.events import make_envelope
from tests.integration.conftest import ORDER, load_city
from tests.integration.test_reliability import publish


def _both(backend: str, containers: tuple[Any, Any], entrypoint: str, now: str) -> list[Any]:
    results: list[Any] = []

    def call(container: Any) -> None:
        with entrypoint_hook(container, entrypoint) as hook:
            results.append(hook(now))

    if backend == "postgres":
        pool = eventlet.GreenPool()
        for container in containers:
            pool.spawn(call, container)
        pool.waitall()
    else:
        for container in containers:
            call(container)
    assert len(results) == 2  # neither instance failed
    return results


def _order_with_clocks(rpc: Any) -> tuple[str, list[dict[str, Any]]]:
    no = rpc.intake.register_ticket(ORDER, "agent1")["ticket_no"]
    state = wait_for(lambda: len((s := rpc.supervision.get_state(no))["clocks"]) == 2 and s,
                     what="clocks")
    return no, state["clocks"]


def _two_instances(start: Any, config: dict[str, Any], container_factory: Any) -> tuple[Any, Any]:
    start("intake", "dispatch", "supervision")
    second = container_factory(service_class("supervision"), config)
    second.start()
    return start.started["supervision"], second


def test_breach_supervision_explanation_and_one_escalation(
        start: Any, rpc: Any, config: dict[str, Any], container_factory: Any,
        backend: str) -> None:
    instances = _two_instances(start, config, container_factory)
    load_city(rpc)
    no, clocks = _order_with_clocks(rpc)
    lead = next(c for c in clocks if c["role"] == "lead")
    breached = (datetime.fromisoformat(lead["handle_due"]) + timedelta(hours=1)).isoformat()

    _both(backend, instances, "sweep", breached)  # breach urges, then one 督办单 per assignment
    state = rpc.supervision.get_state(no)
    assert {(u["assignment_id"], u["kind"]) for u in state["urges"]
            if u["clock"] == "handle"} >= {(lead["assignment_id"], "breach")}
    orders = state["supervision_orders"]
    assert sorted(o["assignment_id"] for o in orders) == sorted(c["assignment_id"] for c in clocks)
    assert {o["source"] for o in orders} == {"breach"}
    order = next(o for o in orders if o["assignment_id"] == lead["assignment_id"])

    explained = rpc.supervision.explain_supervision(
        order["id"], "chengguan", {"explanation": "涉及多部门，正在协调"}, "dept_chengguan")
    assert explained["state"] == "explained"

    before = (datetime.fromisoformat(order["escalate_at"]) - timedelta(minutes=1)).isoformat()
    assert sum(r["escalated"] for r in _both(backend, instances, "supervision_sweep",
                                             before)) == 0
    after = (datetime.fromisoformat(order["escalate_at"]) + timedelta(minutes=1)).isoformat()
    results = _both(backend, instances, "supervision_sweep", after)
    assert sum(r["escalated"] for r in results) == 2  # lead and assist, once each
    again = _both(backend, instances, "sweep", after)
    assert all(r["urges"] == 0 for r in again)
    orders = rpc.supervision.get_state(no)["supervision_orders"]
    assert len(orders) == 2 and {o["state"] for o in orders} == {"escalated"}
    assert next(o for o in orders if o["id"] == order["id"])["explanation"] == "涉及多部门，正在协调"


def test_monthly_urges_once_per_month_with_two_instances(
        start: Any, rpc: Any, config: dict[str, Any], container_factory: Any,
        backend: str) -> None:
    instances = _two_instances(start, config, container_factory)
    load_city(rpc)
    no, clocks = _order_with_clocks(rpc)
    for c in clocks:
        rpc.dispatch.sign(c["assignment_id"], c["department_code"], "u")
    wait_for(lambda: all(c["signed_at"] for c in rpc.supervision.get_state(no)["clocks"]),
             what="signed")
    cal = WorkCalendar()
    due = max(datetime.fromisoformat(c["handle_due"]) for c in clocks)
    _both(backend, instances, "sweep", (due + timedelta(minutes=5)).isoformat())
    kinds = [u["kind"] for u in rpc.supervision.get_state(no)["urges"]]
    assert "monthly" not in kinds  # the threshold urges are this month's urges

    def first_workday_after(month_of: datetime) -> datetime:
        start_ = supervising.month_start(month_of, cal)
        following = (start_ + timedelta(days=32)).replace(day=1)
        day = supervising.first_workday_of_month(following, cal)
        return datetime.combine(day, time(9), tzinfo=cal.tz)

    months = [first_workday_after(due)]
    months.append(first_workday_after(months[0]))
    for when in months:
        for _ in range(2):  # two rounds of two instances in the same month
            _both(backend, instances, "sweep", when.isoformat())
    monthly = [u for u in rpc.supervision.get_state(no)["urges"] if u["kind"] == "monthly"]
    assert len(monthly) == 2 * len(months)  # each assignment once per month
    keys = {(u["assignment_id"], supervising.month_key(datetime.fromisoformat(u["issued_at"]),
                                                       cal)) for u in monthly}
    assert len(keys) == len(monthly)


def test_passed_down_problem_order_and_a_linked_callers_callback(
        start: Any, rpc: Any, config: dict[str, Any], backend: str) -> None:
    start("intake", "dispatch", "supervision")
    load_city(rpc)
    no, clocks = _order_with_clocks(rpc)
    lead = next(c for c in clocks if c["role"] == "lead")
    now = datetime.now(UTC)
    publish(config["AMQP_URI"], make_envelope("assignment.passed_down", {
        "ticket_no": no, "assignment_id": lead["assignment_id"], "new_assignment_id": 900001,
        "from_department": "chengguan", "to_department": "jy_nancheng", "role": "lead",
        "at": now, "actor": "dept_chengguan", "note": "属地街道办理"},
        producer="dispatch", ticket_no=no, sequence=50), "assignment.passed_down")
    publish(config["AMQP_URI"], make_envelope("ticket.linked", {
        "ticket_no": no, "link_id": 77, "linked_at": now, "caller_name": "王先生",
        "phone": "13912345678", "content": "同一处占道又来电", "channel": "phone",
        "agent": "agent2", "call_id": None, "reason": "similar_matter"},
        producer="intake", ticket_no=no, sequence=51), "ticket.linked")

    state = wait_for(lambda: (s := rpc.supervision.get_state(no))["callers"]
                     and len(s["clocks"]) == 3 and s, what="passed down and linked")
    old = next(c for c in state["clocks"] if c["assignment_id"] == lead["assignment_id"])
    new = next(c for c in state["clocks"] if c["assignment_id"] == 900001)
    assert old["stopped_at"] is not None and new["department_code"] == "jy_nancheng"
    assert (new["sign_due"], new["handle_due"]) == (lead["sign_due"], lead["handle_due"])
    assert state["callers"][0]["callback_status"] == "pending"

    publish(config["AMQP_URI"], make_envelope("ticket.problem_flagged", {
        "ticket_no": no, "at": now, "transfers": 3, "reopens": 0, "reason": "转办3次 问题工单"},
        producer="dispatch", ticket_no=no, sequence=52), "ticket.problem_flagged")
    state = wait_for(lambda: (s := rpc.supervision.get_state(no))["problem"] and s,
                     what="problem order")
    [order] = state["supervision_orders"]  # for the lead that took the order over
    assert (order["source"], order["assignment_id"]) == ("problem", 900001)

    # the unit the order was passed down to signs and replies (dispatch's facts, published
    # here as the passed-down assignment exists only in these events); a reply of the
    # original lead, whose clock stopped, would not move the order
    for seq, (event_type, data) in enumerate([
            ("assignment.signed", {"signed_at": now, "role": "lead"}),
            ("assignment.replied", {"replied_at": now, "reply": "已清理"})], start=53):
        publish(config["AMQP_URI"], make_envelope(event_type, {
            "assignment_id": 900001, "ticket_no": no, "department_code": "jy_nancheng",
            "actor": "dept_jy_nancheng", **data}, producer="dispatch", ticket_no=no,
            sequence=seq), event_type)
    wait_for(lambda: rpc.supervision.get_state(no)["status"] == "replied", what="replied")
    linked = rpc.supervision.record_callback(no, {"link_id": 77, "reached": True, "solved": True,
                                                  "satisfaction": "basically_satisfied"}, "s1")
    assert linked["status"] == "replied" and linked["outcome"] == "linked_done"
    closed = rpc.supervision.record_callback(no, {"reached": True, "solved": True,
                                                  "satisfaction": "satisfied"}, "s1")
    assert closed["status"] == "closed"
    [caller] = rpc.supervision.get_state(no)["callers"]
    assert (caller["callback_status"], caller["satisfaction"]) == ("done", "basically_satisfied")
