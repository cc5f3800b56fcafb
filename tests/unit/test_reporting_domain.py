"""Unit tests for services.reporting.domain: KPI rates and report periods (Asia/Shanghai days)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.reporting.domain import MAX_RANGE_DAYS, Rate, business_day, period_bounds

FAST = settings(database=None, deadline=None, derandomize=True, max_examples=150)


class TestRate:
    def test_empty_sample_has_no_value(self) -> None:
        assert Rate(0, 0).value is None
        assert Rate(0, 0).as_dict() == {"rate": None, "numerator": 0, "sample": 0}

    def test_rounded_to_four_places(self) -> None:
        assert Rate(2, 3).value == 0.6667
        assert Rate(1, 3).value == 0.3333
        assert Rate(1, 7).value == 0.1429

    def test_whole_and_nothing(self) -> None:
        assert Rate(5, 5).value == 1.0
        assert Rate(0, 5).value == 0.0

    def test_as_dict_carries_the_sample(self) -> None:
        assert Rate(3, 4).as_dict() == {"rate": 0.75, "numerator": 3, "sample": 4}

    @FAST
    @given(st.integers(1, 10_000).flatmap(lambda d: st.tuples(st.integers(0, d), st.just(d))))
    def test_value_is_within_half_a_basis_point(self, nd: tuple[int, int]) -> None:
        n, d = nd
        value = Rate(n, d).value
        assert value is not None and 0.0 <= value <= 1.0
        assert abs(value - n / d) <= 0.00005 + 1e-12


class TestPeriodBounds:
    def test_one_shanghai_day_in_utc(self) -> None:
        a, b = period_bounds(date(2026, 11, 23), date(2026, 11, 23))
        assert a == datetime(2026, 11, 22, 16, tzinfo=UTC)
        assert b == datetime(2026, 11, 23, 16, tzinfo=UTC)
        assert a.utcoffset() == b.utcoffset() == timedelta(0)

    def test_month(self) -> None:
        a, b = period_bounds(date(2026, 10, 1), date(2026, 10, 31))
        assert (a, b) == (datetime(2026, 9, 30, 16, tzinfo=UTC),
                          datetime(2026, 10, 31, 16, tzinfo=UTC))

    def test_half_open_end(self) -> None:
        _, b = period_bounds(date(2026, 11, 23), date(2026, 11, 23))
        last_local_instant = datetime(2026, 11, 23, 15, 59, 59, 999999, tzinfo=UTC)
        assert last_local_instant < b
        assert business_day(b) == date(2026, 11, 24)
        assert business_day(last_local_instant) == date(2026, 11, 23)

    def test_inverted_range(self) -> None:
        with pytest.raises(ValueError, match="before"):
            period_bounds(date(2026, 11, 24), date(2026, 11, 23))

    def test_three_years_is_the_limit(self) -> None:
        start = date(2026, 1, 1)
        period_bounds(start, start + timedelta(days=MAX_RANGE_DAYS))
        with pytest.raises(ValueError, match="3 years"):
            period_bounds(start, start + timedelta(days=MAX_RANGE_DAYS + 1))

    def test_three_calendar_years_fit(self) -> None:
        period_bounds(date(2026, 1, 1), date(2028, 12, 31))
        with pytest.raises(ValueError):
            period_bounds(date(2026, 1, 1), date(2030, 1, 1))

    @FAST
    @given(st.dates(date(2004, 1, 1), date(2040, 1, 1)), st.integers(0, 400))
    def test_bounds_cover_exactly_the_local_days(self, start: date, days: int) -> None:
        end = start + timedelta(days=days)
        a, b = period_bounds(start, end)
        assert b - a == timedelta(days=days + 1)  # Shanghai has no DST since 1991
        assert business_day(a) == start
        assert business_day(b - timedelta(microseconds=1)) == end


class TestBusinessDay:
    def test_utc_evening_is_the_next_local_day(self) -> None:
        assert business_day(datetime(2026, 11, 23, 16, 30, tzinfo=UTC)) == date(2026, 11, 24)
