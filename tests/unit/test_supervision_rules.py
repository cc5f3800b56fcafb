"""Unit tests for services.supervision.supervising (督办单, escalation, 每月催办, 回头看, linked
callers) and the supervision deadlines of the SLA policy.

Dates use the real 2026 calendar: 中秋 Sep 25-27, 国庆 Oct 1-7, make-up working days Sun Sep 20
and Sat Oct 10. Months are Asia/Shanghai months: 2026-09-30T16:30Z is already October there.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.supervision import supervising as sv
from services.supervision.policy import SlaPolicy
from shared.calendar import WorkCalendar
from shared.errors import Conflict

SH = ZoneInfo("Asia/Shanghai")


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()


class TestSupervisionDeadlines:
    def test_defaults_are_two_and_five_working_days(self) -> None:
        policy = SlaPolicy()
        assert (str(policy.supervision_explanation), str(policy.escalate_after)) == ("2wd", "5wd")

    def test_over_national_day_2026(self, cal: WorkCalendar) -> None:
        # opened Tue Sep 29: working days Sep 30, Oct 8 → explanation due end of Thu Oct 8;
        # Sep 30, Oct 8, 9, 10 (调休 Saturday), 12 → escalation at the end of Mon Oct 12
        due, escalate_at = SlaPolicy().supervision_deadlines(local(2026, 9, 29, 10), cal)
        assert due == local(2026, 10, 9)
        assert escalate_at == local(2026, 10, 13)

    def test_configurable(self, cal: WorkCalendar) -> None:
        policy = SlaPolicy({"supervision_explanation": "1wd", "escalate_after": "3wd"})
        due, escalate_at = policy.supervision_deadlines(local(2026, 11, 27, 15), cal)  # a Friday
        assert (due, escalate_at) == (local(2026, 12, 1), local(2026, 12, 3))

    def test_a_bad_span_is_refused(self) -> None:
        with pytest.raises(ValueError, match="soon"):
            SlaPolicy({"escalate_after": "soon"})

    def test_escalation_once_and_only_while_still_overdue(self) -> None:
        at = local(2026, 10, 13)
        assert sv.due_for_escalation(at, at, escalated=False, resolved=False)
        assert not sv.due_for_escalation(at - timedelta(seconds=1), at, False, False)
        assert not sv.due_for_escalation(at, at, escalated=True, resolved=False)
        assert not sv.due_for_escalation(at, at, escalated=False, resolved=True)
        assert sv.still_overdue(replied=False, stopped=False)
        assert not sv.still_overdue(replied=True, stopped=False)
        assert not sv.still_overdue(replied=False, stopped=True)

    def test_explanation_once_and_lateness(self) -> None:
        sv.check_explanation(None)
        with pytest.raises(Conflict) as err:
            sv.check_explanation(local(2026, 10, 8))
        assert err.value.details == {"action": "explain", "state": "explained"}
        due = local(2026, 10, 9)
        assert not sv.explanation_late(due, due)
        assert sv.explanation_late(due + timedelta(minutes=1), due)

    def test_order_state(self) -> None:
        assert sv.order_state(False, False, False) == "open"
        assert sv.order_state(True, False, False) == "explained"
        assert sv.order_state(True, True, False) == "escalated"
        assert sv.order_state(False, False, True) == "resolved"


class TestMonthlyUrge:
    def test_the_month_is_the_local_month(self, cal: WorkCalendar) -> None:
        utc_evening = datetime(2026, 9, 30, 16, 30, tzinfo=UTC)  # 00:30 Oct 1 in Shanghai
        assert sv.month_key(utc_evening, cal) == "202610"
        assert sv.month_start(utc_evening, cal) == local(2026, 10, 1)
        assert sv.month_key(datetime(2026, 9, 30, 15, 59, tzinfo=UTC), cal) == "202609"
        assert sv.monthly_key(7, utc_evening, cal) == "7:monthly:202610"

    def test_first_and_last_working_days_with_holidays(self, cal: WorkCalendar) -> None:
        assert sv.first_workday_of_month(local(2026, 10, 20), cal) == date(2026, 10, 8)
        assert sv.last_workday_of_month(local(2026, 10, 20), cal) == date(2026, 10, 30)  # Sat 31
        assert sv.first_workday_of_month(local(2026, 2, 10), cal) == date(2026, 2, 2)
        assert sv.last_workday_of_month(local(2026, 9, 1), cal) == date(2026, 9, 30)

    def test_carried_over_assignment_is_urged_from_the_first_working_day(
            self, cal: WorkCalendar) -> None:
        started = local(2026, 9, 15, 10)
        # National Day: Oct 1–7 are holidays, the October urge waits for Thu Oct 8
        assert not sv.monthly_urge_due(started, False, local(2026, 10, 7, 23, 59), cal)
        assert sv.monthly_urge_due(started, False, local(2026, 10, 8, 0, 0), cal)
        assert not sv.monthly_urge_due(started, True, local(2026, 10, 8, 9), cal)  # urged already

    def test_assignment_of_this_month_is_urged_on_its_last_working_day(
            self, cal: WorkCalendar) -> None:
        started = local(2026, 10, 12, 10)
        assert not sv.monthly_urge_due(started, False, local(2026, 10, 29, 23, 59), cal)
        assert sv.monthly_urge_due(started, False, local(2026, 10, 30, 8, 0), cal)
        assert sv.monthly_urge_due(started, False, local(2026, 10, 31, 12, 0), cal)  # Saturday
        # 00:30 Nov 1 in Shanghai (still Oct 31 in UTC): a new month, carried over
        nov_first = datetime(2026, 10, 31, 16, 30, tzinfo=UTC)
        assert sv.month_key(nov_first, cal) == "202611"
        assert not sv.monthly_urge_due(started, False, nov_first, cal)  # Sun Nov 1
        assert sv.monthly_urge_due(started, False, local(2026, 11, 2, 0, 1), cal)  # Mon Nov 2

    def test_started_at_the_month_boundary_in_local_time(self, cal: WorkCalendar) -> None:
        # dispatched 23:30 Sep 30 local (15:30Z): a September assignment, carried into October
        started = datetime(2026, 9, 30, 15, 30, tzinfo=UTC)
        assert sv.monthly_urge_due(started, False, local(2026, 10, 8, 9), cal)
        # dispatched 00:30 Oct 1 local (16:30Z Sep 30): an October one, due on Oct 30
        started = datetime(2026, 9, 30, 16, 30, tzinfo=UTC)
        assert not sv.monthly_urge_due(started, False, local(2026, 10, 8, 9), cal)
        assert sv.monthly_urge_due(started, False, local(2026, 10, 30, 9), cal)

    def test_not_before_the_assignment_started(self, cal: WorkCalendar) -> None:
        assert not sv.monthly_urge_due(local(2026, 10, 30, 12), False, local(2026, 10, 30, 9), cal)


class TestRecheck:
    def test_only_closed_orders_one_at_a_time(self) -> None:
        sv.check_recheck("closed", pending=False)
        for status in ("replied", "in_progress", "reopened", "registered"):
            with pytest.raises(Conflict) as err:
                sv.check_recheck(status, pending=False)
            assert err.value.details == {"action": "recheck", "state": status}
        with pytest.raises(Conflict) as err:
            sv.check_recheck("closed", pending=True)
        assert err.value.details["state"] == "recheck_pending"

    def test_result_once(self) -> None:
        sv.check_recheck_result(False)
        with pytest.raises(Conflict):
            sv.check_recheck_result(True)


class TestLinkedCallback:
    def test_after_the_reply_also_after_close_until_done(self) -> None:
        sv.check_linked_callback("replied", "pending")
        sv.check_linked_callback("closed", "pending")
        with pytest.raises(Conflict) as err:
            sv.check_linked_callback("in_progress", "pending")
        assert err.value.details == {"action": "callback", "state": "in_progress"}
        for done in ("done", "unreachable"):
            with pytest.raises(Conflict):
                sv.check_linked_callback("closed", done)

    def test_three_unreached_attempts(self) -> None:
        assert sv.linked_callback_status(True, 1) == "done"
        assert [sv.linked_callback_status(False, n) for n in (1, 2, 3)] == [
            "pending", "pending", "unreachable"]
