"""Dispatch's Step 3 with a real migrated SQLite database and no broker (worker_factory):
endpoints, the department feed written with dispatch's actions and supervision's events,
recall (撤回派单), progress (办理进展), and webhook delivery by :class:`DeliveryRunner` to a
real local HTTP receiver (tests/webhook_receiver.py) with the clock stepped by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hotline import demo
from services.dispatch.deliverer import DeliveryRunner
from services.dispatch.dependencies import DispatchSettings
from services.dispatch.reference import ReferenceCache
from services.dispatch.service import DispatchService, OutOfOrder
from shared.errors import Conflict, Invalid, NotFound
from shared.events import Event, load_envelope, make_envelope
from shared.webhooks import FEED_TYPES
from tests.service.conftest import Worker, outbox
from tests.webhook_receiver import Receiver

NOW = datetime.now(UTC)


def event(event_type: str, no: str, **data: Any) -> Event:
    return load_envelope(make_envelope(event_type, data, producer="test", ticket_no=no,
                                       sequence=1))


def registered(no: str, **data: Any) -> Event:
    return event("ticket.registered", no, **{
        "ticket_no": no, "registered_at": NOW, "channel": "phone", "category": "complaint",
        "urgency": "normal", "title": "占道经营", "content": "楼下有人占道经营",
        "caller_name": "李秀英", "phone": "13812345678",
        "territory_code": "510502001001", "confidential": False, **data})


def of(db: Any, event_type: str) -> list[dict[str, Any]]:
    found = [e for e in outbox(db) if e["type"] == event_type]
    for e in found:
        load_envelope(e)
    return found


@pytest.fixture
def receiver() -> Any:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def city(store: Any) -> Any:
    db = store("dispatch")
    cache = ReferenceCache()
    cache.setup()
    w = Worker(DispatchService, db, consumer="dispatch.test", reference=cache.get_dependency(None),
               settings=DispatchSettings())
    w.load_reference({"territories": demo.TERRITORIES, "departments": demo.DEPARTMENTS,
                      "rules": demo.RULES})
    return w, db


def dispatched(w: Any, no: str, **data: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    w.on_ticket_registered(registered(no, **data))
    rows = w.assignments_of(no)
    return next(a for a in rows if a["role"] == "lead"), [a for a in rows if a["role"] == "assist"]


def webhook(w: Any, receiver: Receiver, dept: str, **form: Any) -> dict[str, Any]:
    made = w.create_endpoint(dept, {"kind": "webhook", "url": receiver.url_for(dept),
                                    "timeout_seconds": 1, **form}, "admin")
    receiver.secrets[dept] = made["secret"]
    return made


class TestEndpoints:
    def test_create_list_rotate_deactivate(self, city: Any) -> None:
        w, _ = city
        made = w.create_endpoint("chengguan", {"kind": "webhook",
                                               "url": "https://cg.example.gov.cn/hook"}, "admin")
        assert made["secret"].startswith("whsec_") and made["timeout_seconds"] == 5
        listed = w.list_endpoints("chengguan")["items"]
        assert [e["id"] for e in listed] == [made["id"]]
        assert "secret" not in listed[0]
        rotated = w.rotate_endpoint_secret(made["id"], "admin")
        assert rotated["secret"] != made["secret"]
        off = w.deactivate_endpoint(made["id"], "admin")
        assert not off["active"] and off["deactivated_by"] == "admin"
        with pytest.raises(Conflict):
            w.deactivate_endpoint(made["id"], "admin")
        with pytest.raises(Conflict):
            w.rotate_endpoint_secret(made["id"], "admin")

    def test_one_active_per_department_and_category(self, city: Any) -> None:
        w, _ = city
        first = w.create_endpoint("chengguan", {"kind": "pull"}, "admin")
        second = w.create_endpoint("chengguan", {"kind": "terminal"}, "admin")
        complaints = w.create_endpoint("chengguan", {"kind": "pull", "category": "complaint"},
                                       "admin")
        assert second["replaced_endpoint_id"] == first["id"]
        assert complaints["replaced_endpoint_id"] is None
        active = [e["id"] for e in w.list_endpoints("chengguan")["items"] if e["active"]]
        assert active == [second["id"], complaints["id"]]

    @pytest.mark.parametrize("body, field", [
        ({"kind": "webhook", "url": "ftp://x.y/z"}, "url"),
        ({"kind": "webhook"}, "url"),
        ({"kind": "pull", "url": "https://x.y/z"}, "url"),
        ({"kind": "email"}, "kind"),
        ({"kind": "pull", "category": "weather"}, "category"),
        ({"kind": "webhook", "url": "https://x.y", "timeout_seconds": 31}, "timeout_seconds"),
        ({"kind": "webhook", "url": "https://x.y", "timeout_seconds": 0}, "timeout_seconds"),
    ])
    def test_bad_input_is_422_naming_the_field(self, city: Any, body: dict[str, Any],
                                               field: str) -> None:
        w, _ = city
        with pytest.raises(Invalid) as exc:
            w.create_endpoint("chengguan", body, "admin")
        assert field in exc.value.details["fields"]
        assert w.list_endpoints("chengguan")["items"] == []

    def test_unknown_department_or_endpoint_is_404(self, city: Any) -> None:
        w, _ = city
        with pytest.raises(NotFound):
            w.create_endpoint("nosuch", {"kind": "pull"}, "admin")
        with pytest.raises(NotFound):
            w.list_endpoints("nosuch")
        with pytest.raises(NotFound):
            w.rotate_endpoint_secret(999, "admin")


class TestFeed:
    def test_dispatch_writes_one_entry_per_department_with_masked_phone(self, city: Any) -> None:
        w, _ = city
        lead, (assist,) = dispatched(w, "N1")
        items = w.feed("chengguan", {})["items"]
        assert [(i["seq"], i["type"], i["assignment_id"]) for i in items] == [
            (1, "assignment.dispatched", lead["id"])]
        data = items[0]["data"]
        assert data["phone"] == "138****5678" and data["caller_name"] == "李秀英"
        assert data["role"] == "lead" and data["content"] == "楼下有人占道经营"
        assert "delivery_id" not in items[0]
        other = w.feed(assist["department_code"], {})["items"]
        assert [(i["seq"], i["data"]["role"]) for i in other] == [(1, "assist")]

    def test_caller_privacy_masks_the_name(self, city: Any) -> None:
        w, _ = city
        dispatched(w, "N1", caller_privacy=True)
        assert w.feed("chengguan", {})["items"][0]["data"]["caller_name"] == "李**"

    def test_confidential_orders_never_enter_the_feed(self, city: Any, receiver: Any) -> None:
        w, db = city
        webhook(w, receiver, "chengguan")
        lead, _ = dispatched(w, "N1", confidential=True)
        w.on_oversight(event("ticket.urged", "N1", ticket_no="N1", urge_id=1,
                             assignment_id=lead["id"], department_code="chengguan",
                             clock="sign", kind="manual", channel="phone",
                             issued_at=NOW, issuer="s", note=None))
        assert w.feed("chengguan", {})["items"] == []
        assert w.list_deliveries({})["items"] == []
        assert DeliveryRunner(db).deliver_due(NOW + timedelta(minutes=1))["delivered"] == 0
        assert receiver.requests == 0

    def test_supervision_events_reach_the_department_in_order(self, city: Any) -> None:
        w, _ = city
        lead, _ = dispatched(w, "N1")
        base = {"ticket_no": "N1", "assignment_id": lead["id"], "department_code": "chengguan"}
        w.on_deadline(event("assignment.clocks_started", "N1", **base, role="lead",
                            started_at=NOW, sign_due=NOW + timedelta(hours=2),
                            handle_due=NOW + timedelta(days=5), policy="p"))
        w.on_oversight(event("ticket.urged", "N1", **base, urge_id=3, clock="sign",
                             kind="warning", channel="notice", issued_at=NOW, issuer="system",
                             note="请尽快签收"))
        w.on_oversight(event("ticket.supervised", "N1", **base, supervision_order_id=4,
                             source="manual", opened_at=NOW, opened_by="s",
                             explanation_due=NOW + timedelta(days=1),
                             escalate_at=NOW + timedelta(days=2), note="督办"))
        w.on_oversight(event("ticket.supervised", "N1", ticket_no="N1", assignment_id=None,
                             department_code=None, supervision_order_id=5, source="problem",
                             opened_at=NOW, opened_by="s", explanation_due=NOW,
                             escalate_at=NOW, note=None))  # no assignment: no feed
        w.on_deadline(event("assignment.extension_decided", "N1", **base, extension_id=6,
                            approved=True, old_due=NOW, new_due=NOW + timedelta(days=3),
                            at=NOW, actor="s", note="同意"))
        w.on_return(event("assignment.return_requested", "N1", **base, return_id=7,
                          reason_code="function", basis="非本单位", at=NOW, actor="d"))
        w.on_return(event("assignment.return_decided", "N1", **base, return_id=7,
                          approved=False, at=NOW, actor="s", note="驳回"))
        items = w.feed("chengguan", {})["items"]
        assert [i["type"] for i in items] == [
            "assignment.dispatched", "assignment.deadlines_set", "assignment.urged",
            "assignment.supervised", "assignment.extension_decided",
            "assignment.return_decided"]
        assert [i["seq"] for i in items] == [1, 2, 3, 4, 5, 6]
        assert {i["type"] for i in items} <= set(FEED_TYPES)
        assert items[2]["data"]["note"] == "请尽快签收" and items[2]["data"]["urge_id"] == 3
        assert items[3]["data"]["supervision_order_id"] == 4
        assert items[4]["data"]["approved"] and items[5]["data"]["approved"] is False

    def test_an_urge_before_the_dispatch_is_out_of_order(self, city: Any) -> None:
        w, _ = city
        with pytest.raises(OutOfOrder):
            w.on_oversight(event("ticket.urged", "N9", ticket_no="N9", urge_id=1,
                                 assignment_id=4242, department_code="x", clock="sign",
                                 kind="manual", channel="phone", issued_at=NOW, issuer="s",
                                 note=None))

    def test_cursor_paging(self, city: Any) -> None:
        w, _ = city
        for n in range(5):
            dispatched(w, f"N{n}")
        page = w.feed("chengguan", {"limit": 2})
        assert [i["seq"] for i in page["items"]] == [1, 2] and page["next_cursor"] == 2
        page = w.feed("chengguan", {"cursor": page["next_cursor"], "limit": 2})
        assert [i["seq"] for i in page["items"]] == [3, 4]
        page = w.feed("chengguan", {"cursor": 4, "limit": 2})
        assert [i["seq"] for i in page["items"]] == [5]
        assert w.feed("chengguan", {"cursor": 5}) == {"items": [], "next_cursor": None}
        with pytest.raises(Invalid):
            w.feed("chengguan", {"limit": 501})
        with pytest.raises(NotFound):
            w.feed("nosuch", {})

    def test_pass_down_and_reopen(self, city: Any) -> None:
        w, _ = city
        w.load_reference({"rules": [{"id": 900, "keywords": ["井盖"], "lead": "jiangyang",
                                     "priority": 100}]})
        lead, _ = dispatched(w, "N1", content="路边井盖缺失")
        assert lead["department_code"] == "jiangyang"
        child = w.pass_down(lead["id"], "jiangyang", {"department_code": "jy_nancheng",
                                                      "note": "请南城街道处理"}, "dept_jiangyang")
        got = w.feed("jy_nancheng", {})["items"]
        assert got[-1]["type"] == "assignment.dispatched"
        assert got[-1]["data"]["passed_from_assignment_id"] == lead["id"]
        assert got[-1]["data"]["note"] == "请南城街道处理"
        w.sign(child["id"], "jy_nancheng", "u")
        w.reply(child["id"], "jy_nancheng", {"reply": "已处理"}, "u")
        w.on_ticket_reopened(event("ticket.reopened", "N1", ticket_no="N1", at=NOW,
                                   actor="supervisor1", reason="群众不满意"))
        types = [(i["type"], i["data"].get("round")) for i in w.feed("jy_nancheng", {})["items"]]
        assert types[-2:] == [("assignment.reopened", 2), ("assignment.dispatched", 2)]


class TestRecall:
    def test_recall_stops_the_round_and_queues_the_order(self, city: Any) -> None:
        w, db = city
        lead, (assist,) = dispatched(w, "N1")
        w.sign(lead["id"], "chengguan", "u")
        out = w.recall("N1", {"reason": "派错部门"}, "dispatcher1")
        assert out == {"ticket_no": "N1", "round": 1,
                       "assignment_ids": [lead["id"], assist["id"]]}
        assert {a["state"] for a in w.assignments_of("N1")} == {"recalled"}
        item = next(i for i in w.queue({})["items"] if i["ticket_no"] == "N1")
        assert item["waiting_reason"] == "recalled" and item["round"] == 2
        (ev,) = of(db, "ticket.recalled")
        assert ev["data"]["departments"] == ["chengguan", assist["department_code"]]
        assert ev["data"]["reason"] == "派错部门" and ev["data"]["actor"] == "dispatcher1"
        assert w.feed("chengguan", {})["items"][-1]["type"] == "assignment.recalled"
        assert w.feed(assist["department_code"], {})["items"][-1]["data"]["reason"] == "派错部门"
        with pytest.raises(Conflict):
            w.reply(lead["id"], "chengguan", {"reply": "x"}, "u")
        with pytest.raises(Conflict) as exc:
            w.recall("N1", {"reason": "again"}, "dispatcher1")
        assert exc.value.details == {"action": "recall", "state": "pending"}
        made = w.dispatch("N1", {"lead": "shuiwu"}, "dispatcher1")
        assert made[0]["round"] == 2
        assert of(db, "ticket.problem_flagged") == []

    def test_no_recall_after_the_leads_reply_or_of_an_unknown_order(self, city: Any) -> None:
        w, _ = city
        lead, (assist,) = dispatched(w, "N1")
        w.sign(assist["id"], assist["department_code"], "u")
        w.submit_opinion(assist["id"], assist["department_code"], {"opinion": "同意"}, "u")
        w.sign(lead["id"], "chengguan", "u")
        w.reply(lead["id"], "chengguan", {"reply": "已处理"}, "u")
        with pytest.raises(Conflict) as exc:
            w.recall("N1", {"reason": "派错"}, "dispatcher1")
        assert exc.value.details["state"] == "replied"
        with pytest.raises(NotFound):
            w.recall("NOPE", {"reason": "派错"}, "dispatcher1")
        with pytest.raises(Invalid):
            w.recall("N1", {}, "dispatcher1")


class TestProgress:
    def test_noted_stored_shown_and_emitted(self, city: Any) -> None:
        w, db = city
        lead, _ = dispatched(w, "N1")
        note = w.note_progress(lead["id"], "chengguan", {"note": "已联系当事人"}, "dept_chengguan")
        assert note["note"] == "已联系当事人" and note["ticket_no"] == "N1"
        detail = w.get_assignment(lead["id"], "chengguan")
        assert [p["note"] for p in detail["progress"]] == ["已联系当事人"]
        (ev,) = of(db, "assignment.progress_noted")
        assert ev["data"]["note_id"] == note["id"]

    def test_refused_on_another_departments_or_a_closed_assignment(self, city: Any) -> None:
        w, _ = city
        lead, _ = dispatched(w, "N1")
        with pytest.raises(NotFound):
            w.note_progress(lead["id"], "shuiwu", {"note": "x"}, "dept_shuiwu")
        with pytest.raises(Invalid):
            w.note_progress(lead["id"], "chengguan", {"note": "x" * 2001}, "u")
        w.recall("N1", {"reason": "派错"}, "dispatcher1")
        with pytest.raises(Conflict) as exc:
            w.note_progress(lead["id"], "chengguan", {"note": "x"}, "u")
        assert exc.value.details == {"action": "note_progress", "state": "recalled"}


class TestDelivery:
    def test_signed_delivery_recorded_and_other_kinds_not_pushed(self, city: Any,
                                                                 receiver: Any) -> None:
        w, db = city
        webhook(w, receiver, "chengguan")
        w.create_endpoint("jy_nancheng", {"kind": "pull"}, "admin")
        lead, _ = dispatched(w, "N1")
        (pending,) = w.list_deliveries({})["items"]
        assert pending["state"] == "pending" and pending["department_code"] == "chengguan"
        counts = DeliveryRunner(db).deliver_due(None)
        assert counts["delivered"] == 1
        (got,) = receiver.accepted
        assert got["delivery_id"] == pending["id"] and got["seq"] == 1
        assert got["assignment_id"] == lead["id"] and got["data"]["phone"] == "138****5678"
        assert got["_headers"]["X-Hotline-Event"] == "assignment.dispatched"
        detail = w.get_delivery(pending["id"])
        assert detail["state"] == "delivered" and detail["attempts"] == 1
        (attempt,) = detail["attempt_log"]
        assert attempt["status_code"] == 200 and '"ok"' in attempt["response"]
        (ev,) = of(db, "delivery.delivered")
        assert ev["data"]["feed_seq"] == 1 and ev["data"]["attempts"] == 1
        assert receiver.refused == []

    def test_category_endpoint_overrides_the_general_one(self, city: Any, receiver: Any) -> None:
        w, db = city
        webhook(w, receiver, "chengguan")
        w.create_endpoint("chengguan", {"kind": "pull", "category": "complaint"}, "admin")
        dispatched(w, "N1")  # a complaint: pulled
        dispatched(w, "N2", category="help")  # the general webhook
        (d,) = w.list_deliveries({})["items"]
        entry = w.get_delivery(d["id"])["entry"]
        assert entry["ticket_no"] == "N2"

    def test_rotated_secret_signs_the_next_attempt(self, city: Any, receiver: Any) -> None:
        w, db = city
        made = webhook(w, receiver, "chengguan")
        dispatched(w, "N1")
        rotated = w.rotate_endpoint_secret(made["id"], "admin")
        runner = DeliveryRunner(db)
        runner.deliver_due(None)  # signed with the new secret: the receiver still has the old
        assert receiver.refused == [("chengguan", "mismatch")] and receiver.accepted == []
        receiver.secrets["chengguan"] = rotated["secret"]
        runner.deliver_due(datetime.now(UTC) + timedelta(seconds=6))
        assert len(receiver.accepted) == 1

    def test_down_two_hours_then_back_every_entry_once_in_order(self, city: Any,
                                                                receiver: Any) -> None:
        w, db = city
        webhook(w, receiver, "chengguan")
        webhook(w, receiver, "jy_nancheng")
        receiver.status["chengguan"] = 503
        for n in range(4):
            dispatched(w, f"N{n}")
        runner = DeliveryRunner(db)
        start = datetime.now(UTC)
        t = start
        while t < start + timedelta(hours=2):
            runner.deliver_due(t)
            t += timedelta(minutes=7)
        assert receiver.of("chengguan") == []
        assert [e["seq"] for e in receiver.of("jy_nancheng")] == [1, 2, 3, 4]  # not blocked
        rows = w.list_deliveries({"department_code": "chengguan"})["items"]
        head, *rest = rows
        assert head["attempts"] > 5 and head["last_status"] == 503
        assert all(r["attempts"] == 0 for r in rest)  # head-of-line: later ones wait
        log = w.get_delivery(head["id"])["attempt_log"]
        assert all(a["status_code"] == 503 and "维护" in a["response"] for a in log)
        receiver.status["chengguan"] = 200
        runner.deliver_due(t + timedelta(minutes=30))
        got = receiver.of("chengguan")
        assert [e["seq"] for e in got] == [1, 2, 3, 4]
        assert len({e["delivery_id"] for e in got}) == 4
        assert {r["state"] for r in w.list_deliveries({})["items"]} == {"delivered"}
        runner.deliver_due(t + timedelta(hours=1))
        assert len(receiver.of("chengguan")) == 4  # nothing sent twice
        # the list says what each delivery carries, and finds one order's pushes
        (one,) = [r for r in w.list_deliveries({"ticket_no": "N2"})["items"]
                  if r["department_code"] == "chengguan"]
        assert (one["feed_type"], one["ticket_no"], one["seq"]) == ("assignment.dispatched",
                                                                    "N2", 3)
        assert one["assignment_id"] is not None
        assert {r["ticket_no"] for r in w.list_deliveries({"ticket_no": "N2"})["items"]} == {"N2"}

    def test_timeouts_are_retried(self, city: Any, receiver: Any) -> None:
        w, db = city
        webhook(w, receiver, "chengguan")
        receiver.status["chengguan"] = "hang"
        receiver.hang_seconds = 1.5
        dispatched(w, "N1")
        runner = DeliveryRunner(db)
        runner.deliver_due(None)
        (d,) = w.list_deliveries({"department_code": "chengguan"})["items"]
        (attempt,) = w.get_delivery(d["id"])["attempt_log"]
        assert attempt["status_code"] is None and "Timeout" in attempt["error"]
        assert attempt["latency_ms"] >= 900 and d["state"] == "pending"
        receiver.status["chengguan"] = 200
        runner.deliver_due(datetime.now(UTC) + timedelta(seconds=10))
        assert [e["seq"] for e in receiver.of("chengguan")] == [1]

    def test_dead_after_the_window_then_the_next_proceeds_and_replay(self, city: Any,
                                                                     receiver: Any) -> None:
        w, db = city
        webhook(w, receiver, "chengguan")
        receiver.status["chengguan"] = 500
        dispatched(w, "N1")
        dispatched(w, "N2")
        runner = DeliveryRunner(db, retry_hours=72)
        start = datetime.now(UTC)
        runner.deliver_due(start)
        runner.deliver_due(start + timedelta(hours=71))
        first = w.list_deliveries({"department_code": "chengguan"})["items"][0]
        assert first["state"] == "pending" and first["attempts"] == 2
        # past the 72 hours: the head fails its last try and is dead-lettered; the next entry
        # (as old) gets its try at once, fails, and is dead-lettered too
        runner.deliver_due(start + timedelta(hours=72, minutes=1))
        first, second = w.list_deliveries({"department_code": "chengguan"})["items"]
        assert first["state"] == "dead" and second["state"] == "dead"
        assert len(of(db, "delivery.dead_lettered")) == 2
        assert w.list_deliveries({"state": "dead"})["items"][0]["id"] == first["id"]
        # a later entry is not blocked by the dead ones
        receiver.status["chengguan"] = 200
        dispatched(w, "N3")
        runner.deliver_due(None)
        assert [e["seq"] for e in receiver.of("chengguan")] == [3]
        replayed = w.replay_delivery(first["id"], "admin")
        assert replayed["state"] == "pending" and replayed["replays"] == 1
        with pytest.raises(Conflict):
            w.replay_delivery(first["id"], "admin")
        runner.deliver_due(None)
        assert [e["seq"] for e in receiver.of("chengguan")] == [3, 1]
        assert of(db, "delivery.replayed")[0]["data"]["actor"] == "admin"
        problems = w.delivery_problems(3600)
        assert problems["dead"] == 1 and problems["dead_ids"] == [second["id"]]
        with pytest.raises(NotFound):
            w.replay_delivery(9999, "admin")

    def test_two_runners_never_deliver_one_department_twice(self, city: Any,
                                                            receiver: Any) -> None:
        import eventlet

        w, db = city
        webhook(w, receiver, "chengguan")
        for n in range(10):
            dispatched(w, f"N{n}")
        a, b = DeliveryRunner(db), DeliveryRunner(db)
        ga, gb = eventlet.spawn(a.deliver_due, None), eventlet.spawn(b.deliver_due, None)
        ga.wait(), gb.wait()
        got = receiver.of("chengguan")
        assert [e["seq"] for e in got] == list(range(1, 11))
        assert receiver.requests == 10

    def test_a_deactivated_webhook_without_replacement_dead_letters(self, city: Any,
                                                                     receiver: Any) -> None:
        w, db = city
        made = webhook(w, receiver, "chengguan")
        dispatched(w, "N1")
        w.deactivate_endpoint(made["id"], "admin")
        DeliveryRunner(db).deliver_due(None)
        (d,) = w.list_deliveries({})["items"]
        assert d["state"] == "dead" and "webhook" in d["last_error"]
        assert receiver.requests == 0


def test_a_recalled_assignment_gets_no_later_entries(city: Any) -> None:
    w, _ = city
    lead, _ = dispatched(w, "N1")
    w.recall("N1", {"reason": "派错"}, "dispatcher1")
    base = {"ticket_no": "N1", "assignment_id": lead["id"], "department_code": "chengguan"}
    w.on_deadline(event("assignment.clocks_started", "N1", **base, role="lead", started_at=NOW,
                        sign_due=NOW + timedelta(hours=2), handle_due=NOW + timedelta(days=5),
                        policy="p"))
    w.on_oversight(event("ticket.urged", "N1", **base, urge_id=3, clock="sign", kind="warning",
                         channel="notice", issued_at=NOW, issuer="system", note=None))
    assert [i["type"] for i in w.feed("chengguan", {})["items"]] == [
        "assignment.dispatched", "assignment.recalled"]
