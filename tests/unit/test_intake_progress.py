"""Unit tests of services.intake.progress: the citizen progress rules (流程查询), facts in any
order converging on the same view."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from services.intake import progress as pg

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)
DUE, EXTENDED = T0 + timedelta(days=15), T0 + timedelta(days=20)


def lead(aid: int, dept: str) -> dict[str, object]:
    return {"assignment_id": aid, "department_code": dept, "role": "lead"}


FACTS = [
    lambda p: pg.apply_status(p, "dispatched", 2, T0),
    lambda p: pg.apply_status(p, "in_progress", 3, T0 + timedelta(hours=1)),
    lambda p: pg.apply_dispatch(p, [lead(41, "chengguan"),
                                    {"assignment_id": 42, "department_code": "jy",
                                     "role": "assist"}], T0),
    lambda p: pg.apply_clock(p, 41, "chengguan", "lead", DUE),
    lambda p: pg.apply_clock(p, 42, "jy", "assist", DUE),
    lambda p: pg.apply_extension(p, 41, True, EXTENDED, T0 + timedelta(hours=2)),
]


class TestConvergence:
    def test_every_order_of_the_facts_gives_the_same_view(self) -> None:
        views = set()
        for order in itertools.permutations(FACTS):
            p = pg.Progress()
            for fact in order:
                fact(p)
            views.add((p.status, pg.stage(p), pg.responsible(p), pg.expected(p), p.updated_at))
        assert views == {("in_progress", "延期中", "chengguan", EXTENDED.isoformat(),
                          T0 + timedelta(hours=2))}

    def test_an_older_status_is_ignored(self) -> None:
        p = pg.Progress()
        assert pg.apply_status(p, "closed", 7, T0)
        assert not pg.apply_status(p, "replied", 6, T0)
        assert (p.status, p.closed_at, pg.is_closed(p.status)) == ("closed", T0, True)
        assert pg.apply_status(p, "reopened", 8, T0) and p.closed_at is None


class TestLead:
    def test_a_later_round_wins_whatever_the_order(self) -> None:
        for rounds in ([lead(10, "a")], [lead(20, "b")]), ([lead(20, "b")], [lead(10, "a")]):
            p = pg.Progress()
            for r in rounds:
                pg.apply_dispatch(p, r, T0)
            assert (p.lead_assignment_id, p.lead_department) == (20, "b")

    def test_a_recall_of_the_current_round_leaves_no_lead(self) -> None:
        p = pg.Progress(status="dispatched")
        pg.apply_dispatch(p, [lead(10, "a")], T0)
        assert not pg.apply_recall(p, [9], T0)
        assert pg.apply_recall(p, [10], T0) and pg.responsible(p) is None
        assert pg.expected(p) is None
        pg.apply_dispatch(p, [lead(10, "a")], T0)  # the recalled round, redelivered late
        assert pg.responsible(p) is None
        pg.apply_dispatch(p, [lead(11, "b")], T0)
        assert pg.responsible(p) == "b"

    def test_a_pass_down_takes_over_with_its_deadline(self) -> None:
        p = pg.Progress(status="in_progress")
        pg.apply_dispatch(p, [lead(10, "district")], T0)
        pg.apply_clock(p, 10, "district", "lead", DUE)
        assert pg.adopt_lead(p, 12, "street")
        assert pg.expected(p) is None  # until the new clock is known
        pg.apply_clock(p, 12, "street", "lead", DUE)
        assert (pg.responsible(p), pg.expected(p)) == ("street", DUE.isoformat())

    def test_no_department_responsible_while_waiting_for_dispatch(self) -> None:
        p = pg.Progress(status="pending_dispatch")
        pg.apply_dispatch(p, [lead(10, "a")], T0)
        assert pg.responsible(p) is None and pg.stage(p) == "待派单"


class TestStagesAndReply:
    def test_stages_are_the_chinese_list(self) -> None:
        assert set(pg.STAGES.values()) | {pg.EXTENDED_STAGE} == {
            "待派单", "已派单", "办理中", "延期中", "退单待审", "已答复待回访", "办结", "重办"}

    def test_a_rejected_extension_moves_nothing(self) -> None:
        p = pg.Progress(status="in_progress")
        pg.apply_clock(p, 10, "a", "lead", DUE)
        assert not pg.apply_extension(p, 10, False, None, T0)
        assert (pg.stage(p), pg.expected(p)) == ("办理中", DUE.isoformat())

    def test_the_newest_reply_wins(self) -> None:
        p = pg.Progress()
        assert pg.apply_reply(p, "second", T0 + timedelta(days=1))
        assert not pg.apply_reply(p, "first", T0)
        assert not pg.apply_reply(p, "second", T0 + timedelta(days=1))  # redelivered
        assert p.reply == "second"
