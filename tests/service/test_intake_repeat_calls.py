"""Intake's repeat-call entrypoints (重复来电) with a real database, jieba and no broker."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from services.intake.dependencies import Matcher, RepeatCallSettings, shared_segmenter
from services.intake.models import Ticket
from services.intake.service import IntakeService
from shared.errors import Conflict, Invalid, NotFound
from shared.events import load_envelope, make_envelope, utcnow
from tests.service.conftest import Worker, outbox

STREET = "510502001001"
BBQ = {"category": "complaint", "phone": "13800000001", "territory_code": STREET,
       "content": "滨江路12号楼下每天晚上有人占道经营，烧烤油烟很大，影响居民休息"}
BBQ_AGAIN = {"category": "complaint", "phone": "13900000002", "territory_code": STREET,
             "content": "滨江路12号楼附近夜里摆摊烧烤，油烟呛人，吵得睡不着，希望城管管一管"}
LAMP = {"category": "complaint", "phone": "13700000003", "territory_code": STREET,
        "content": "滨江路12号楼前的路灯坏了一个星期了，晚上出行很不方便"}


def call(draft: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The link form of a caller's draft."""
    return {"phone": draft["phone"], "content": draft["content"], **extra}


@pytest.fixture
def intake(store: Any) -> Any:
    db = store("intake")
    settings = RepeatCallSettings(hotspot_callers=3)
    worker = Worker(IntakeService, db, repeat_calls=Matcher(shared_segmenter(), settings))
    handler = Worker(IntakeService, db, consumer="intake.on_open_ledger_fact",
                     repeat_calls=Matcher(shared_segmenter(), settings))
    return worker, handler, db


def event(type_: str, ticket_no: str, sequence: int) -> Any:
    """A supervision fact as the intake handler receives it (with its per-order sequence)."""
    at_field = "closed_at" if type_ == "ticket.closed" else "at"
    data = {"ticket_no": ticket_no, "actor": "supervisor1", "reason": "callback",
            at_field: utcnow()}
    return load_envelope(make_envelope(type_, data, producer="supervision",
                                       ticket_no=ticket_no, sequence=sequence))


class TestRegistrationKeepsTokensAndShowsRelated:
    def test_tokens_are_stored_and_a_similar_open_order_is_shown(self, intake: Any) -> None:
        worker, _, db = intake
        first = worker.register_ticket(BBQ, "agent1")
        assert first["related"] == [] and first["caller_privacy"] is False
        with db.engine.connect() as conn:
            tokens = conn.execute(select(Ticket.tokens)).scalar_one()
        assert {"占道经营", "烧烤", "油烟"} <= set(tokens.split())
        second = worker.register_ticket({**BBQ_AGAIN, "caller_privacy": True}, "agent2")
        assert second["caller_privacy"] is True
        assert [(r["ticket_no"], r["reason"]) for r in second["related"]] == [
            (first["ticket_no"], "similar_matter")]
        registered = [e for e in outbox(db) if e["type"] == "ticket.registered"]
        assert [e["data"]["caller_privacy"] for e in registered] == [False, True]

    def test_earlier_orders_named_as_related_must_exist(self, intake: Any) -> None:
        worker, _, db = intake
        first = worker.register_ticket(BBQ, "agent1")["ticket_no"]
        second = worker.register_ticket({**BBQ_AGAIN, "related_ticket_nos": [first, first]},
                                        "agent1")
        assert second["related_ticket_nos"] == [first]
        assert outbox(db)[-1]["data"]["related_ticket_nos"] == [first]
        with pytest.raises(Invalid) as err:
            worker.register_ticket({**BBQ, "related_ticket_nos": ["20200101000001"]}, "agent1")
        assert "20200101000001" in err.value.details["fields"]["related_ticket_nos"][0]

    def test_registering_the_same_text_again_is_not_blocked(self, intake: Any) -> None:
        worker, _, _ = intake
        numbers = {worker.register_ticket(BBQ, "agent1")["ticket_no"] for _ in range(3)}
        assert len(numbers) == 3


class TestFindRelated:
    def test_ranked_by_score_with_reasons(self, intake: Any) -> None:
        worker, _, _ = intake
        bbq = worker.register_ticket(BBQ, "agent1")["ticket_no"]
        lamp = worker.register_ticket(LAMP, "agent1")["ticket_no"]
        found = worker.find_related({**BBQ_AGAIN})["items"]
        assert [(f["ticket_no"], f["reason"]) for f in found] == [(bbq, "similar_matter")]
        assert found[0]["score"] >= 0.45
        # the lamp's caller calls again about something else: still a candidate, same_caller
        by_phone = worker.find_related({"phone": "137-0000-0003", "content": "小区电梯坏了"})
        assert [(f["ticket_no"], f["reason"]) for f in by_phone["items"]] == [(lamp, "same_caller")]

    def test_other_territory_or_category_is_not_similar(self, intake: Any) -> None:
        worker, _, _ = intake
        worker.register_ticket(BBQ, "agent1")
        assert worker.find_related({**BBQ_AGAIN, "territory_code": "510502001002"})["items"] == []
        assert worker.find_related({**BBQ_AGAIN, "category": "suggestion"})["items"] == []

    def test_resolved_at_intake_is_not_open(self, intake: Any) -> None:
        worker, _, _ = intake
        worker.register_ticket({**BBQ, "resolution": {"answer": "已告知城管投诉渠道"}}, "agent1")
        assert worker.find_related(BBQ_AGAIN)["items"] == []
        assert worker.find_related({"phone": BBQ["phone"]})["items"] == []

    def test_a_draft_needs_a_phone_or_content(self, intake: Any) -> None:
        worker, _, _ = intake
        with pytest.raises(Invalid) as err:
            worker.find_related({"category": "complaint"})
        assert "content" in err.value.details["fields"]
        with pytest.raises(Invalid) as err:
            worker.find_related({"phone": "12"})
        assert "phone" in err.value.details["fields"]


class TestOpenLedger:
    def test_closed_stops_being_a_candidate_and_reopened_is_again(self, intake: Any) -> None:
        worker, handler, _ = intake
        no = worker.register_ticket(BBQ, "agent1")["ticket_no"]
        handler.on_open_ledger_fact(event("ticket.closed", no, 5))
        assert worker.find_related(BBQ_AGAIN)["items"] == []
        assert worker.get_ticket(no)["open"] is False
        handler.on_open_ledger_fact(event("ticket.reopened", no, 7))
        assert [f["ticket_no"] for f in worker.find_related(BBQ_AGAIN)["items"]] == [no]
        # an older close arriving late changes nothing
        handler.on_open_ledger_fact(event("ticket.closed", no, 6))
        assert worker.get_ticket(no)["open"] is True

    def test_a_redelivered_event_has_one_effect(self, intake: Any) -> None:
        worker, handler, _ = intake
        no = worker.register_ticket(BBQ, "agent1")["ticket_no"]
        closed = event("ticket.closed", no, 5)
        handler.on_open_ledger_fact(closed)
        handler.on_open_ledger_fact(event("ticket.reopened", no, 6))
        handler.on_open_ledger_fact(closed)  # redelivered: skipped by the inbox
        assert worker.get_ticket(no)["open"] is True


class TestLinking:
    def test_link_emits_ticket_linked_and_the_third_caller_raises_one_hotspot(
            self, intake: Any) -> None:
        worker, _, db = intake
        no = worker.register_ticket(BBQ, "agent1")["ticket_no"]
        first = worker.link_call(no, call(BBQ_AGAIN, caller_name="王先生", call_id="c-2",
                                           reason="similar_matter"), "agent2")
        assert first["callers"] == 2 and first["hotspot"] is False
        same_again = worker.link_call(no, call(BBQ, content="又打来催"), "agent2")
        assert same_again["callers"] == 2  # the original caller again: not a new caller
        third = worker.link_call(no, {"phone": "0830-2345678", "content": "楼下烧烤太吵",
                                      "call_id": "c-3"}, "agent1")
        assert (third["callers"], third["hotspot"], third["hotspot_raised"]) == (3, True, True)
        repeated = worker.link_call(no, {"phone": "0830-2345678", "content": "楼下烧烤太吵",
                                         "call_id": "c-3"}, "agent1")
        assert repeated["replayed"] is True and repeated["link"]["id"] == third["link"]["id"]
        fourth = worker.link_call(no, {"phone": "13600000004", "content": "烧烤油烟"}, "agent1")
        assert (fourth["callers"], fourth["hotspot"], fourth["hotspot_raised"]) == (4, True, False)

        types = [e["type"] for e in outbox(db)]
        assert types.count("ticket.linked") == 4 and types.count("ticket.hotspot_raised") == 1
        linked = next(e for e in outbox(db) if e["type"] == "ticket.linked")
        assert linked["data"]["phone"] == "13900000002" and linked["data"]["agent"] == "agent2"
        assert linked["data"]["reason"] == "similar_matter" and linked["ticket_no"] == no
        hotspot = next(e for e in outbox(db) if e["type"] == "ticket.hotspot_raised")
        assert hotspot["data"]["callers"] == 3 and hotspot["data"]["category"] == "complaint"

        detail = worker.get_ticket(no)
        assert [x["call_id"] for x in detail["links"]] == ["c-2", None, "c-3", None]
        assert detail["callers"] == 4 and detail["hotspot"]["callers"] == 3

    def test_unknown_closed_and_invalid(self, intake: Any) -> None:
        worker, handler, db = intake
        with pytest.raises(NotFound):
            worker.link_call("20260101000001", call(BBQ_AGAIN), "agent1")
        no = worker.register_ticket(BBQ, "agent1")["ticket_no"]
        with pytest.raises(Invalid) as err:
            worker.link_call(no, {"phone": "bad", "content": " ", "reason": "x"}, "agent1")
        assert set(err.value.details["fields"]) == {"phone", "content", "reason"}
        handler.on_open_ledger_fact(event("ticket.closed", no, 3))
        with pytest.raises(Conflict) as conflict:
            worker.link_call(no, call(BBQ_AGAIN), "agent1")
        assert conflict.value.details == {"action": "link", "state": "closed"}
        assert [e["type"] for e in outbox(db)] == ["ticket.registered"]


class TestCallerHistory:
    def test_newest_first_with_linked_orders_and_open_flags(self, intake: Any) -> None:
        worker, handler, _ = intake
        a = worker.register_ticket(BBQ, "agent1")["ticket_no"]
        b = worker.register_ticket(LAMP, "agent1")["ticket_no"]
        c = worker.register_ticket({**BBQ, "content": "家门口路灯不亮"}, "agent1")["ticket_no"]
        worker.link_call(b, {"phone": "+86 138 0000 0001", "content": "路灯还没修"}, "agent1")
        handler.on_open_ledger_fact(event("ticket.closed", a, 4))
        history = worker.caller_history({"phone": "13800000001"})
        assert [(h["ticket_no"], h["relation"], h["open"]) for h in history["items"]] == [
            (c, "caller", True), (b, "linked", True), (a, "caller", False)]
        assert history["total"] == 3
        with pytest.raises(Invalid):
            worker.caller_history({"phone": "x"})


class TestConfidentialListing:
    def test_hidden_unless_registered_by_the_listing_agent(self, intake: Any) -> None:
        worker, _, _ = intake
        plain = worker.register_ticket(LAMP, "agent1")["ticket_no"]
        secret = worker.register_ticket({**BBQ, "confidential": True}, "agent1")["ticket_no"]
        listed = worker.list_tickets
        assert [t["ticket_no"] for t in listed({})["items"]] == [secret, plain]
        assert [t["ticket_no"] for t in listed({"hide_confidential": True})["items"]] == [plain]
        assert [t["ticket_no"] for t in listed({"hide_confidential": True,
                                                "own_agent": "agent1"})["items"]] == [secret, plain]
        assert [t["ticket_no"] for t in listed({"hide_confidential": True,
                                                "own_agent": "agent2"})["items"]] == [plain]
