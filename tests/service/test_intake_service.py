"""Intake's entrypoints with a real database and no broker (worker_factory)."""

from __future__ import annotations

from typing import Any

import pytest

from services.intake.service import IntakeService
from shared.errors import Invalid, NotFound
from tests.service.conftest import Worker, outbox

ORDER = {"category": "help", "phone": "13912345678", "content": "家门口路灯不亮已经一周了"}


@pytest.fixture(scope="session")
def matcher() -> Any:
    from services.intake.dependencies import Matcher, RepeatCallSettings, shared_segmenter

    return Matcher(shared_segmenter(), RepeatCallSettings())


@pytest.fixture
def intake(store: Any, matcher: Any) -> Any:
    db = store("intake")
    worker = Worker(IntakeService, db, repeat_calls=matcher)
    return lambda: worker, db


class TestRegistration:
    def test_numbers_follow_the_day_and_are_never_reused(self, intake: Any) -> None:
        make, db = intake
        first = make().register_ticket(ORDER, "agent1")
        second = make().register_ticket(ORDER, "agent1")
        assert first["ticket_no"][:8] == second["ticket_no"][:8]
        assert int(second["ticket_no"][8:]) == int(first["ticket_no"][8:]) + 1
        with pytest.raises(Invalid):
            make().register_ticket({**ORDER, "phone": "bad"}, "agent1")
        third = make().register_ticket(ORDER, "agent1")
        assert int(third["ticket_no"][8:]) == int(second["ticket_no"][8:]) + 1

    def test_registration_records_its_event_in_the_same_transaction(self, intake: Any) -> None:
        make, db = intake
        t = make().register_ticket({**ORDER, "title": None}, "agent7")
        events = outbox(db)
        assert [e["type"] for e in events] == ["ticket.registered"]
        e = events[0]
        assert e["ticket_no"] == t["ticket_no"] and e["sequence"] == 1
        assert e["data"]["agent"] == "agent7" and e["data"]["title"].startswith("家门口路灯")

    def test_invalid_input_writes_nothing(self, intake: Any) -> None:
        make, db = intake
        with pytest.raises(Invalid) as err:
            make().register_ticket({"category": "help", "content": "x" * 4001}, "agent1")
        assert set(err.value.details["fields"]) == {"content", "phone"}
        assert outbox(db) == []
        assert make().list_tickets({})["items"] == []

    def test_idempotency_key_returns_the_first_order(self, intake: Any) -> None:
        make, db = intake
        a = make().register_ticket(ORDER, "agent1", "agent1:k1")
        b = make().register_ticket({**ORDER, "content": "另一件事"}, "agent1", "agent1:k1")
        assert (a["replayed"], b["replayed"]) == (False, True)
        assert a["ticket_no"] == b["ticket_no"] and b["content"] == ORDER["content"]
        assert len(outbox(db)) == 1


class TestQueries:
    def test_list_is_newest_first_and_cursor_paged(self, intake: Any) -> None:
        make, _ = intake
        numbers = [make().register_ticket(ORDER, "agent1")["ticket_no"] for _ in range(5)]
        page = make().list_tickets({"limit": 2})
        assert [t["ticket_no"] for t in page["items"]] == numbers[::-1][:2]
        rest = make().list_tickets({"limit": 10, "cursor": page["next_cursor"]})
        assert [t["ticket_no"] for t in rest["items"]] == numbers[::-1][2:]
        assert rest["next_cursor"] is None
        assert len(make().list_tickets({"phone": "+86 139-1234-5678"})["items"]) == 5

    def test_unknown_order_is_not_found(self, intake: Any) -> None:
        make, _ = intake
        with pytest.raises(NotFound):
            make().get_ticket("20260101000001")


class TestConcurrentIdempotency:
    def test_a_key_committed_concurrently_returns_that_order_not_an_error(
            self, intake: Any, monkeypatch: Any) -> None:
        make, db = intake
        first = make().register_ticket(ORDER, "agent1", "agent1:k2")
        original = IntakeService._by_idempotency_key
        calls = {"n": 0}

        def racing_lookup(self: Any, key: Any) -> Any:
            calls["n"] += 1
            # the first lookup runs before the concurrent request committed: it sees nothing
            return None if calls["n"] == 1 else original(self, key)

        monkeypatch.setattr(IntakeService, "_by_idempotency_key", racing_lookup)
        again = make().register_ticket(ORDER, "agent1", "agent1:k2")
        assert again == {**first, "replayed": True}
        assert len(outbox(db)) == 1  # the loser's event was rolled back with its order


class TestResolutionAtIntake:
    def test_answered_on_the_spot_records_the_answer_and_both_events(self, intake: Any) -> None:
        make, db = intake
        t = make().register_ticket({**ORDER, "category": "consultation",
                                    "resolution": {"answer": "持身份证到社区办理", "article_id": 3}},
                                   "agent1")
        assert t["resolution"] == "持身份证到社区办理" and t["resolution_article_id"] == 3
        events = outbox(db)
        assert [e["type"] for e in events] == ["ticket.registered", "ticket.resolved_at_intake"]
        assert events[0]["data"]["resolved_at_intake"] is True
        assert events[1]["data"]["article_id"] == 3

    def test_a_resolution_needs_an_answer(self, intake: Any) -> None:
        make, db = intake
        with pytest.raises(Invalid) as err:
            make().register_ticket({**ORDER, "resolution": {"article_id": 3}}, "agent1")
        assert "resolution" in err.value.details["fields"]
        assert outbox(db) == []
