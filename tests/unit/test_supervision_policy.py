"""Unit tests for services.supervision.policy: time limits (时限标准) per category × urgency.

Dates use the real 2026 calendar from chinesecalendar 1.11.0 (checked against its constants):
中秋 Sep 25-27, 国庆 Oct 1-7, make-up working days Sun Sep 20 and Sat Oct 10.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from chinese_calendar import constants as cc  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from services.supervision.policy import DEFAULT_POLICY, SlaPolicy, Span
from shared.calendar import WorkCalendar

SH = ZoneInfo("Asia/Shanghai")
FAST = settings(database=None, deadline=None, derandomize=True, max_examples=100)


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()


def test_calendar_facts_this_module_relies_on() -> None:
    assert all(date(2026, 10, d) in cc.holidays for d in range(1, 8))
    assert date(2026, 10, 8) not in cc.holidays
    assert date(2026, 10, 10) in cc.workdays  # Saturday 调休
    assert date(2026, 9, 28).weekday() == 0  # Monday


class TestSpanParse:
    @pytest.mark.parametrize("text, amount, unit", [
        ("2wd", 2, "wd"), ("15wd", 15, "wd"), ("2wh", 2, "wh"), ("24h", 24, "h"),
        ("30m", 30, "m"), (" 10 wd ", 10, "wd"),
    ])
    def test_valid(self, text: str, amount: int, unit: str) -> None:
        span = Span.parse(text)
        assert (span.amount, span.unit) == (amount, unit)
        assert str(span) == f"{amount}{unit}"

    @pytest.mark.parametrize("text", ["", "wd", "2", "2d", "2 days", "0wd", "0m", "-1h", "2.5h",
                                      "2 w d", "h2", None])
    def test_invalid(self, text: object) -> None:
        with pytest.raises(ValueError, match="invalid time limit"):
            Span.parse(text)  # type: ignore[arg-type]

    @FAST
    @given(amount=st.integers(1, 10_000), unit=st.sampled_from(["wd", "wh", "h", "m"]))
    def test_str_round_trips(self, amount: int, unit: str) -> None:
        span = Span(amount, unit)
        assert Span.parse(str(span)) == span


class TestSpanArithmetic:
    def test_working_days_count_from_the_next_working_day(self, cal: WorkCalendar) -> None:
        # Wed Sep 30 -> Oct 8 (1), Oct 9 (2): due at the end of Oct 9
        assert Span.parse("2wd").after(local(2026, 9, 30, 10), cal) == local(2026, 10, 10)

    def test_working_hours_skip_lunch_and_night(self, cal: WorkCalendar) -> None:
        assert Span.parse("2wh").after(local(2026, 9, 28, 11), cal) == local(2026, 9, 28, 14, 30)
        assert Span.parse("2wh").after(local(2026, 9, 30, 16), cal) == local(2026, 10, 8, 9)

    def test_calendar_hours_ignore_holidays(self, cal: WorkCalendar) -> None:
        assert Span.parse("24h").after(local(2026, 9, 30, 16), cal) == local(2026, 10, 1, 16)
        assert Span.parse("15m").after(local(2026, 10, 3, 23, 50), cal) == local(2026, 10, 4, 0, 5)

    def test_results_are_utc(self, cal: WorkCalendar) -> None:
        for text in ("2wd", "2wh", "2h", "30m"):
            assert Span.parse(text).after(local(2026, 9, 28, 10), cal).utcoffset() == timedelta(0)


class TestDefaults:
    """DOMAIN.md §4, default policy."""

    def test_sign_limits(self) -> None:
        p = SlaPolicy()
        assert {k: str(v) for k, v in p.sign.items()} == {
            "normal": "2wh", "urgent": "30m", "critical": "15m"}

    @pytest.mark.parametrize("category, limit", [
        ("consultation", "2wd"), ("help", "10wd"), ("suggestion", "10wd"),
        ("complaint", "15wd"), ("report", "15wd"), ("urgent", "24h"), ("critical", "2h"),
    ])
    def test_handle_limits(self, category: str, limit: str) -> None:
        assert str(SlaPolicy().handle[category]) == limit

    def test_other_windows(self) -> None:
        p = SlaPolicy()
        assert (str(p.callback), str(p.return_window), str(p.extension_max)) == (
            "2wd", "2wd", "10wd")


class TestOverrides:
    def test_one_entry_overridden_the_rest_kept(self) -> None:
        p = SlaPolicy({"handle": {"complaint": "10wd"}})
        assert str(p.handle["complaint"]) == "10wd"
        assert str(p.handle["consultation"]) == "2wd"
        assert str(p.handle["urgent"]) == "24h"
        assert str(p.sign["normal"]) == "2wh"

    def test_overrides_do_not_leak_into_the_defaults(self) -> None:
        SlaPolicy({"handle": {"complaint": "1wd"}, "sign": {"normal": "1wh"}})
        assert DEFAULT_POLICY["handle"]["complaint"] == "15wd"
        assert str(SlaPolicy().handle["complaint"]) == "15wd"
        assert str(SlaPolicy().sign["normal"]) == "2wh"

    def test_scalar_entry_replaced(self) -> None:
        assert str(SlaPolicy({"callback": "3wd"}).callback) == "3wd"

    def test_new_category_can_be_added(self) -> None:
        assert str(SlaPolicy({"handle": {"petition": "5wd"}}).handle["petition"]) == "5wd"

    def test_city_configuration_block(self) -> None:
        config = yaml.safe_load("""
SLA_POLICY:
  sign: {urgent: "20m"}
  handle: {consultation: "3wd"}
""")
        p = SlaPolicy(config["SLA_POLICY"])
        assert str(p.sign["urgent"]) == "20m"
        assert str(p.sign["critical"]) == "15m"
        assert str(p.handle["consultation"]) == "3wd"
        assert str(p.handle["complaint"]) == "15wd"

    def test_invalid_override_is_refused(self) -> None:
        with pytest.raises(ValueError, match="invalid time limit"):
            SlaPolicy({"handle": {"complaint": "15 days"}})


class TestClocks:
    def test_complaint_across_national_day(self, cal: WorkCalendar) -> None:
        # Mon Sep 28 10:00. Working days after it: Sep 29, 30, Oct 8, 9, 10 (Sat, 调休), 12-16,
        # 19-23: the 15th is Fri Oct 23, so handling is due at the end of Oct 23.
        clocks = SlaPolicy().clocks("complaint", "normal", local(2026, 9, 28, 10), cal)
        assert clocks.sign_due == local(2026, 9, 28, 12)
        assert clocks.handle_due == local(2026, 10, 24)
        assert clocks.handle_due == datetime(2026, 10, 23, 16, tzinfo=UTC)
        assert clocks.handle_due.utcoffset() == timedelta(0)
        assert clocks.policy == "sign:normal=2wh;handle:complaint=15wd"

    def test_help_counts_the_make_up_saturday(self, cal: WorkCalendar) -> None:
        # Fri Oct 9: Oct 10 (Sat 调休) is the first working day; the 10th is Thu Oct 22
        clocks = SlaPolicy().clocks("help", "normal", local(2026, 10, 9, 10), cal)
        assert clocks.handle_due == local(2026, 10, 23)

    def test_consultation_dispatched_before_the_holiday(self, cal: WorkCalendar) -> None:
        clocks = SlaPolicy().clocks("consultation", "normal", local(2026, 9, 30, 16), cal)
        assert clocks.sign_due == local(2026, 10, 8, 9)  # 1.5 h on Sep 30, 0.5 h on Oct 8
        assert clocks.handle_due == local(2026, 10, 10)

    def test_urgent_uses_calendar_time_whatever_the_category(self, cal: WorkCalendar) -> None:
        start = local(2026, 9, 30, 16)
        clocks = SlaPolicy().clocks("complaint", "urgent", start, cal)
        assert clocks.sign_due == start + timedelta(minutes=30)
        assert clocks.handle_due == start + timedelta(hours=24)  # Oct 1, a holiday
        assert clocks.policy == "sign:urgent=30m;handle:urgent=24h"

    def test_critical(self, cal: WorkCalendar) -> None:
        start = local(2026, 10, 3, 22)
        clocks = SlaPolicy().clocks("help", "critical", start, cal)
        assert clocks.sign_due == start + timedelta(minutes=15)
        assert clocks.handle_due == start + timedelta(hours=2)
        assert clocks.policy == "sign:critical=15m;handle:critical=2h"

    def test_unknown_category_and_urgency_fall_back(self, cal: WorkCalendar) -> None:
        clocks = SlaPolicy().clocks("petition", "whenever", local(2026, 9, 28, 10), cal)
        assert clocks.sign_due == local(2026, 9, 28, 12)  # normal sign
        # "other" = 10 working days: Sep 29, 30, Oct 8, 9, 10, 12, 13, 14, 15, 16
        assert clocks.handle_due == local(2026, 10, 17)
        assert clocks.policy == "sign:whenever=2wh;handle:petition=10wd"

    def test_override_changes_the_clock(self, cal: WorkCalendar) -> None:
        policy = SlaPolicy({"handle": {"complaint": "2wd"}})
        clocks = policy.clocks("complaint", "normal", local(2026, 9, 28, 10), cal)
        assert clocks.handle_due == local(2026, 10, 1)

    @FAST
    @given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 20),
                        timezones=st.just(SH)),
           st.sampled_from(["consultation", "help", "complaint", "report", "other"]),
           st.sampled_from(["normal", "urgent", "critical"]))
    def test_deadlines_are_after_dispatch_and_sign_before_handle(
            self, start: datetime, category: str, urgency: str) -> None:
        clocks = SlaPolicy().clocks(category, urgency, start, WorkCalendar())
        assert start < clocks.sign_due <= clocks.handle_due


class TestCallbackDue:
    def test_two_working_days_after_the_reply(self, cal: WorkCalendar) -> None:
        assert SlaPolicy().callback_due(local(2026, 9, 28, 15), cal) == local(2026, 10, 1)

    def test_across_national_day(self, cal: WorkCalendar) -> None:
        assert SlaPolicy().callback_due(local(2026, 9, 30, 15), cal) == local(2026, 10, 10)

    def test_replied_on_a_holiday(self, cal: WorkCalendar) -> None:
        # Oct 3 (holiday): Oct 8, Oct 9 -> end of Oct 9
        assert SlaPolicy().callback_due(local(2026, 10, 3, 11), cal) == local(2026, 10, 10)

    def test_replied_on_friday_before_a_make_up_saturday(self, cal: WorkCalendar) -> None:
        assert SlaPolicy().callback_due(local(2026, 10, 9, 17), cal) == local(2026, 10, 13)

    def test_city_override(self, cal: WorkCalendar) -> None:
        due = SlaPolicy({"callback": "1wd"}).callback_due(local(2026, 9, 28, 15), cal)
        assert due == local(2026, 9, 30)
