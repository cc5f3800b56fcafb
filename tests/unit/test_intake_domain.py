"""Unit tests for services.intake.domain: phone numbers, order numbers, business day (工单登记)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.domain import (
    MAX_DAILY_SEQUENCE,
    PhoneError,
    business_day,
    format_ticket_no,
    normalize_phone,
)

SH = ZoneInfo("Asia/Shanghai")
FAST = settings(database=None, deadline=None, derandomize=True, max_examples=150)


class TestMobileNumbers:
    @pytest.mark.parametrize("raw", [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        " 13812345678 ",
        "(138)12345678",
        "+86 138 1234 5678",
        "+8613812345678",
        "+86-138-1234-5678",
        "008613812345678",
        "0086-138-1234-5678",
        "8613812345678",
        "86 138 1234 5678",
    ])
    def test_canonical_form_is_eleven_digits(self, raw: str) -> None:
        assert normalize_phone(raw) == "13812345678"

    @pytest.mark.parametrize("raw", ["13012345678", "19912345678", "15900000000"])
    def test_every_mobile_prefix_from_13_to_19(self, raw: str) -> None:
        assert normalize_phone(raw) == raw

    @FAST
    @given(second=st.integers(3, 9), rest=st.text("0123456789", min_size=9, max_size=9))
    def test_any_mobile_is_a_fixed_point(self, second: int, rest: str) -> None:
        mobile = f"1{second}{rest}"
        assert normalize_phone(mobile) == mobile
        assert normalize_phone(normalize_phone(mobile)) == mobile
        assert normalize_phone(f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}") == mobile


class TestLandlineNumbers:
    @pytest.mark.parametrize("raw, expected", [
        ("010-62345678", "010-62345678"),
        ("01062345678", "010-62345678"),
        ("010 6234 5678", "010-62345678"),
        ("(010)62345678", "010-62345678"),
        ("（010）62345678", "010-62345678"),  # full-width brackets
        ("010－62345678", "010-62345678"),  # full-width dash
        ("020-82345678", "020-82345678"),
        ("02082345678", "020-82345678"),
        ("0571-87654321", "0571-87654321"),
        ("057187654321", "0571-87654321"),
        ("0571 8765 4321", "0571-87654321"),
        ("0571-8765432", "0571-8765432"),  # 7-digit local number
        ("0755-22345678", "0755-22345678"),
    ])
    def test_area_code_and_local_number(self, raw: str, expected: str) -> None:
        assert normalize_phone(raw) == expected

    @pytest.mark.parametrize("raw, expected", [
        ("+86-10-62345678", "010-62345678"),
        ("+86-571-87654321", "0571-87654321"),
        ("0086-10-62345678", "010-62345678"),
    ])
    def test_country_code_restores_the_dropped_trunk_zero(self, raw: str, expected: str) -> None:
        assert normalize_phone(raw) == expected

    @pytest.mark.parametrize("raw, expected", [
        ("+86 10 62345678", "010-62345678"),
        ("+86 571 87654321", "0571-87654321"),
        ("+861062345678", "010-62345678"),
        ("0086 10 6234 5678", "010-62345678"),
    ])
    def test_country_code_with_spaces_or_no_separator(self, raw: str, expected: str) -> None:
        assert normalize_phone(raw) == expected

    @pytest.mark.parametrize("raw", [
        "010-62345678-123",
        "010-62345678转123",
        "010-62345678ext123",
        "010 62345678 ext 123",
        "01062345678-123",
    ])
    def test_extension_is_kept_after_a_dash(self, raw: str) -> None:
        assert normalize_phone(raw) == "010-62345678-123"

    @FAST
    @given(area=st.sampled_from(["010", "020", "021", "0571", "0755", "0898"]),
           first=st.integers(2, 9), rest=st.text("0123456789", min_size=6, max_size=7),
           ext=st.one_of(st.none(), st.text("0123456789", min_size=1, max_size=6)))
    def test_canonical_landline_is_a_fixed_point(self, area: str, first: int, rest: str,
                                                 ext: str | None) -> None:
        canonical = f"{area}-{first}{rest}" + (f"-{ext}" if ext else "")
        assert normalize_phone(canonical) == canonical
        assert normalize_phone(canonical.replace("-", " ", 1)) == canonical


class TestRejectedPhoneNumbers:
    @pytest.mark.parametrize("raw", [
        "",
        "   ",
        "12345",  # too short
        "95588",  # service number
        "1381234567",  # 10-digit mobile
        "138123456789",  # 12-digit mobile
        "12812345678",  # 12x is not a mobile prefix
        "23456789",  # local number with no area code
        "62345678",
        "2345-6789",
        "abc",
        "1381234567a",
        "138-1234-567x",
        "0571-1234567",  # local number cannot start with 1
        "0755-12345678",
        "010-623456",  # local part too short
    ])
    def test_raises_phone_error(self, raw: str) -> None:
        with pytest.raises(PhoneError):
            normalize_phone(raw)

    def test_none_is_rejected_with_the_required_message(self) -> None:
        with pytest.raises(PhoneError, match="required"):
            normalize_phone(None)  # type: ignore[arg-type]

    def test_message_repeats_the_input(self) -> None:
        with pytest.raises(PhoneError, match="'abc'"):
            normalize_phone("abc")

    def test_phone_error_is_a_value_error(self) -> None:
        assert issubclass(PhoneError, ValueError)

    @FAST
    @given(st.text(alphabet=st.characters(categories=["L"]), min_size=1, max_size=15))
    def test_letters_only_never_normalise(self, raw: str) -> None:
        with pytest.raises(PhoneError):
            normalize_phone(raw)


class TestCanonicalFormIsAscii:
    """The canonical form is what repeat-call matching compares: ASCII digits and dashes only."""

    @pytest.mark.parametrize("raw, expected", [
        ("13８12345678", "13812345678"),
        ("010-6２345678", "010-62345678"),
        ("13٨12345678", "13812345678"),
    ])
    def test_non_ascii_digits_do_not_reach_the_canonical_form(self, raw: str,
                                                              expected: str) -> None:
        try:
            result = normalize_phone(raw)
        except PhoneError:
            return  # rejecting them would also be acceptable
        assert result == expected

    @FAST
    @given(st.text(alphabet="0123456789 -+()", max_size=20))
    def test_result_contains_only_ascii_digits_and_dashes(self, raw: str) -> None:
        try:
            result = normalize_phone(raw)
        except PhoneError:
            return
        assert result.replace("-", "").isascii() and result.replace("-", "").isdigit()
        assert normalize_phone(result) == result  # idempotent


class TestTicketNumbers:
    def test_date_and_six_digit_sequence(self) -> None:
        assert format_ticket_no(date(2026, 11, 23), 42) == "20261123000042"

    def test_first_and_last_sequence(self) -> None:
        assert format_ticket_no(date(2026, 1, 2), 1) == "20260102000001"
        assert format_ticket_no(date(2026, 1, 2), MAX_DAILY_SEQUENCE) == "20260102999999"

    @pytest.mark.parametrize("sequence", [0, -1, MAX_DAILY_SEQUENCE + 1])
    def test_sequence_out_of_range(self, sequence: int) -> None:
        with pytest.raises(ValueError, match="out of range"):
            format_ticket_no(date(2026, 11, 23), sequence)

    @FAST
    @given(day=st.dates(date(2000, 1, 1), date(2099, 12, 31)),
           sequence=st.integers(1, MAX_DAILY_SEQUENCE))
    def test_fourteen_digits_that_sort_by_day_then_sequence(self, day: date, sequence: int) -> None:
        no = format_ticket_no(day, sequence)
        assert len(no) == 14 and no.isdigit()
        assert no[:8] == day.strftime("%Y%m%d") and int(no[8:]) == sequence
        if sequence < MAX_DAILY_SEQUENCE:
            assert format_ticket_no(day, sequence + 1) > no
        assert format_ticket_no(day + timedelta(days=1), 1) > no


class TestBusinessDay:
    def test_late_utc_afternoon_is_next_day_in_shanghai(self) -> None:
        assert business_day(datetime(2026, 11, 23, 16, 30, tzinfo=UTC)) == date(2026, 11, 24)

    def test_before_local_midnight_stays_on_the_same_day(self) -> None:
        assert business_day(datetime(2026, 11, 23, 15, 59, 59, tzinfo=UTC)) == date(2026, 11, 23)

    def test_local_time_is_used_as_is(self) -> None:
        assert business_day(datetime(2026, 11, 24, 0, 5, tzinfo=SH)) == date(2026, 11, 24)

    def test_other_offsets_are_converted(self) -> None:
        new_york = timezone(timedelta(hours=-5))
        # 2026-11-23 12:00 -05:00 = 17:00 UTC = 2026-11-24 01:00 Shanghai
        assert business_day(datetime(2026, 11, 23, 12, 0, tzinfo=new_york)) == date(2026, 11, 24)

    def test_naive_datetime_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            business_day(datetime(2026, 11, 23, 16, 30))

