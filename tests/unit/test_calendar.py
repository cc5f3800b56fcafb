"""Unit tests for shared.calendar.WorkCalendar (工作日历), with real chinesecalendar data."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from chinese_calendar import constants as cc  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calendar import WorkCalendar, known_years

SH = ZoneInfo("Asia/Shanghai")


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def assert_utc(value: datetime, expected_local: datetime) -> None:
    assert value.utcoffset() == timedelta(0), "result must be in UTC"
    assert value == expected_local


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()


# -- real holiday data (values checked against chinese_calendar.constants 1.11.0) -------


def test_known_years_and_fallback(cal: WorkCalendar) -> None:
    assert known_years() == range(2004, 2027)
    assert not cal.is_holiday_fallback(2026)
    assert cal.is_holiday_fallback(2027)
    assert cal.is_holiday_fallback(2003)


def test_national_day_2025(cal: WorkCalendar) -> None:
    holidays = [date(2025, 10, d) for d in range(1, 9)]  # Oct 1-8 (incl. 中秋 Oct 6)
    assert all(d in cc.holidays for d in holidays)
    assert date(2025, 9, 28) in cc.workdays and date(2025, 10, 11) in cc.workdays
    assert not any(cal.is_workday(d) for d in holidays)
    assert cal.is_workday(date(2025, 9, 28))  # Sunday 调休
    assert cal.is_workday(date(2025, 10, 11))  # Saturday 调休
    assert cal.next_workday(date(2025, 9, 30)) == date(2025, 10, 9)
    assert cal.next_workday(date(2025, 9, 27)) == date(2025, 9, 28)
    # (Sep 30, Oct 12]: Oct 9, 10, 11 (make-up Saturday)
    assert cal.working_days_between(date(2025, 9, 30), date(2025, 10, 12)) == 3
    # dispatched Tue Sep 30: first working day is Thu Oct 9 -> deadline end of Oct 9
    assert_utc(cal.add_working_days(local(2025, 9, 30, 10), 1), local(2025, 10, 10))


def test_national_day_2026(cal: WorkCalendar) -> None:
    holidays = [date(2026, 10, d) for d in range(1, 8)]  # Oct 1-7
    assert {d for d in cc.holidays if d.year == 2026 and d.month == 10} == set(holidays)
    assert date(2026, 9, 20) in cc.workdays and date(2026, 10, 10) in cc.workdays
    assert not any(cal.is_workday(d) for d in holidays)
    assert cal.is_workday(date(2026, 9, 20)) and cal.is_workday(date(2026, 10, 10))
    # Wed Sep 30 + 3: Thu Oct 8, Fri Oct 9, Sat Oct 10 (调休) -> end of Oct 10
    assert_utc(cal.add_working_days(local(2026, 9, 30, 9), 3), local(2026, 10, 11))


def test_spring_festival_2026(cal: WorkCalendar) -> None:
    holidays = [date(2026, 2, d) for d in range(15, 24)]  # Feb 15-23
    assert {d for d in cc.holidays if d.year == 2026 and d.month == 2} == set(holidays)
    assert date(2026, 2, 14) in cc.workdays and date(2026, 2, 28) in cc.workdays
    assert not any(cal.is_workday(d) for d in holidays)
    # Fri Feb 13 + 2: Sat Feb 14 (调休), [Feb 15-23 off], Tue Feb 24 -> end of Feb 24
    assert_utc(cal.add_working_days(local(2026, 2, 13, 10), 2), local(2026, 2, 25))
    # + 10: Feb 14, 24, 25, 26, 27, Sat 28 (调休), Mar 2, 3, 4, 5 -> end of Mar 5
    assert_utc(cal.add_working_days(local(2026, 2, 13, 10), 10), local(2026, 3, 6))


def test_make_up_saturday_counts_in_add_working_days(cal: WorkCalendar) -> None:
    # Thu 2025-10-09 + 2: Fri Oct 10, Sat Oct 11 (调休) -> end of Saturday
    assert_utc(cal.add_working_days(local(2025, 10, 9, 15), 2), local(2025, 10, 12))


# -- day-based limits ---------------------------------------------------------------------


def test_next_day_counting(cal: WorkCalendar) -> None:
    # Monday 10:00 + 2 working days -> end of Wednesday = Thursday 00:00 local
    result = cal.add_working_days(local(2025, 6, 9, 10), 2)
    assert_utc(result, local(2025, 6, 12))
    assert result == datetime(2025, 6, 11, 16, 0, tzinfo=UTC)
    # Saturday dispatch counts from Monday
    assert_utc(cal.add_working_days(local(2025, 6, 14, 10), 2), local(2025, 6, 18))


def test_local_date_decides_not_utc_date(cal: WorkCalendar) -> None:
    # 2025-06-08 20:00 UTC is Monday 2025-06-09 04:00 in Shanghai
    assert_utc(cal.add_working_days(datetime(2025, 6, 8, 20, tzinfo=UTC), 1), local(2025, 6, 11))


def test_unknown_year_2027_falls_back_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cal = WorkCalendar()
    # Dispatched Tue 2026-12-15; 15 working days from the next day (no 2026 holidays left):
    # Dec 16,17,18 (1-3), 21-25 (4-8), 28,29,30,31 (9-12), then 2027 = weekends-only:
    # Fri 2027-01-01 (13, a working day in the fallback), Mon Jan 4 (14), Tue Jan 5 (15)
    # -> deadline end of Tue 2027-01-05 = 2027-01-06 00:00 CST = 2027-01-05 16:00 UTC.
    with caplog.at_level(logging.WARNING, logger="shared.calendar"):
        result = cal.add_working_days(local(2026, 12, 15, 10), 15)
        cal.add_working_days(local(2026, 12, 20, 10), 20)  # more 2027 look-ups
    assert_utc(result, local(2027, 1, 6))
    assert result == datetime(2027, 1, 5, 16, tzinfo=UTC)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "2027" in warnings[0].getMessage()


def test_override_for_unknown_year_moves_deadline() -> None:
    cal = WorkCalendar(overrides={date(2027, 1, 1): False})
    # Jan 1 no longer counts: Mon Jan 4 (13), Tue Jan 5 (14), Wed Jan 6 (15) -> +1 day
    assert_utc(cal.add_working_days(local(2026, 12, 15, 10), 15), local(2027, 1, 7))


def test_overrides_win_over_package() -> None:
    cal = WorkCalendar(overrides={date(2025, 10, 8): True, date(2025, 6, 10): False})
    assert cal.next_workday(date(2025, 9, 30)) == date(2025, 10, 8)
    assert not cal.is_workday(date(2025, 6, 10))


# -- working-hour limits -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        (local(2025, 6, 9, 11, 30), 120, local(2025, 6, 9, 15, 0)),  # 30 before + 90 after lunch
        (local(2025, 6, 9, 12, 30), 30, local(2025, 6, 9, 14, 0)),  # starts in lunch break
        (local(2025, 6, 9, 11, 0), 60, local(2025, 6, 9, 12, 0)),  # exactly to period end
        (local(2025, 6, 9, 7, 0), 30, local(2025, 6, 9, 9, 0)),  # before opening
        (local(2025, 6, 9, 19, 0), 30, local(2025, 6, 10, 9, 0)),  # evening -> next morning
        (local(2025, 6, 13, 17, 0), 60, local(2025, 6, 16, 9, 0)),  # Fri 30 + Mon 30
        (local(2025, 6, 14, 10, 0), 120, local(2025, 6, 16, 10, 30)),  # from Saturday
        (local(2025, 6, 9, 8, 30), 450, local(2025, 6, 9, 17, 30)),  # one full day
        (local(2025, 6, 9, 8, 30), 451, local(2025, 6, 10, 8, 31)),
        (local(2025, 9, 30, 17, 0), 60, local(2025, 10, 9, 9, 0)),  # across National Day
        (local(2025, 9, 27, 10, 0), 60, local(2025, 9, 28, 9, 30)),  # Sat -> 调休 Sunday
    ],
)
def test_add_working_hours(
    cal: WorkCalendar, start: datetime, minutes: int, expected: datetime
) -> None:
    assert_utc(cal.add_working_hours(start, minutes), expected)


def test_add_working_hours_accepts_utc_input(cal: WorkCalendar) -> None:
    # 03:30 UTC = 11:30 Shanghai
    assert cal.add_working_hours(datetime(2025, 6, 9, 3, 30, tzinfo=UTC), 120) == datetime(
        2025, 6, 9, 7, 0, tzinfo=UTC
    )


def test_add_calendar_and_elapsed_fraction(cal: WorkCalendar) -> None:
    start = local(2025, 10, 1, 22)  # holidays are irrelevant for calendar clocks
    due = cal.add_calendar(start, timedelta(hours=2))
    assert_utc(due, local(2025, 10, 2, 0))
    assert cal.elapsed_fraction(start, due, start + timedelta(minutes=96)) == pytest.approx(0.8)
    assert cal.elapsed_fraction(start, due, start - timedelta(hours=1)) == 0.0
    assert cal.elapsed_fraction(start, due, due + timedelta(hours=1)) == pytest.approx(1.5)
    with pytest.raises(ValueError):
        cal.elapsed_fraction(due, start, due)


# -- argument validation -------------------------------------------------------------------


def test_naive_datetime_rejected(cal: WorkCalendar) -> None:
    naive = datetime(2025, 6, 9, 10)
    with pytest.raises(ValueError, match="start"):
        cal.add_working_days(naive, 2)
    with pytest.raises(ValueError, match="start"):
        cal.add_working_hours(naive, 60)
    with pytest.raises(ValueError, match="start"):
        cal.add_calendar(naive, timedelta(hours=1))
    with pytest.raises(ValueError, match="now"):
        cal.elapsed_fraction(local(2025, 6, 9), local(2025, 6, 10), naive)


@pytest.mark.parametrize("days", [0, -1])
def test_non_positive_days_rejected(cal: WorkCalendar, days: int) -> None:
    with pytest.raises(ValueError, match="days"):
        cal.add_working_days(local(2025, 6, 9, 10), days)


def test_invalid_working_hours_rejected() -> None:
    with pytest.raises(ValueError):
        WorkCalendar(working_hours=())
    with pytest.raises(ValueError):
        WorkCalendar(working_hours=((time(13, 0), time(12, 0)),))


# -- property ------------------------------------------------------------------------------

_CAL = WorkCalendar()
_ZONES = st.sampled_from([SH, UTC, ZoneInfo("America/New_York")])


@settings(max_examples=200, database=None, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2026, 10, 31), timezones=_ZONES
    ),
    n=st.integers(min_value=1, max_value=40),
    extra=st.integers(min_value=1, max_value=20),
)
def test_add_working_days_monotonic_and_midnight(start: datetime, n: int, extra: int) -> None:
    a = _CAL.add_working_days(start, n)
    b = _CAL.add_working_days(start, n + extra)
    assert start < a < b
    for result in (a, b):
        assert result.utcoffset() == timedelta(0)
        assert result.astimezone(SH).time() == time(0)
    # the deadline's previous local day is the n-th working day after the start's local date
    last_day = a.astimezone(SH).date() - timedelta(days=1)
    assert _CAL.is_workday(last_day)
    assert _CAL.working_days_between(start.astimezone(SH).date(), last_day) == n
