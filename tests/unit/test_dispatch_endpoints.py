"""Unit tests of services.dispatch.endpoints: endpoint resolution, webhook URLs, the retry
schedule (backoff and the retry window's cutoff), and the feed entries' shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.dispatch import endpoints as rules
from services.dispatch.endpoints import EndpointChoice
from shared.errors import Invalid

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

GENERAL = EndpointChoice(1, "CG", None, "webhook")
COMPLAINTS = EndpointChoice(2, "CG", "complaint", "pull")
OTHER = EndpointChoice(3, "SW", None, "webhook")


class TestResolution:
    def test_the_category_endpoint_wins_over_the_general_one(self) -> None:
        assert rules.resolve_endpoint([GENERAL, COMPLAINTS, OTHER], "CG", "complaint") \
            == COMPLAINTS
        assert rules.resolve_endpoint([COMPLAINTS, GENERAL], "CG", "complaint") == COMPLAINTS

    def test_other_categories_take_the_general_endpoint(self) -> None:
        assert rules.resolve_endpoint([GENERAL, COMPLAINTS], "CG", "help") == GENERAL

    def test_no_endpoint_means_terminal(self) -> None:
        assert rules.resolve_endpoint([COMPLAINTS, OTHER], "CG", "help") is None
        assert rules.resolve_endpoint([], "CG", "complaint") is None

    def test_another_departments_endpoint_never_serves(self) -> None:
        assert rules.resolve_endpoint([OTHER], "CG", "complaint") is None

    def test_slot_is_the_category_or_any(self) -> None:
        assert rules.slot(None) == "*" and rules.slot("help") == "help"


class TestWebhookUrl:
    @pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "https://cg.example.gov.cn/x",
                                     " https://a.b/c?d=1 "])
    def test_accepted(self, url: str) -> None:
        assert rules.check_webhook_url(url) == url.strip()

    @pytest.mark.parametrize("url", [None, "", "ftp://a.b/c", "cg.example.gov.cn/hook",
                                     "http://", "http://a b/c", "http://a.b:99999/", 42,
                                     "javascript:alert(1)", "https://" + "a" * 500])
    def test_refused_naming_url(self, url: object) -> None:
        with pytest.raises(Invalid) as exc:
            rules.check_webhook_url(url)
        assert list(exc.value.details["fields"]) == ["url"]

    def test_secrets_are_new_each_time(self) -> None:
        a, b = rules.new_secret(), rules.new_secret()
        assert a != b and a.startswith("whsec_") and len(a) > 40


class TestBackoff:
    def test_doubles_from_five_seconds(self) -> None:
        assert [rules.backoff_seconds(n) for n in range(1, 7)] == [5, 10, 20, 40, 80, 160]

    def test_capped_at_thirty_minutes(self) -> None:
        assert rules.backoff_seconds(10) == 1800
        assert rules.backoff_seconds(10_000) == 1800

    def test_next_attempt_follows_the_backoff(self) -> None:
        now = T0 + timedelta(minutes=1)
        assert rules.after_failure(now, 1, T0, 72) == now + timedelta(seconds=5)
        assert rules.after_failure(now, 3, T0, 72) == now + timedelta(seconds=20)


class TestRetryWindow:
    def test_the_last_retry_is_at_the_cutoff_not_skipped(self) -> None:
        now = T0 + timedelta(hours=72) - timedelta(minutes=10)
        assert rules.after_failure(now, 50, T0, 72) == T0 + timedelta(hours=72)

    def test_a_failure_at_or_after_the_cutoff_is_dead(self) -> None:
        assert rules.after_failure(T0 + timedelta(hours=72), 51, T0, 72) is None
        assert rules.after_failure(T0 + timedelta(hours=80), 1, T0, 72) is None

    def test_a_failure_just_before_is_retried(self) -> None:
        assert rules.after_failure(T0 + timedelta(hours=71, minutes=59), 40, T0, 72) is not None

    def test_the_window_is_configurable(self) -> None:
        assert rules.after_failure(T0 + timedelta(hours=2), 3, T0, 1) is None
        assert rules.retry_deadline(T0, 0.5) == T0 + timedelta(minutes=30)


class TestEntries:
    TICKET = {"category": "complaint", "urgency": "normal", "title": "占道经营",
              "content": "楼下有人占道经营", "address": "滨江路12号", "territory_code": "510502",
              "phone": "13812345678", "caller_name": "李秀英", "caller_privacy": False}

    def test_dispatched_masks_the_phone_and_keeps_the_name(self) -> None:
        data = rules.dispatched_data(self.TICKET, role="lead", round_=1, dispatched_at=T0)
        assert data["phone"] == "138****5678" and data["caller_name"] == "李秀英"
        assert data["dispatched_at"] == T0.isoformat() and data["round"] == 1

    def test_caller_privacy_masks_the_name(self) -> None:
        data = rules.dispatched_data({**self.TICKET, "caller_privacy": True}, role="assist",
                                     round_=2, dispatched_at=T0)
        assert data["caller_name"] == "李**" and data["role"] == "assist"

    def test_body_shape_is_the_wire_format(self) -> None:
        body = rules.entry_body(seq=17, entry_type="assignment.urged", occurred_at=T0,
                                department_code="CG", ticket_no="20261123000042",
                                assignment_id=7, data={"kind": "manual"}, delivery_id=9)
        assert list(body) == ["delivery_id", "seq", "type", "occurred_at", "department_code",
                              "ticket_no", "assignment_id", "data"]
        pulled = rules.entry_body(seq=17, entry_type="assignment.urged", occurred_at=T0,
                                  department_code="CG", ticket_no=None, assignment_id=None,
                                  data={})
        assert "delivery_id" not in pulled

    def test_only_feed_types(self) -> None:
        assert rules.check_feed_type("assignment.recalled") == "assignment.recalled"
        with pytest.raises(ValueError):
            rules.check_feed_type("ticket.dispatched")

    def test_success_is_2xx_only(self) -> None:
        assert [rules.is_success(s) for s in (200, 204, 299, 300, 301, 404, 503, None)] == [
            True, True, True, False, False, False, False, False]

    def test_excerpt_keeps_the_first_500_characters(self) -> None:
        assert rules.excerpt("x" * 600) == "x" * 500 and rules.excerpt(None) == ""
