"""Intake's Open311 submissions and citizen progress entrypoints with a real database and no
broker (worker_factory): what a submission records and emits, and the progress feed's inbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.intake.service import IntakeService, UnknownOrder
from shared.errors import Invalid, NotFound
from shared.events import load_envelope, make_envelope
from tests.service.conftest import Worker, outbox

SUBMISSION = {"category": "help", "content": "路灯不亮", "address": "江阳区滨江路",
              "email": "a@example.com", "account_id": "acct-1"}


@pytest.fixture
def intake(store: Any) -> Any:
    from services.intake.dependencies import Matcher, RepeatCallSettings, shared_segmenter

    db = store("intake")
    worker = Worker(IntakeService, db,
                    repeat_calls=Matcher(shared_segmenter(), RepeatCallSettings()))
    return lambda: worker, db


class TestSubmission:
    def test_records_channel_open311_without_a_phone_and_emits_registration(
            self, intake: Any) -> None:
        make, db = intake
        got = make().register_open311(SUBMISSION, "apikey:abcd1234")
        [event] = outbox(db)
        assert event["type"] == "ticket.registered"
        assert (event["data"]["channel"], event["data"]["phone"], event["data"]["agent"]) == (
            "open311", None, "apikey:abcd1234")
        assert got["account_id"] == "acct-1" and len(got["token"]) >= 20
        assert make().open311_token(got["token"])["ticket_no"] == got["ticket_no"]
        with pytest.raises(NotFound):
            make().open311_token("nope")

    def test_a_location_is_required_and_a_phone_must_be_valid(self, intake: Any) -> None:
        make, db = intake
        with pytest.raises(Invalid):
            make().register_open311({"category": "help", "content": "x"}, "c")
        with pytest.raises(Invalid):
            make().register_open311({**SUBMISSION, "phone": "123"}, "c")
        with pytest.raises(Invalid):
            make().register_open311({**SUBMISSION, "lat": 28.0}, "c")
        assert outbox(db) == []


class TestProgressFeed:
    def test_a_redelivered_fact_has_one_effect_and_an_unknown_order_is_retried(
            self, intake: Any) -> None:
        make, db = intake
        no = make().register_open311(SUBMISSION, "c")["ticket_no"]
        now = datetime.now(UTC)
        body = make_envelope("assignment.replied", {
            "assignment_id": 1, "ticket_no": no, "department_code": "chengguan",
            "replied_at": now, "actor": "d", "reply": "已修复"}, producer="dispatch",
            ticket_no=no, sequence=3)
        make().on_progress_fact(load_envelope(body))
        make().on_progress_fact(load_envelope(body))
        window = {"start": "2000-01-01T00:00:00+00:00", "end": "2100-01-01T00:00:00+00:00"}
        steps = make().progress_updates(window)["items"]
        assert [(s["kind"], s["description"]) for s in steps] == [("reply", "已修复")]
        assert make().citizen_progress_of(no)["reply"] == "已修复"
        stranger = make_envelope("ticket.status_changed", {
            "ticket_no": "20990101000001", "from_status": None, "to_status": "dispatched",
            "at": now, "actor": "s", "reason": None}, producer="supervision",
            ticket_no="20990101000001", sequence=2)
        with pytest.raises(UnknownOrder):
            make().on_progress_fact(load_envelope(stranger))
