"""Dispatch takes the knowledge base's suggestion (派单辅助, ``kb.departments_suggested``) for an
order no rule matched: kept on the held round and shown in the queue, accepted like the
catalogue's, moot once a dispatcher acted, dispatched at once only where a city enabled it.
A real migrated SQLite database, no broker (worker_factory)."""

from __future__ import annotations

from typing import Any

import pytest

from hotline import demo
from services.dispatch.dependencies import DispatchSettings
from services.dispatch.domain import KbAutoDispatch, ReviewPolicy
from services.dispatch.reference import ReferenceCache
from services.dispatch.service import DispatchService, OutOfOrder
from shared.events import Event
from tests.service.conftest import Worker
from tests.service.test_dispatch_step2_service import NOW, event, of, registered, return_event

UNMATCHED = {"category": "consultation", "content": "路边井盖缺失，晚上有人差点掉下去"}


def suggestion(no: str, *tops: tuple[str, float], round_: int | None = 1,
               confidence: float = 0.3) -> Event:
    return event("kb.departments_suggested", no, ticket_no=no, at=NOW, round=round_,
                 confidence=confidence, suggestions=[
                     {"department_code": d, "score": s,
                      "reasons": [f"部门职能「{d}主要职责」命中：井盖、窨井"]} for d, s in tops])


@pytest.fixture
def city(store: Any) -> Any:
    """``city(review=..., kb_auto=...)`` → (worker, db): dispatch with the demo city."""
    db = store("dispatch")
    cache = ReferenceCache()
    cache.setup()

    def make(review: Any = None, kb_auto: KbAutoDispatch | None = None) -> Any:
        settings = DispatchSettings(review=ReviewPolicy.from_config(review),
                                    kb_auto=kb_auto or KbAutoDispatch())
        return Worker(DispatchService, db, consumer="dispatch.test",
                      reference=cache.get_dependency(None), settings=settings), db

    worker, _ = make()
    worker.load_reference({"territories": demo.TERRITORIES, "departments": demo.DEPARTMENTS,
                           "rules": demo.RULES})
    return make


def waiting(w: Any, no: str) -> dict[str, Any]:
    return next(i for i in w.queue({})["items"] if i["ticket_no"] == no)


class TestKnowledgeSuggestion:
    def test_an_unmatched_order_shows_the_knowledge_suggestion_and_accepting_it_dispatches(
            self, city: Any) -> None:
        w, db = city()
        w.on_ticket_registered(registered("K1", **UNMATCHED))
        [pending] = of(db, "ticket.pending_dispatch")
        assert pending["data"]["waiting_reason"] == "unmatched"
        fact = suggestion("K1", ("shuiwu", 0.62), ("zhujian", 0.31), ("nobody", 0.05))
        w.on_departments_suggested(fact)
        w.on_departments_suggested(fact)  # redelivered: no second effect
        item = waiting(w, "K1")
        s = item["suggestion"]
        assert item["waiting_reason"] == "unmatched"
        assert (s["lead"], s["assists"], s["source"], s["rule_id"]) == ("shuiwu", [], "knowledge",
                                                                        None)
        assert s["reasons"] == ["部门职能「shuiwu主要职责」命中：井盖、窨井"]
        assert s["score"] == 0.62 and s["confidence"] == 0.3
        assert [a["department_code"] for a in s["alternatives"]] == ["zhujian"]  # nobody: unknown
        made = w.dispatch("K1", {"accept_suggestion": True}, "dispatcher1")
        assert [(a["department_code"], a["role"]) for a in made] == [("shuiwu", "lead")]
        [decision] = w.dispatch_history("K1")
        assert (decision["decision"], decision["suggestion_source"]) == ("accepted", "knowledge")
        assert of(db, "ticket.dispatched")[-1]["data"]["actor"] == "dispatcher1"

    def test_choosing_another_department_needs_no_reason_for_a_knowledge_suggestion(
            self, city: Any) -> None:
        w, _ = city()
        w.on_ticket_registered(registered("K2", **UNMATCHED))
        w.on_departments_suggested(suggestion("K2", ("shuiwu", 0.5)))
        made = w.dispatch("K2", {"lead": "zhujian"}, "dispatcher1")
        assert made[0]["department_code"] == "zhujian"
        assert w.dispatch_history("K2")[0]["decision"] == "overridden"

    def test_a_late_suggestion_or_one_for_another_round_is_moot(self, city: Any) -> None:
        w, _ = city()
        w.on_ticket_registered(registered("K3", **UNMATCHED))
        w.on_departments_suggested(suggestion("K3", ("shuiwu", 0.5), round_=2))
        assert waiting(w, "K3")["suggestion"] is None
        w.dispatch("K3", {"lead": "zhujian"}, "dispatcher1")
        w.on_departments_suggested(suggestion("K3", ("shuiwu", 0.5)))  # after the dispatcher
        [decision] = w.dispatch_history("K3")
        assert decision["suggested_lead"] is None and decision["decision"] == "manual"
        w.on_departments_suggested(suggestion("K3"))  # nothing suggested: nothing kept

    def test_a_catalogue_suggestion_is_not_replaced(self, city: Any) -> None:
        w, _ = city(review="all")
        w.on_ticket_registered(registered("K4", content="小区物业不管电梯"))
        w.on_departments_suggested(suggestion("K4", ("shichang", 0.9)))
        s = waiting(w, "K4")["suggestion"]
        assert (s["lead"], s["source"]) == ("zhujian", "catalogue") and s["rule_id"]

    def test_after_an_approved_return_the_order_waits_with_a_new_knowledge_suggestion(
            self, city: Any) -> None:
        w, _ = city()
        w.on_ticket_registered(registered("K6", **UNMATCHED))
        [lead] = w.dispatch("K6", {"lead": "chengguan"}, "dispatcher1")
        w.on_departments_suggested(suggestion("K6", ("shuiwu", 0.7), round_=2))  # moot: no return
        w.on_return(return_event("requested", "K6", lead, 1))
        early = suggestion("K6", ("shuiwu", 0.7), round_=2)
        with pytest.raises(OutOfOrder):  # knowledge heard of the approval before dispatch did
            w.on_departments_suggested(early)
        w.on_return(return_event("decided", "K6", lead, 1))
        w.on_departments_suggested(early)  # the retry
        item = waiting(w, "K6")
        assert item["waiting_reason"] == "returned" and item["round"] == 2
        assert (item["suggestion"]["lead"], item["suggestion"]["source"]) == ("shuiwu",
                                                                              "knowledge")
        made = w.dispatch("K6", {"accept_suggestion": True}, "dispatcher1")
        assert made[0]["department_code"] == "shuiwu" and made[0]["round"] == 2

    @pytest.mark.parametrize("confidence, score, dispatched", [
        (0.6, 0.8, True), (0.2, 0.8, False), (0.6, 0.4, False)])
    def test_auto_dispatch_only_where_enabled_and_clear(
            self, city: Any, confidence: float, score: float, dispatched: bool) -> None:
        w, db = city(kb_auto=KbAutoDispatch(enabled=True))
        w.on_ticket_registered(registered("K5", **UNMATCHED))
        w.on_departments_suggested(suggestion("K5", ("shuiwu", score), confidence=confidence))
        history = w.dispatch_history("K5")
        if dispatched:
            assert (history[0]["decision"], history[0]["decided_by"],
                    history[0]["lead"]) == ("auto", "knowledge", "shuiwu")
            assert of(db, "ticket.dispatched")[-1]["data"]["actor"] == "knowledge"
        else:
            assert history[0]["decision"] == "pending"
            assert not of(db, "ticket.dispatched")

    def test_auto_dispatch_is_off_by_default_and_read_from_config(self) -> None:
        assert not DispatchSettings().kb_auto.enabled
        made = KbAutoDispatch.from_config({"ENABLED": "true", "MIN_CONFIDENCE": 0.4})
        assert made.enabled and made.min_confidence == 0.4 and made.allows(0.7, 0.4)
        assert not made.allows(0.7, None)
        with pytest.raises(ValueError):
            KbAutoDispatch.from_config({"MIN_SCORE": 3})
