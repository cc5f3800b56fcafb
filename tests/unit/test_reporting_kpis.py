"""The KPI definitions of DOMAIN.md §5 on hand-built event sequences with known answers.

Real: the catalogue (events go through make_envelope / load_envelope), the projections, the
cube maintained per order as on the bus (``cube.project_event``) and SQLAlchemy on in-memory
SQLite. Every figure is asserted from the cube (``kpis.kpi_report``) and, independently, from
the plain GROUP BY over the facts (``kpis_plain``). Times are UTC between 00:00 and 15:59, so
the Shanghai business day is the UTC date, except where a test crosses midnight on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from services.reporting import cube, kpis, kpis_plain, metrics
from services.reporting.domain import Rate
from services.reporting.models import metadata
from services.reporting.periods import PeriodError
from tests.kpi_world import History, utc

NOW = datetime(2026, 12, 20, tzinfo=UTC)
NOV = (date(2026, 11, 1), date(2026, 11, 30))


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with Session(engine) as s:
        yield s


def load(session: Session, h: History) -> Session:
    for e in h.events:
        cube.project_event(session, e)
    session.commit()
    return session


def report(session: Session, start: date, end: date, group_by: str = "none",
           department: str | None = None, **kw: Any) -> dict[str, Any]:
    """The cube's report, checked against the plain GROUP BY."""
    from_cube = kpis.kpi_report(session, start, end, group_by, NOW, department, **kw)
    plain = kpis_plain.kpi_report(session, start, end, group_by, NOW, department, **kw)
    assert from_cube == plain
    return from_cube


def total(session: Session, start: date, end: date | None = None) -> dict[str, Any]:
    return report(session, start, end or start)["total"]


def rows(session: Session, start: date, end: date, group_by: str) -> dict[str, Any]:
    return {r["group"]: r for r in report(session, start, end, group_by)["rows"]}


def rate(numerator: int, sample: int) -> dict[str, Any]:
    return Rate(numerator, sample).as_dict()


def d(month: int, day: int) -> date:
    return date(2026, month, day)


# -- 按时办结率 and 超期件 -------------------------------------------------------------------------

def late_reply(h: History, no: str = "T1") -> None:
    """Due 11-05 01:00, breach reported, replied 11-06 02:00 (late)."""
    h.register(no, utc(11, 2, 1))
    [a] = h.dispatch(no, utc(11, 2, 1), "CG", handle_days=3)
    h.sign(no, a, "CG", utc(11, 2, 2))
    h.overdue(no, a, "CG", "handle", utc(11, 5, 1))
    h.reply(no, a, "CG", utc(11, 6, 2))


class TestCompletion:
    def test_a_late_reply_is_late_on_its_deadline_day_and_on_its_reply_day(
            self, session: Session) -> None:
        h = History()
        late_reply(h)
        load(session, h)
        assert total(session, *NOV)["on_time_completion"] == rate(0, 1)
        assert total(session, *NOV)["overdue"] == 1
        assert total(session, d(11, 5))["on_time_completion"] == rate(0, 1)  # overdue that day
        assert total(session, d(11, 5))["overdue"] == 1
        assert total(session, d(11, 6))["on_time_completion"] == rate(0, 1)  # replied that day
        assert total(session, d(11, 6))["overdue"] == 0  # 超期件 counted on the deadline day
        assert total(session, d(11, 3))["on_time_completion"] == rate(0, 0)
        assert total(session, d(11, 5), d(11, 6))["on_time_completion"] == rate(0, 1)  # once

    def test_an_unreplied_assignment_enters_the_sample_when_its_breach_is_reported(
            self, session: Session) -> None:
        h = History()
        h.register("T1", utc(11, 2, 1))
        [a] = h.dispatch("T1", utc(11, 2, 1), "CG", handle_days=3)
        load(session, h)
        assert total(session, *NOV)["on_time_completion"] == rate(0, 0)  # not measurable yet
        h2 = History()
        h2.overdue("T1", a, "CG", "handle", utc(11, 5, 1), utc(11, 5, 1, 5))
        load(session, h2)
        assert total(session, *NOV)["on_time_completion"] == rate(0, 1)
        assert total(session, d(11, 5))["overdue"] == 1

    def test_an_approved_extension_is_judged_against_the_extended_deadline(
            self, session: Session) -> None:
        h = History()
        h.register("T1", utc(11, 2, 1))
        [a] = h.dispatch("T1", utc(11, 2, 1), "CG", handle_days=3)  # due 11-05
        h.sign("T1", a, "CG", utc(11, 2, 2))
        h.extend("T1", a, "CG", utc(11, 5, 1), utc(11, 10, 1), utc(11, 4, 1))
        h.reply("T1", a, "CG", utc(11, 8, 1))  # after the old deadline, before the new one
        load(session, h)
        t = total(session, *NOV)
        assert (t["on_time_completion"], t["overdue"]) == (rate(1, 1), 0)

    def test_a_breach_of_the_old_deadline_arriving_after_the_extension_does_not_count(
            self, session: Session) -> None:
        h = History()
        h.register("T1", utc(11, 2, 1))
        [a] = h.dispatch("T1", utc(11, 2, 1), "CG", handle_days=3)
        h.extend("T1", a, "CG", utc(11, 5, 1), utc(11, 10, 1), utc(11, 4, 1))
        h.overdue("T1", a, "CG", "handle", utc(11, 5, 1))  # the old deadline's breach, late
        load(session, h)
        assert total(session, *NOV)["on_time_completion"] == rate(0, 0)
        assert total(session, *NOV)["overdue"] == 0

    def test_a_rejected_extension_keeps_the_deadline(self, session: Session) -> None:
        h = History()
        h.register("T1", utc(11, 2, 1))
        [a] = h.dispatch("T1", utc(11, 2, 1), "CG", handle_days=3)
        h.extend("T1", a, "CG", utc(11, 5, 1), utc(11, 10, 1), utc(11, 4, 1), approved=False)
        h.reply("T1", a, "CG", utc(11, 8, 1))
        load(session, h)
        assert total(session, *NOV)["on_time_completion"] == rate(0, 1)

    def test_assistants_do_not_count_for_completion(self, session: Session) -> None:
        h = History()
        h.register("T1", utc(11, 2, 1))
        lead, assist = h.dispatch("T1", utc(11, 2, 1), "CG", ("GA",), handle_days=3)
        h.overdue("T1", assist, "GA", "handle", utc(11, 5, 1))
        h.reply("T1", lead, "CG", utc(11, 4, 1))
        load(session, h)
        by = rows(session, *NOV, "department")
        assert by["CG"]["on_time_completion"] == rate(1, 1)
        assert by["GA"]["on_time_completion"] == rate(0, 0) and by["GA"]["overdue"] == 0

    def test_recalled_and_passed_down_assignments_leave_the_completion_sample(
            self, session: Session) -> None:
        h = History()
        h.register("T1", utc(11, 2, 1))
        [a] = h.dispatch("T1", utc(11, 2, 1), "CG", handle_days=1)
        h.overdue("T1", a, "CG", "handle", utc(11, 3, 1))
        h.recall("T1", 1, utc(11, 3, 2), [a], ["CG"])
        [b] = h.dispatch("T1", utc(11, 3, 3), "JT", round=2, handle_days=3)
        c = h.pass_down("T1", b, "JT", "JT-1", utc(11, 3, 4))
        h.reply("T1", c, "JT-1", utc(11, 5, 1))
        load(session, h)
        by = rows(session, *NOV, "department")
        assert "CG" not in by or by["CG"]["on_time_completion"] == rate(0, 0)
        assert by["JT"]["on_time_completion"] == rate(0, 0)
        assert by["JT-1"]["on_time_completion"] == rate(1, 1)
        assert total(session, *NOV)["overdue"] == 0
        assert by["JT"]["dispatched"] == 1 and by["JT-1"]["dispatched"] == 1
        # the order's lead department is the latest round's, after passing down
        assert rows(session, *NOV, "department")["JT-1"]["intake"] == 1


class TestOverdueNow:
    def test_is_overdue_and_completion_outcome(self) -> None:
        a = metrics_assignment(handle_due=utc(11, 5, 1))
        assert not metrics.is_overdue(a, utc(11, 5, 1))
        assert metrics.is_overdue(a, utc(11, 5, 2))
        assert metrics.completion_outcome(a) is None  # no reported breach yet
        late = metrics_assignment(handle_due=utc(11, 5, 1), replied_at=utc(11, 6, 1))
        assert metrics.is_overdue(late, utc(11, 5, 2))
        o = metrics.completion_outcome(late)
        assert o is not None and not o.on_time and o.days == (20261106, 20261105)
        ended = metrics_assignment(handle_due=utc(11, 5, 1), end_reason="returned")
        assert not metrics.is_overdue(ended, utc(12, 1))
        assert metrics.overdue_assignments([a, late, ended], utc(11, 5, 2)) == [a, late]


def metrics_assignment(**kw: Any) -> Any:
    from types import SimpleNamespace
    base = {"assignment_id": 1, "ticket_no": "T", "department_code": "CG", "role": "lead",
            "dispatched_at": None, "sign_due": None, "handle_due": None, "signed_at": None,
            "replied_at": None, "sign_overdue_at": None, "handle_overdue_at": None,
            "end_reason": None}
    return SimpleNamespace(**{**base, **kw})


# -- 按时签收率 -----------------------------------------------------------------------------------

class TestSign:
    def test_signing_that_straddles_a_period_boundary_counts_in_both_periods_once_each(
            self, session: Session) -> None:
        h = History()
        h.register("T1", utc(11, 30, 10))
        # sign due 23:00 Shanghai on 11-30, signed 00:30 Shanghai on 12-01
        [a] = h.dispatch("T1", utc(11, 30, 13), "CG", sign_hours=2)
        h.overdue("T1", a, "CG", "sign", utc(11, 30, 15))
        h.sign("T1", a, "CG", utc(11, 30, 16, 30))
        load(session, h)
        assert total(session, *NOV)["on_time_sign"] == rate(0, 1)
        assert total(session, d(12, 1))["on_time_sign"] == rate(0, 1)
        assert total(session, d(11, 30), d(12, 1))["on_time_sign"] == rate(0, 1)
        assert total(session, d(11, 29))["on_time_sign"] == rate(0, 0)

    def test_unsigned_counts_only_once_the_deadline_passed_and_on_time_counts(
            self, session: Session) -> None:
        h = History()
        h.register("T1", utc(11, 2, 1))
        a, b, c = h.dispatch("T1", utc(11, 2, 1), "CG", ("GA", "JT"), sign_hours=2)
        h.sign("T1", a, "CG", utc(11, 2, 3), "lead")  # exactly at the deadline: on time
        h.overdue("T1", b, "GA", "sign", utc(11, 2, 3))  # never signed
        load(session, h)  # JT: neither signed nor reported past its deadline
        by = rows(session, *NOV, "department")
        assert by["CG"]["on_time_sign"] == rate(1, 1)
        assert by["GA"]["on_time_sign"] == rate(0, 1)
        assert by["JT"]["on_time_sign"] == rate(0, 0)
        assert total(session, *NOV)["three_rates"]["response"] == rate(1, 2)

    def test_an_early_signature_counts_on_its_day_and_on_its_deadline_day(
            self, session: Session) -> None:
        h = History()
        h.register("T1", utc(11, 2, 15))
        [a] = h.dispatch("T1", utc(11, 2, 15), "CG", sign_hours=20)  # due 11-03 11:00 UTC
        h.sign("T1", a, "CG", utc(11, 2, 15, 30))
        load(session, h)
        assert total(session, d(11, 2))["on_time_sign"] == rate(1, 1)
        assert total(session, d(11, 3))["on_time_sign"] == rate(1, 1)
        assert total(session, d(11, 2), d(11, 3))["on_time_sign"] == rate(1, 1)


# -- returns ------------------------------------------------------------------------------------

class TestReturns:
    def test_approved_and_rejected_returns(self, session: Session) -> None:
        h = History()
        h.register("T1", utc(11, 2, 1))
        [a] = h.dispatch("T1", utc(11, 2, 1), "CG", handle_days=2)
        rid = h.request_return("T1", a, "CG", utc(11, 2, 2))
        h.decide_return("T1", rid, a, "CG", utc(11, 3, 1), approved=True)
        h.overdue("T1", a, "CG", "handle", utc(11, 4, 1))  # a stale breach of the returned one
        [b] = h.dispatch("T1", utc(11, 3, 2), "JT", round=2, handle_days=5)
        rid2 = h.request_return("T1", b, "JT", utc(11, 3, 3))
        h.decide_return("T1", rid2, b, "JT", utc(11, 4, 3), approved=False)
        h.reply("T1", b, "JT", utc(11, 6, 1))
        load(session, h)
        by = rows(session, *NOV, "department")
        assert by["CG"]["approved_returns"] == 1 and by["CG"]["rejected_returns"] == 0
        assert by["CG"]["return_rate"] == rate(1, 1)
        assert by["CG"]["on_time_completion"] == rate(0, 0)  # returned: not in the sample
        assert by["CG"]["overdue"] == 0
        assert by["JT"]["rejected_returns"] == 1  # 无正当理由退件
        assert by["JT"]["return_rate"] == rate(0, 1)
        assert by["JT"]["on_time_completion"] == rate(1, 1)
        # 退单率 by decision day ÷ dispatched that day
        assert total(session, d(11, 3))["return_rate"] == rate(1, 1)  # JT dispatched 11-03
        assert total(session, d(11, 2))["return_rate"] == rate(0, 1)  # CG dispatched 11-02
        assert total(session, d(11, 4))["rejected_returns"] == 1
        assert by["JT"]["intake"] == 1 and "CG" not in [k for k, r in by.items() if r["intake"]]

    def test_a_withdrawn_return_is_neither(self, session: Session) -> None:
        h = History()
        h.register("T1", utc(11, 2, 1))
        [a] = h.dispatch("T1", utc(11, 2, 1), "CG")
        rid = h.request_return("T1", a, "CG", utc(11, 2, 2))
        h.reply("T1", a, "CG", utc(11, 2, 3))
        h.ev("assignment.return_withdrawn", {
            "return_id": rid, "assignment_id": a, "ticket_no": "T1", "department_code": "CG",
            "at": utc(11, 2, 4), "reason": "已答复"}, utc(11, 2, 4))
        h.decide_return("T1", rid, a, "CG", utc(11, 2, 5), approved=True)
        load(session, h)
        t = total(session, *NOV)
        assert (t["approved_returns"], t["rejected_returns"]) == (0, 0)
        assert t["on_time_completion"] == rate(1, 1)


# -- callbacks, reopening -------------------------------------------------------------------------

class TestCallbacks:
    def test_a_reopened_order(self, session: Session) -> None:
        h = History()
        h.register("T1", utc(11, 2, 1))
        [a] = h.dispatch("T1", utc(11, 2, 1), "CG", handle_days=3)
        h.reply("T1", a, "CG", utc(11, 3, 1))
        h.callback("T1", utc(11, 4, 1), solved=False, satisfaction="unsatisfied")
        h.reopen("T1", utc(11, 4, 2))
        [b] = h.dispatch("T1", utc(11, 4, 3), "CG", round=2, handle_days=2)
        h.overdue("T1", b, "CG", "handle", utc(11, 6, 3))
        h.reply("T1", b, "CG", utc(11, 7, 1))
        h.callback("T1", utc(11, 8, 1), solved=True, satisfaction="basically_satisfied")
        h.close("T1", utc(11, 8, 2))
        load(session, h)
        t = total(session, *NOV)
        assert t["on_time_completion"] == rate(1, 2)  # the reopened round is a new sample
        assert t["overdue"] == 1
        assert t["reopen_rate"] == rate(1, 1)
        assert t["callback_rate"] == rate(1, 1)
        assert t["resolution"] == rate(1, 2)  # each reached callback
        assert t["satisfaction"] == rate(1, 2)
        assert t["closed"] == 1 and t["dispatched"] == 2
        # 回访率 / 重办率 by the first reply day, 解决率 / 满意率 by the callback's day
        assert total(session, d(11, 3))["reopen_rate"] == rate(1, 1)
        assert total(session, d(11, 7))["reopen_rate"] == rate(0, 0)
        assert total(session, d(11, 8))["satisfaction"] == rate(1, 1)
        assert total(session, d(11, 4))["resolution"] == rate(0, 1)

    def test_three_failed_callbacks_are_unreachable(self, session: Session) -> None:
        h = History()
        h.register("T1", utc(11, 2, 1))
        [a] = h.dispatch("T1", utc(11, 2, 1), "CG")
        h.reply("T1", a, "CG", utc(11, 3, 1))
        for i in range(3):
            h.callback("T1", utc(11, 4, 1 + i), reached=False)
        h.close("T1", utc(11, 4, 5), "callback_unreachable")
        load(session, h)
        t = total(session, *NOV)
        assert t["callback_rate"] == rate(0, 1)  # 无法回访: in the sample, not done
        assert t["resolution"] == rate(0, 0) and t["satisfaction"] == rate(0, 0)
        assert t["three_rates"]["score"] is None

    def test_a_reached_callback_without_a_rating_is_outside_satisfaction(
            self, session: Session) -> None:
        h = History()
        h.register("T1", utc(11, 2, 1))
        [a] = h.dispatch("T1", utc(11, 2, 1), "CG")
        h.reply("T1", a, "CG", utc(11, 3, 1))
        h.callback("T1", utc(11, 4, 1), solved=None, satisfaction=None)
        load(session, h)
        t = total(session, *NOV)
        assert (t["callback_rate"], t["resolution"], t["satisfaction"]) == (
            rate(1, 1), rate(0, 1), rate(0, 0))


# -- intake, repeat calls, grouping ---------------------------------------------------------------

class TestIntakeAndGrouping:
    def history(self) -> History:
        h = History()
        h.register("T1", utc(11, 2, 1), category="complaint", channel="phone",
                   territory="330106")
        h.register("T2", utc(11, 2, 2), category="consultation", channel="web",
                   territory="330102", resolved=True)
        h.register("T3", utc(11, 2, 3), category="help", channel="app", territory=None)
        h.dispatch("T1", utc(11, 2, 4), "CG")
        h.link("T1", utc(11, 3, 1), channel="web")
        h.link("T1", utc(11, 3, 2), channel="phone")
        return h

    def test_intake_resolved_at_intake_and_repeat_calls(self, session: Session) -> None:
        load(session, self.history())
        t = total(session, *NOV)
        assert t["intake"] == 3
        assert t["resolved_at_intake"] == rate(1, 3)
        assert t["repeat_calls"] == rate(2, 5)  # 2 linked calls of 5 calls
        assert total(session, d(11, 3))["repeat_calls"] == rate(2, 2)
        assert total(session, d(11, 3))["intake"] == 0

    def test_group_by_each_dimension(self, session: Session) -> None:
        load(session, self.history())
        dept = rows(session, *NOV, "department")
        assert set(dept) == {"CG", metrics.NO_LEAD}
        assert dept[metrics.NO_LEAD]["intake"] == 2
        cat = rows(session, *NOV, "category")
        assert {k: r["group_label"] for k, r in cat.items()} == {
            "complaint": "投诉", "consultation": "咨询", "help": "求助"}
        ter = rows(session, *NOV, "territory")
        assert set(ter) == {"330106", "330102", metrics.UNKNOWN}
        assert ter[metrics.UNKNOWN]["group_label"] == "未知"
        ch = rows(session, *NOV, "channel")
        assert ch["web"]["repeat_calls"] == rate(1, 2)  # a linked call's own channel
        assert ch["phone"]["repeat_calls"] == rate(1, 2)
        assert ch["app"]["group_label"] == "移动应用"
        none = report(session, *NOV, "none")
        assert [r["group"] for r in none["rows"]] == [metrics.ALL]
        assert none["rows"][0]["intake"] == none["total"]["intake"] == 3

    def test_a_department_sees_its_own_row_only(self, session: Session) -> None:
        load(session, self.history())
        r = report(session, *NOV, "department", department="CG")
        assert [x["group"] for x in r["rows"]] == ["CG"]
        assert r["total"]["intake"] == 1
        with pytest.raises(ValueError):
            kpis.kpi_report(session, *NOV, "category", NOW, department="CG")

    def test_unknown_group_by_and_bad_ranges(self, session: Session) -> None:
        with pytest.raises(ValueError, match="department, category, territory, channel, none"):
            kpis.kpi_report(session, *NOV, "weekday", NOW)
        with pytest.raises(PeriodError) as err:
            kpis.kpi_report(session, d(11, 30), d(11, 1), "none", NOW)
        assert err.value.field == "to"
        with pytest.raises(PeriodError):
            kpis.kpi_report(session, date(2020, 1, 1), date(2026, 1, 1), "none", NOW)

    def test_reassignment_moves_an_orders_figures_to_the_new_lead(
            self, session: Session) -> None:
        h = History()
        h.register("T1", utc(11, 2, 1))
        [a] = h.dispatch("T1", utc(11, 2, 1), "CG")
        h.recall("T1", 1, utc(11, 2, 2), [a], ["CG"])
        h.dispatch("T1", utc(11, 2, 3), "JT", round=2)
        load(session, h)
        dept = rows(session, *NOV, "department")
        assert dept["JT"]["intake"] == 1
        assert dept["CG"]["intake"] == 0 and dept["CG"]["dispatched"] == 1


class TestThreeRates:
    def test_score_with_default_and_custom_weights(self) -> None:
        rates = {"response": Rate(1, 2), "resolution": Rate(1, 1), "satisfaction": Rate(3, 4)}
        assert metrics.three_rates_score(rates) == round(30 * 0.5 + 35 + 35 * 0.75, 2)
        assert metrics.three_rates_score(
            rates, {"response": 1, "resolution": 1, "satisfaction": 2}) == 75.0
        assert metrics.three_rates_score({**rates, "satisfaction": Rate(0, 0)}) is None
        with pytest.raises(ValueError):
            metrics.three_rates_score(rates, {"response": 0, "resolution": 0, "satisfaction": 0})

    def test_report_uses_the_weights(self, session: Session) -> None:
        h = History()
        h.register("T1", utc(11, 2, 1))
        [a] = h.dispatch("T1", utc(11, 2, 1), "CG")
        h.sign("T1", a, "CG", utc(11, 2, 2))
        h.reply("T1", a, "CG", utc(11, 3, 1))
        h.callback("T1", utc(11, 4, 1), solved=False, satisfaction="satisfied")
        load(session, h)
        assert total(session, *NOV)["three_rates"]["score"] == 65.0  # 30 + 0 + 35
        r = report(session, *NOV, weights={"response": 1, "resolution": 1, "satisfaction": 0})
        assert r["total"]["three_rates"]["score"] == 50.0


class TestBoard:
    def test_live_figures(self, session: Session) -> None:
        now = utc(11, 10, 4)  # 12:00 Shanghai
        h = History()
        h.register("T1", utc(11, 10, 1))
        h.register("T2", utc(11, 9, 1))
        [a] = h.dispatch("T1", utc(11, 10, 1), "CG", handle_days=0.1)  # due 03:24: overdue
        [b] = h.dispatch("T2", utc(11, 9, 1), "JT", handle_days=1.05)  # due 11-10 02:12+: …
        h.register("T3", utc(11, 10, 2))
        [c] = h.dispatch("T3", utc(11, 10, 2), "CG", handle_days=0.1 + 2.5 / 24)  # due 06:24
        h.register("T4", utc(11, 10, 2))
        [e] = h.dispatch("T4", utc(11, 10, 2), "GA", handle_days=0.4)  # due 11:36 (19:36 local)
        h.sign("T1", a, "CG", utc(11, 10, 1, 30))
        load(session, h)
        board = kpis.board(session, now)
        assert board["today"] == "2026-11-10"
        assert board["intake_today"] == 3
        assert board["overdue_now"] == 2  # T1 (CG) and T2 (JT)
        assert board["due_within_2h"] == 0
        assert board["due_today"] == 2  # T3 06:24, T4 11:36 (before 16:00 UTC)
        assert board["sign_overdue_now"] == 1  # T2's; T3's and T4's sign clocks end right now
        assert {r["department_code"]: r["overdue"] for r in board["overdue_by_department"]} == {
            "CG": 1, "JT": 1}
        assert board["three_rates_today"]["response"] == rate(1, 1)  # T1 signed on time; T2 unreported
        cg = kpis.board(session, now, department="CG")
        assert (cg["overdue_now"], cg["intake_today"]) == (1, 2)
        soon = kpis.board(session, utc(11, 10, 5))
        assert soon["due_within_2h"] == 1  # T3 at 06:24
        assert soon["sign_overdue_now"] == 3
        del b, c, e


def test_day_numbers_follow_the_shanghai_calendar() -> None:
    assert metrics.day(datetime(2026, 11, 30, 15, 59, tzinfo=UTC)) == 20261130
    assert metrics.day(datetime(2026, 11, 30, 16, 0, tzinfo=UTC)) == 20261201
    assert metrics.day(None) == 0
    assert metrics.day(datetime(2026, 11, 30, 16, 0, tzinfo=UTC) - timedelta(seconds=1)) == \
        20261130
