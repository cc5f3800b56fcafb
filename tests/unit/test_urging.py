"""Which thresholds of a clock have passed, and when to look again (自动催办)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.supervision import urging

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 9, 28, 10, 0, tzinfo=SH)
SIGN_DUE = datetime(2026, 9, 28, 12, 0, tzinfo=SH)
HANDLE_DUE = datetime(2026, 10, 24, 0, 0, tzinfo=SH)


def view(signed: datetime | None = None, replied: datetime | None = None) -> urging.ClockView:
    return urging.ClockView(START, SIGN_DUE, HANDLE_DUE, urging.warn_at(START, SIGN_DUE),
                            urging.warn_at(START, HANDLE_DUE), signed, replied)


class TestThresholds:
    def test_warning_is_at_eighty_percent_of_the_span(self) -> None:
        assert urging.warn_at(START, SIGN_DUE) == datetime(2026, 9, 28, 11, 36, tzinfo=SH)
        assert urging.warn_at(START, START) == START

    def test_passed_thresholds_grow_with_time(self) -> None:
        c = view()
        assert urging.passed(c, START + timedelta(minutes=90)) == []
        kinds = [(t.clock, t.kind) for t in urging.passed(c, SIGN_DUE + timedelta(minutes=1))]
        assert kinds == [("sign", "warning"), ("sign", "breach")]
        late = [(t.clock, t.kind) for t in urging.passed(c, HANDLE_DUE + timedelta(days=1))]
        assert late == [("sign", "warning"), ("sign", "breach"), ("handle", "warning"),
                        ("handle", "breach")]

    def test_done_actions_stop_their_clock(self) -> None:
        signed = view(signed=START + timedelta(minutes=5))
        assert [t.clock for t in urging.passed(signed, HANDLE_DUE)] == ["handle", "handle"]
        replied = view(signed=START, replied=START + timedelta(hours=1))
        assert urging.passed(replied, HANDLE_DUE + timedelta(days=9)) == []
        assert urging.next_check(replied, START) is None

    def test_next_check_is_the_next_unpassed_threshold(self) -> None:
        c = view()
        assert urging.next_check(c, START) == urging.warn_at(START, SIGN_DUE)
        assert urging.next_check(c, SIGN_DUE) == urging.warn_at(START, HANDLE_DUE)
        assert urging.next_check(c, HANDLE_DUE) is None

    def test_auto_keys_differ_per_threshold(self) -> None:
        keys = {urging.auto_key(7, c, k) for c in urging.CLOCKS for k in urging.KINDS}
        assert len(keys) == 4
