"""Dispatch's entrypoints with a real database and no broker (worker_factory)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hotline import demo
from services.dispatch import reference
from services.dispatch.dependencies import DispatchSettings
from services.dispatch.service import DispatchService
from shared.errors import Conflict, Invalid, NotFound
from shared.events import load_envelope, make_envelope
from tests.service.conftest import Worker, outbox


def registered(no: str, **data: Any) -> Any:
    body = {"ticket_no": no, "registered_at": datetime.now(UTC), "channel": "phone",
            "category": "complaint", "urgency": "normal", "title": "t",
            "content": "楼下有人占道经营", "territory_code": "510504001001", "confidential": False,
            **data}
    return load_envelope(make_envelope("ticket.registered", body, producer="intake",
                                       ticket_no=no, sequence=1))


@pytest.fixture
def dispatch(store: Any) -> Any:
    db = store("dispatch")

    def fresh_reference(session: Any) -> Any:  # the cache's contract without the cache
        return reference.load(session, reference.current_version(session))

    worker = Worker(DispatchService, db, consumer="dispatch.on_ticket_registered",
                    reference=fresh_reference, settings=DispatchSettings())

    def make() -> Any:
        return worker

    make().load_reference({"territories": demo.TERRITORIES, "departments": demo.DEPARTMENTS,
                           "rules": demo.RULES})
    return make, db


class TestRouting:
    def test_territorial_rule_wins_and_dispatch_is_recorded(self, dispatch: Any) -> None:
        make, db = dispatch
        make().on_ticket_registered(registered("20261123000001"))
        assignments = make().assignments_of("20261123000001")
        assert [(a["department_code"], a["role"]) for a in assignments] == [
            ("longmatan", "lead"), ("chengguan", "assist")]
        events = [e for e in outbox(db) if e["type"] == "ticket.dispatched"]
        assert len(events) == 1 and events[0]["data"]["rule_id"] is not None

    def test_the_same_event_twice_dispatches_once(self, dispatch: Any) -> None:
        make, db = dispatch
        event = registered("20261123000002")
        make().on_ticket_registered(event)
        make().on_ticket_registered(event)
        assert len(make().assignments_of("20261123000002")) == 2
        assert [e["type"] for e in outbox(db)] == ["ticket.dispatched"]

    def test_no_rule_leaves_the_order_for_a_dispatcher(self, dispatch: Any) -> None:
        make, db = dispatch
        make().on_ticket_registered(registered("20261123000003", category="consultation",
                                               content="图书馆几点开门", territory_code=None))
        assert make().assignments_of("20261123000003") == []
        assert outbox(db)[-1]["type"] == "ticket.pending_dispatch"
        with pytest.raises(Invalid):
            make().dispatch("20261123000003", {"lead": "nosuch"}, "dispatcher1")
        with pytest.raises(Invalid) as bad:  # the lead cannot also assist: bad input
            make().dispatch("20261123000003", {"lead": "jiaoyu", "assists": ["jiaoyu"]}, "d1")
        assert list(bad.value.details["fields"]) == ["assists"]
        assert make().assignments_of("20261123000003") == []
        made = make().dispatch("20261123000003", {"lead": "jiaoyu"}, "dispatcher1")
        assert made[0]["dispatched_by"] == "dispatcher1"
        with pytest.raises(Conflict):
            make().dispatch("20261123000003", {"lead": "jiaoyu"}, "dispatcher1")


class TestDepartmentActions:
    def test_sign_and_reply_are_scoped_and_ordered(self, dispatch: Any) -> None:
        make, db = dispatch
        make().on_ticket_registered(registered("20261123000004"))
        lead, assist = make().assignments_of("20261123000004")
        with pytest.raises(NotFound):
            make().sign(lead["id"], "chengguan", "dept_chengguan")  # not its assignment
        with pytest.raises(Conflict):
            make().reply(lead["id"], "longmatan", {"reply": "ok"}, "x")  # not signed yet
        assert make().sign(lead["id"], "longmatan", "u1")["state"] == "signed"
        with pytest.raises(Conflict):
            make().sign(lead["id"], "longmatan", "u1")
        make().sign(assist["id"], "chengguan", "u2")
        with pytest.raises(Conflict):
            make().reply(assist["id"], "chengguan", {"reply": "协办意见"}, "u2")  # assists don't reply
        with pytest.raises(Invalid):
            make().reply(lead["id"], "longmatan", {"reply": ""}, "u1")
        with pytest.raises(Conflict) as gate:  # the assistant's opinion comes first (协办意见)
            make().reply(lead["id"], "longmatan", {"reply": "已处理"}, "u1")
        assert gate.value.details["state"] == "assists_pending"
        make().submit_opinion(assist["id"], "chengguan", {"opinion": "已配合"}, "u2")
        assert make().reply(lead["id"], "longmatan", {"reply": "已处理"}, "u1")["state"] == "replied"
        types = [e["type"] for e in outbox(db)]
        assert types.count("assignment.signed") == 2 and types.count("assignment.replied") == 1

    def test_inbox_is_cursor_paged_by_assignment(self, dispatch: Any) -> None:
        make, _ = dispatch
        for i in range(3):
            make().on_ticket_registered(registered(f"2026112300010{i}"))
        page = make().inbox("longmatan", {"limit": 2})
        assert len(page["items"]) == 2 and page["next_cursor"]
        rest = make().inbox("longmatan", {"limit": 2, "cursor": page["next_cursor"]})
        assert len(rest["items"]) == 1 and rest["next_cursor"] is None
        assert rest["items"][0]["content"] == "楼下有人占道经营"
        with pytest.raises(NotFound):
            make().inbox("nosuch", {})
