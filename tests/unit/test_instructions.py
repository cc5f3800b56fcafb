"""Unit tests for services.supervision.instructions: the rules of leader instructions (领导批示件)
— classification by the leader's words, deadlines on the real working-day calendar, numbering,
the per-unit state machine, completion, the summary outcome and who sees what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.supervision import instructions as ins
from shared.calendar import WorkCalendar
from shared.errors import Conflict, Invalid

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()


class TestClassify:
    @pytest.mark.parametrize("words, matched", [
        ("阅研", "阅研"),
        ("请城管局阅研。", "阅研"),
        ("阅处", "阅处"),
        ("请XX同志阅处", "阅处"),
        ("酌", "酌"),
        ("请酌办", "酌"),
        ("请市住建局酌处并反馈", "酌"),
        ("请市城管局抓紧办理，并将结果报我。", "办理"),
        ("请研办", "研办"),
        ("请认真落实", "落实"),
        ("请妥善处理", "处理"),
        ("请于月底前报送落实情况", "落实"),
        ("请反馈", "反馈"),
        ("抓紧", "抓紧"),
        ("请督促相关部门整改", "督促"),
        ("请核实情况", "核实"),
        ("请研究提出意见", "研究"),
        ("已阅，请抓紧", "抓紧"),  # 办件 words win over 阅
        ("阅。请跟踪", "跟踪"),
    ])
    def test_request_words_make_a_handle_item(self, words: str, matched: str) -> None:
        c = ins.classify(words)
        assert (c.kind, c.matched) == ("handle", matched)
        assert matched in c.reason

    @pytest.mark.parametrize("words, matched", [
        ("阅", "阅"),
        ("已阅", "阅"),
        ("阅知", "阅"),
        ("圈阅", "阅"),
        ("请XX同志阅", "阅"),
        ("参考", "参考"),
        ("供参考", "参考"),
        ("参阅", "阅"),
        ("知悉", "知悉"),
        ("已阅，不必反馈", "阅"),  # a negated request is no request
        ("阅，无需办理", "阅"),
        ("已 阅", "阅"),  # whitespace is ignored
    ])
    def test_reading_words_make_a_read_item(self, words: str, matched: str) -> None:
        c = ins.classify(words)
        assert (c.kind, c.matched) == ("read", matched)

    def test_handle_words_win_over_read_even_inside_read_words(self) -> None:
        # "阅研" contains 阅 but is a 办件 (seed 000 第一篇 五(一))
        assert ins.classify("阅研").kind == "handle"
        assert ins.classify("阅处").kind == "handle"
        assert ins.classify("阅，酌").kind == "handle"

    @pytest.mark.parametrize("words", ["同意", "好", "", "  ", "○"])
    def test_unknown_words_default_to_handle(self, words: str) -> None:
        c = ins.classify(words)
        assert c.kind == "handle" and c.matched is None

    def test_the_office_may_override_with_a_reason(self) -> None:
        assert ins.check_kind_choice("handle", "read", "领导圈阅件，仅供参考") == "read"
        assert ins.check_kind_choice("handle", None, None) == "handle"
        assert ins.check_kind_choice("read", "read", None) == "read"
        with pytest.raises(Invalid) as e:
            ins.check_kind_choice("handle", "read", " ")
        assert "kind_reason" in e.value.details["fields"]


class TestNumbering:
    def test_format(self) -> None:
        assert ins.format_number(2026, 12) == "批〔2026〕12号"
        assert ins.format_number(2027, 1) == "批〔2027〕1号"

    def test_parse_round_trip(self) -> None:
        assert ins.parse_number(ins.format_number(2026, 305)) == ("批", 2026, 305)
        with pytest.raises(ValueError):
            ins.parse_number("批[2026]12号")

    def test_sequence_starts_at_one(self) -> None:
        with pytest.raises(ValueError):
            ins.format_number(2026, 0)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


class TestDeadlines:
    policy = ins.DeadlinePolicy()

    def due(self, level: str, received: datetime, kind: str = "handle", urgent: bool = False,
            **kw: object) -> ins.Deadlines:
        return self.policy.deadlines(level, kind, received, urgent, CAL, **kw)  # type: ignore[arg-type]

    def test_provincial_is_15_calendar_days_through_national_day(self) -> None:
        # received Wed Sep 30 2026: days count from Oct 1; holidays count (calendar days)
        d = self.due("provincial", local(2026, 9, 30, 10, 0))
        assert d.feedback_due == local(2026, 10, 16, 0, 0)  # end of Thu Oct 15
        assert d.dispatch_due is None and d.rule == "provincial=15d"

    def test_provincial_counts_from_the_local_day_of_receipt(self) -> None:
        # 17:30 UTC on Sep 30 is 01:30 on Oct 1 in Shanghai
        d = self.due("provincial", datetime(2026, 9, 30, 17, 30, tzinfo=UTC))
        assert d.feedback_due == local(2026, 10, 17, 0, 0)

    @pytest.mark.parametrize("level", ["vice_mayor", "mayor_assistant", "other"])
    def test_ten_working_days_skip_national_day_and_count_the_make_up_saturday(
            self, level: str) -> None:
        # Oct 1–7 holidays, Sat Oct 10 a 调休 working day:
        # Oct 8, 9, 10, 12, 13, 14, 15, 16, 19, 20 → end of Tue Oct 20
        d = self.due(level, local(2026, 9, 30, 10, 0))
        assert d.feedback_due == local(2026, 10, 21, 0, 0)

    def test_ten_working_days_over_spring_festival_2026(self) -> None:
        # received Fri Feb 13: Sat Feb 14 is a make-up day (1), Feb 15–23 holidays,
        # Feb 24–27 (5), Sat Feb 28 make-up (6), Mar 2–5 (10) → end of Thu Mar 5
        d = self.due("vice_mayor", local(2026, 2, 13, 15, 0))
        assert d.feedback_due == local(2026, 3, 6, 0, 0)

    def test_the_mayors_clock_starts_at_dispatch(self) -> None:
        received, dispatched = local(2026, 9, 29, 9, 0), local(2026, 10, 8, 9, 0)
        d = self.due("mayor", received, dispatched_at=dispatched)
        # from Thu Oct 8: Oct 9, 10, 12–16, 19, 20, 21 → end of Wed Oct 21
        assert d.feedback_due == local(2026, 10, 22, 0, 0)
        vice = self.due("vice_mayor", received, dispatched_at=dispatched)
        # from Sep 29: Sep 30 (1), Oct 8, 9, 10, 12–16, 19 (10) → end of Mon Oct 19
        assert vice.feedback_due == local(2026, 10, 20, 0, 0)

    def test_petition_items_are_dispatched_in_three_days_urgent_ones_the_same_day(self) -> None:
        received = local(2026, 9, 30, 20, 0)
        normal = self.due("petition", received)
        assert normal.dispatch_due == local(2026, 10, 4, 0, 0)  # end of Oct 3
        urgent = self.due("petition", received, urgent=True)
        assert urgent.dispatch_due == local(2026, 10, 1, 0, 0)  # end of the day of receipt
        assert normal.feedback_due == local(2026, 11, 30, 0, 0)  # 60 days: end of Nov 29

    def test_urgency_changes_only_petition_items(self) -> None:
        received = local(2026, 9, 30, 10, 0)
        assert self.due("vice_mayor", received, urgent=True) == self.due("vice_mayor", received)

    def test_read_items_have_no_feedback_deadline(self) -> None:
        assert self.due("provincial", local(2026, 9, 30, 10, 0), kind="read").feedback_due is None
        petition = self.due("petition", local(2026, 9, 30, 10, 0), kind="read")
        assert petition.feedback_due is None and petition.dispatch_due is not None

    def test_a_deadline_set_by_the_upper_level_unit_wins(self) -> None:
        set_by_them = local(2026, 10, 9, 17, 0)
        d = self.due("provincial", local(2026, 9, 30, 10, 0), override=set_by_them)
        assert d.feedback_due == set_by_them and d.rule == "override"

    def test_configurable(self) -> None:
        p = ins.DeadlinePolicy({"provincial": "10d", "vice_mayor": "5wd"})
        received = local(2026, 9, 30, 10, 0)
        assert p.deadlines("provincial", "handle", received, False, CAL).feedback_due == \
            local(2026, 10, 11, 0, 0)
        assert p.deadlines("vice_mayor", "handle", received, False, CAL).feedback_due == \
            local(2026, 10, 14, 0, 0)  # Oct 8, 9, 10, 12, 13

    @pytest.mark.parametrize("overrides", [{"mayr": "10wd"}, {"mayor": "10x"}, {"mayor": "0wd"}])
    def test_bad_configuration_is_refused(self, overrides: dict[str, str]) -> None:
        with pytest.raises(ValueError):
            ins.DeadlinePolicy(overrides)

    def test_unknown_level(self) -> None:
        with pytest.raises(Invalid):
            self.due("governor", local(2026, 9, 30, 10, 0))

    def test_naive_receipt_is_refused(self) -> None:
        with pytest.raises(ValueError):
            ins.Limit.parse("15d").after(datetime(2026, 9, 30, 10, 0), CAL)


class TestUnitStateMachine:
    def test_handle_flow(self) -> None:
        s = ins.unit_transition("submit_feedback", "handle", "dispatched")
        assert s == "submitted"
        assert ins.unit_transition("return_feedback", "handle", s) == "returned"
        assert ins.unit_transition("submit_feedback", "handle", "returned") == "submitted"
        assert ins.unit_transition("approve_feedback", "handle", "submitted") == "approved"

    def test_read_flow(self) -> None:
        assert ins.unit_transition("acknowledge_read", "read", "dispatched") == "read"

    @pytest.mark.parametrize("action, kind, status", [
        ("submit_feedback", "handle", "submitted"),
        ("submit_feedback", "handle", "approved"),
        ("approve_feedback", "handle", "dispatched"),
        ("return_feedback", "handle", "approved"),
        ("acknowledge_read", "read", "read"),
        ("submit_feedback", "read", "dispatched"),  # a 阅件 needs no feedback
        ("acknowledge_read", "handle", "dispatched"),  # a 办件 is not done by reading it
    ])
    def test_not_allowed(self, action: str, kind: str, status: str) -> None:
        with pytest.raises(Conflict) as e:
            ins.unit_transition(action, kind, status)
        assert e.value.details["action"] == action

    def test_reclassify_only_before_any_unit_acted(self) -> None:
        ins.check_reclassify("open", ["dispatched", "dispatched"])
        with pytest.raises(Conflict) as e:
            ins.check_reclassify("open", ["dispatched", "submitted"])
        assert e.value.details["state"] == "submitted"
        with pytest.raises(Conflict):
            ins.check_reclassify("completed", ["read"])


class TestCompletion:
    @pytest.mark.parametrize("kind, statuses, done", [
        ("handle", ["approved", "approved"], True),
        ("handle", ["approved", "submitted"], False),
        ("handle", ["approved", "returned"], False),
        ("handle", ["read"], False),
        ("read", ["read", "read"], True),
        ("read", ["read", "dispatched"], False),
        ("handle", [], False),
    ])
    def test_every_unit(self, kind: str, statuses: list[str], done: bool) -> None:
        assert ins.is_complete(kind, statuses) is done


class TestOverdueAndOutcome:
    due = local(2026, 10, 21, 0, 0)

    def test_overdue_only_for_handle_items_still_owing(self) -> None:
        after = self.due + timedelta(seconds=1)
        assert ins.is_overdue("handle", "dispatched", self.due, after)
        assert ins.is_overdue("handle", "returned", self.due, self.due)
        assert not ins.is_overdue("handle", "dispatched", self.due, self.due - timedelta(seconds=1))
        assert not ins.is_overdue("handle", "submitted", self.due, after)
        assert not ins.is_overdue("handle", "approved", self.due, after)
        assert not ins.is_overdue("read", "dispatched", None, after)

    def test_urge_key_is_per_share_and_deadline(self) -> None:
        assert ins.urge_key(5, self.due) == ins.urge_key(5, self.due)
        assert ins.urge_key(5, self.due) != ins.urge_key(6, self.due)
        assert ins.urge_key(5, self.due) != ins.urge_key(5, self.due + timedelta(days=1))
        assert len(ins.urge_key(2**31, self.due)) <= 64

    def test_share_outcome(self) -> None:
        before, after = self.due - timedelta(hours=1), self.due + timedelta(hours=1)
        assert ins.share_outcome(self.due, before, None, after) == "on_time"
        assert ins.share_outcome(self.due, after, None, after) == "overdue"
        assert ins.share_outcome(self.due, None, before, after) == "open"  # awaiting the office
        assert ins.share_outcome(self.due, None, after, after) == "overdue"
        assert ins.share_outcome(self.due, None, None, after) == "overdue"
        assert ins.share_outcome(self.due, None, None, before) == "open"
        assert ins.share_outcome(None, None, None, after) == "open"


class TestVisibility:
    units = ["chengguan", "zhujian"]

    @pytest.mark.parametrize("role", ["supervisor", "leader", "admin"])
    def test_office_and_leaders_see_everything(self, role: str) -> None:
        assert ins.can_see({"role": role}, True, [])

    def test_a_department_sees_only_instructions_its_unit_is_on(self) -> None:
        assert ins.can_see({"role": "department", "department_code": "zhujian"}, True, self.units)
        assert not ins.can_see({"role": "department", "department_code": "jiaotong"}, False,
                               self.units)

    def test_a_department_system_never_sees_a_confidential_one(self) -> None:
        system = {"role": "department", "department_code": "chengguan", "via": "api_key"}
        assert not ins.can_see(system, True, self.units)
        assert ins.can_see(system, False, self.units)

    @pytest.mark.parametrize("role", ["agent", "dispatcher", "auditor", None])
    def test_other_roles_see_none(self, role: str | None) -> None:
        assert not ins.can_see({"role": role}, False, self.units)
