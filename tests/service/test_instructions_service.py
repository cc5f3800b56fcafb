"""Supervision's leader-instruction entrypoints (领导批示件) with a real migrated SQLite database,
the real working-day calendar and no broker: events are read from the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.supervision.dependencies import build_calendar
from services.supervision.instructions import DeadlinePolicy
from services.supervision.policy import SlaPolicy
from services.supervision.service import SupervisionService
from shared.business_time import business_today
from shared.errors import Conflict, Invalid, NotFound
from tests.service.conftest import Worker, outbox

SH = ZoneInfo("Asia/Shanghai")
OFFICE = {"role": "supervisor", "department_code": None, "via": "token"}
LEADER = {"role": "leader", "department_code": None, "via": "token"}


def dept(code: str, via: str = "token") -> dict[str, Any]:
    return {"role": "department", "department_code": code, "via": via}


@pytest.fixture
def worker(store: Any) -> Any:
    db = store("supervision")
    config = {"WORKING_HOURS": [["08:30", "12:00"], ["13:30", "17:30"]], "TIMEZONE": "Asia/Shanghai"}

    def calendar(session: Any) -> Any:
        return build_calendar(config, session)

    return Worker(SupervisionService, db, calendar=calendar, policy=SlaPolicy(),
                  instruction_policy=DeadlinePolicy(), settings={}), db


def sheet(**overrides: Any) -> dict[str, Any]:
    """A vice-mayor's 办件 received a moment ago, to 城管 and 住建."""
    return {"leader_name": "王副市长", "leader_level": "vice_mayor",
            "words": "请市城管局、市住建局抓紧研究处理，并将结果报我。",
            "source_title": "关于滨江路占道经营问题的群众来信", "source_doc_no": "泸市信〔2026〕88号",
            "received_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
            "units": ["chengguan", "zhujian"], "ticket_nos": ["20261123000001"], **overrides}


def events(db: Any, prefix: str = "instruction.") -> list[dict[str, Any]]:
    return [e for e in outbox(db) if e["type"].startswith(prefix)]


class TestRegistration:
    def test_numbered_classified_and_dispatched_with_deadlines(self, worker: Any) -> None:
        w, db = worker
        got = w.register_instruction(sheet(), "supervisor1")
        year = business_today().year
        assert got["number"] == f"批〔{year}〕1号" and (got["year"], got["seq"]) == (year, 1)
        assert got["kind"] == got["classified_kind"] == "handle" and got["status"] == "open"
        assert [u["department_code"] for u in got["units"]] == ["chengguan", "zhujian"]
        assert all(u["status"] == "dispatched" and u["feedback_due"] for u in got["units"])
        assert got["ticket_nos"] == ["20261123000001"]
        assert got["history"][0]["action"] == "register" and got["history"][0]["actor"] == "supervisor1"
        (e,) = events(db)
        assert e["type"] == "instruction.registered" and e["data"]["number"] == got["number"]
        assert "words" not in e["data"]  # the leader's words stay in supervision
        second = w.register_instruction(sheet(), "supervisor1")
        assert second["number"] == f"批〔{year}〕2号"

    def test_deadline_on_the_real_calendar(self, worker: Any) -> None:
        w, _ = worker
        got = w.register_instruction(sheet(received_at="2026-09-30T10:00:00+08:00"), "s")
        # vice-mayor: 10 working days from receipt, over National Day 2026 → end of Oct 20
        due = datetime.fromisoformat(got["units"][0]["feedback_due"])
        assert due == datetime(2026, 10, 21, 0, 0, tzinfo=SH)
        assert got["deadline_rule"] == "vice_mayor=10wd"

    def test_read_words_make_a_read_item_without_deadline(self, worker: Any) -> None:
        w, _ = worker
        got = w.register_instruction(sheet(words="已阅。"), "s")
        assert got["kind"] == "read" and all(u["feedback_due"] is None for u in got["units"])

    def test_the_office_overrides_the_kind_with_a_reason(self, worker: Any) -> None:
        w, _ = worker
        with pytest.raises(Invalid) as e:
            w.register_instruction(sheet(words="阅", kind="handle"), "s")
        assert "kind_reason" in e.value.details["fields"]
        got = w.register_instruction(sheet(words="阅", kind="handle",
                                           kind_reason="秘书长交代需反馈"), "s")
        assert (got["kind"], got["classified_kind"], got["kind_reason"]) == \
            ("handle", "read", "秘书长交代需反馈")

    def test_late_petition_dispatch_is_recorded(self, worker: Any) -> None:
        w, _ = worker
        received = datetime.now(UTC) - timedelta(days=5)
        got = w.register_instruction(sheet(leader_level="petition", urgent=True,
                                           received_at=received.isoformat()), "s")
        assert got["dispatched_late"] is True and got["dispatch_due"]

    @pytest.mark.parametrize("field, value", [
        ("leader_level", "governor"), ("units", []), ("units", ["a", "a"]), ("words", ""),
        ("received_at", "2026-09-30T10:00:00"), ("kind", "maybe"),
        ("received_at", (datetime.now(UTC) + timedelta(days=1)).isoformat()),
        ("feedback_due", "2020-01-01T00:00:00+08:00"),
    ])
    def test_bad_input_names_the_field_and_writes_nothing(self, worker: Any, field: str,
                                                          value: Any) -> None:
        w, db = worker
        with pytest.raises(Invalid) as e:
            w.register_instruction(sheet(**{field: value}), "s")
        assert field in e.value.details["fields"]
        assert events(db) == []
        assert w.list_instructions({}, OFFICE)["items"] == []


class TestFeedbackToCompletion:
    def test_submit_return_resubmit_approve_complete(self, worker: Any) -> None:
        w, db = worker
        no = w.register_instruction(sheet(), "supervisor1")["id"]
        f1 = w.submit_instruction_feedback(no, dept("chengguan"), {"content": "已开展整治。"}, "u1")
        assert f1["state"] == "pending"
        with pytest.raises(Conflict):  # one pending feedback at a time
            w.submit_instruction_feedback(no, dept("chengguan"), {"content": "补充"}, "u1")
        with pytest.raises(Invalid) as e:  # sending back needs a reason
            w.decide_instruction_feedback(no, f1["id"], {"approve": False}, "s")
        assert "reason" in e.value.details["fields"]
        back = w.decide_instruction_feedback(no, f1["id"], {"approve": False,
                                                            "reason": "未写明整改时限"}, "s")
        assert back["state"] == "returned" and back["decision_reason"] == "未写明整改时限"
        with pytest.raises(Conflict):
            w.decide_instruction_feedback(no, f1["id"], {"approve": True}, "s")
        f2 = w.submit_instruction_feedback(no, dept("chengguan"), {"content": "限期10日整改。"}, "u1")
        w.decide_instruction_feedback(no, f2["id"], {"approve": True}, "s")
        assert w.get_instruction(no, OFFICE)["status"] == "open"  # 住建 has not fed back
        f3 = w.submit_instruction_feedback(no, dept("zhujian"), {"content": "已约谈物业。"}, "u2")
        w.decide_instruction_feedback(no, f3["id"], {"approve": True}, "s")

        got = w.get_instruction(no, OFFICE)
        assert got["status"] == "completed" and got["completed_at"]
        units = {u["department_code"]: u for u in got["units"]}
        assert units["chengguan"]["submissions"] == 2 and units["zhujian"]["submissions"] == 1
        assert [h["action"] for h in got["history"]] == [
            "register", "submit_feedback", "return_feedback", "submit_feedback",
            "approve_feedback", "submit_feedback", "approve_feedback", "complete"]
        assert got["history"][2]["reason"] == "未写明整改时限"
        assert [e["type"] for e in events(db)][-2:] == ["instruction.feedback_decided",
                                                        "instruction.completed"]
        with pytest.raises(Conflict):  # nothing more to feed back
            w.submit_instruction_feedback(no, dept("zhujian"), {"content": "再补充"}, "u2")

    def test_a_unit_not_on_the_instruction_gets_404(self, worker: Any) -> None:
        w, _ = worker
        no = w.register_instruction(sheet(), "s")["id"]
        with pytest.raises(NotFound):
            w.submit_instruction_feedback(no, dept("jiaotong"), {"content": "我们也办了"}, "x")
        with pytest.raises(NotFound):
            w.get_instruction(no, dept("jiaotong"))
        with pytest.raises(NotFound):
            w.submit_instruction_feedback(999, dept("chengguan"), {"content": "不存在"}, "x")

    def test_feedback_of_another_instruction_is_not_found(self, worker: Any) -> None:
        w, _ = worker
        a = w.register_instruction(sheet(), "s")["id"]
        b = w.register_instruction(sheet(), "s")["id"]
        fb = w.submit_instruction_feedback(a, dept("chengguan"), {"content": "已办理。"}, "u")
        with pytest.raises(NotFound):
            w.decide_instruction_feedback(b, fb["id"], {"approve": True}, "s")

    def test_read_item_completes_when_every_unit_has_read_it(self, worker: Any) -> None:
        w, db = worker
        no = w.register_instruction(sheet(words="阅"), "s")["id"]
        with pytest.raises(Conflict):
            w.submit_instruction_feedback(no, dept("chengguan"), {"content": "反馈"}, "u")
        w.acknowledge_instruction(no, dept("chengguan"), "u1")
        with pytest.raises(Conflict):
            w.acknowledge_instruction(no, dept("chengguan"), "u1")
        assert w.get_instruction(no, OFFICE)["status"] == "open"
        w.acknowledge_instruction(no, dept("zhujian"), "u2")
        assert w.get_instruction(no, OFFICE)["status"] == "completed"
        assert [e["type"] for e in events(db)] == [
            "instruction.registered", "instruction.read", "instruction.read",
            "instruction.completed"]

    def test_reclassify_before_units_act_moves_the_deadlines(self, worker: Any) -> None:
        w, db = worker
        no = w.register_instruction(sheet(words="阅"), "s")["id"]
        got = w.reclassify_instruction(no, {"kind": "handle", "reason": "领导补充要求反馈"}, "s")
        assert got["kind"] == "handle" and all(u["feedback_due"] for u in got["units"])
        assert got["history"][-1]["action"] == "reclassify"
        assert "领导补充要求反馈" in got["history"][-1]["reason"]
        w.submit_instruction_feedback(no, dept("chengguan"), {"content": "已办理。"}, "u")
        with pytest.raises(Conflict):
            w.reclassify_instruction(no, {"kind": "read", "reason": "改回阅件"}, "s")
        assert events(db)[1]["type"] == "instruction.reclassified"


class TestQueriesAndVisibility:
    def test_departments_see_their_own_and_systems_never_confidential(self, worker: Any) -> None:
        w, _ = worker
        secret = w.register_instruction(sheet(confidential=True, units=["chengguan"]), "s")["id"]
        open_ = w.register_instruction(sheet(units=["zhujian", "chengguan"]), "s")["id"]
        other = w.register_instruction(sheet(units=["jiaotong"]), "s")["id"]

        def ids(viewer: dict[str, Any], **f: Any) -> list[int]:
            return [i["id"] for i in w.list_instructions(f, viewer)["items"]]

        assert ids(OFFICE) == ids(LEADER) == [other, open_, secret]
        assert ids(dept("chengguan")) == [open_, secret]
        assert ids(dept("chengguan", "api_key")) == [open_]
        assert ids(dept("chengguan"), unit="jiaotong") == []
        assert ids({"role": "agent"}) == []
        assert w.get_instruction(secret, dept("chengguan"))["confidential"] is True
        for viewer in (dept("chengguan", "api_key"), dept("zhujian")):
            with pytest.raises(NotFound):
                w.get_instruction(secret, viewer)
        with pytest.raises(NotFound):
            w.submit_instruction_feedback(secret, dept("chengguan", "api_key"),
                                          {"content": "系统反馈"}, "apikey:x")

    def test_a_department_sees_its_own_feedback_only(self, worker: Any) -> None:
        w, _ = worker
        no = w.register_instruction(sheet(), "s")["id"]
        w.submit_instruction_feedback(no, dept("chengguan"), {"content": "城管反馈"}, "u1")
        w.submit_instruction_feedback(no, dept("zhujian"), {"content": "住建反馈"}, "u2")
        mine = w.get_instruction(no, dept("zhujian"))
        assert [f["content"] for f in mine["feedback"]] == ["住建反馈"]
        assert len(w.get_instruction(no, OFFICE)["feedback"]) == 2

    def test_filters_and_cursor(self, worker: Any) -> None:
        w, _ = worker
        made = [w.register_instruction(sheet(words="阅" if i % 2 else "请办理"), "s")["id"]
                for i in range(5)]
        page = w.list_instructions({"limit": 2}, OFFICE)
        assert [i["id"] for i in page["items"]] == made[:-3:-1] and page["next_cursor"] == made[3]
        rest = w.list_instructions({"limit": 10, "cursor": page["next_cursor"]}, OFFICE)
        assert [i["id"] for i in rest["items"]] == made[2::-1] and rest["next_cursor"] is None
        assert [i["id"] for i in w.list_instructions({"kind": "read"}, OFFICE)["items"]] == \
            [made[3], made[1]]
        assert w.list_instructions({"status": "completed"}, OFFICE)["items"] == []
        with pytest.raises(Invalid) as e:
            w.list_instructions({"status": "done"}, OFFICE)
        assert "status" in e.value.details["fields"]


class TestOverdueSweep:
    def test_overdue_share_is_urged_once_and_listed(self, worker: Any) -> None:
        w, db = worker
        received = datetime.now(UTC) - timedelta(days=40)  # 10 working days long gone
        no = w.register_instruction(sheet(received_at=received.isoformat()), "s")["id"]
        w.register_instruction(sheet(), "s")  # not yet due
        w.register_instruction(sheet(words="阅", received_at=received.isoformat()), "s")
        w.submit_instruction_feedback(no, dept("zhujian"), {"content": "已办理。"}, "u")

        overdue = w.list_instructions({"overdue": "true"}, OFFICE)["items"]
        assert [i["id"] for i in overdue] == [no]
        assert {u["department_code"]: u["overdue"] for u in overdue[0]["units"]} == \
            {"chengguan": True, "zhujian": False}
        assert w.list_instructions({"overdue": "true"}, dept("zhujian"))["items"] == []

        assert w.instruction_sweep()["urges"] == 1
        assert w.instruction_sweep()["urges"] == 0
        assert w.instruction_sweep((datetime.now(UTC) + timedelta(days=90)).isoformat())[
            "urges"] == 2  # the second instruction's two units, once its deadline passed
        got = w.get_instruction(no, OFFICE)
        assert [u["department_code"] for u in got["urges"]] == ["chengguan"]
        assert got["history"][-1]["action"] == "overdue"
        overdue_events = [e for e in events(db) if e["type"] == "instruction.overdue"]
        assert len(overdue_events) == 3
        assert overdue_events[0]["data"]["department_code"] == "chengguan"

    def test_returned_feedback_is_urged_again_only_if_never_urged(self, worker: Any) -> None:
        w, _ = worker
        received = datetime.now(UTC) - timedelta(days=40)
        no = w.register_instruction(sheet(received_at=received.isoformat(),
                                          units=["chengguan"]), "s")["id"]
        assert w.instruction_sweep()["urges"] == 1
        fb = w.submit_instruction_feedback(no, dept("chengguan"), {"content": "已办理。"}, "u")
        w.decide_instruction_feedback(no, fb["id"], {"approve": False, "reason": "不完整"}, "s")
        assert w.instruction_sweep()["urges"] == 0  # same share, same deadline: urged already

    def test_the_office_urges_by_hand_the_units_still_owing(self, worker: Any) -> None:
        w, db = worker
        no = w.register_instruction(sheet(), "s")["id"]
        w.submit_instruction_feedback(no, dept("zhujian"), {"content": "已办理。"}, "u")
        made = w.urge_instruction(no, {"channel": "notice", "note": "下达催办单"}, "supervisor1")
        assert [(u["department_code"], u["kind"], u["channel"]) for u in made["urges"]] == [
            ("chengguan", "manual", "notice")]
        w.urge_instruction(no, {"department_code": "chengguan"}, "supervisor1")
        with pytest.raises(Conflict):
            w.urge_instruction(no, {"department_code": "zhujian"}, "supervisor1")
        with pytest.raises(Invalid):
            w.urge_instruction(no, {"channel": "pigeon"}, "supervisor1")
        got = w.get_instruction(no, OFFICE)
        assert [h["action"] for h in got["history"]][-2:] == ["urge", "urge"]
        assert got["history"][-2]["reason"] == "下达催办单"
        assert [e["type"] for e in events(db)].count("instruction.urged") == 2
        read = w.register_instruction(sheet(words="阅"), "s")["id"]
        with pytest.raises(Conflict):  # a 阅件 owes no feedback
            w.urge_instruction(read, {}, "supervisor1")
        # the automatic urge at the deadline is still due once, beside the manual ones
        later = (datetime.now(UTC) + timedelta(days=60)).isoformat()
        assert w.instruction_sweep(later)["urges"] == 1

    def test_bad_now(self, worker: Any) -> None:
        w, _ = worker
        with pytest.raises(Invalid):
            w.instruction_sweep("yesterday")


class TestSummary:
    def test_per_unit_counts(self, worker: Any) -> None:
        w, _ = worker
        old = (datetime.now(UTC) - timedelta(days=40)).isoformat()
        a = w.register_instruction(sheet(), "s")["id"]  # both on time, 城管 at first submission
        f = w.submit_instruction_feedback(a, dept("chengguan"), {"content": "已办理。"}, "u")
        w.decide_instruction_feedback(a, f["id"], {"approve": True}, "s")
        f = w.submit_instruction_feedback(a, dept("zhujian"), {"content": "初稿"}, "u")
        w.decide_instruction_feedback(a, f["id"], {"approve": False, "reason": "补充"}, "s")
        f = w.submit_instruction_feedback(a, dept("zhujian"), {"content": "定稿"}, "u")
        w.decide_instruction_feedback(a, f["id"], {"approve": True}, "s")
        w.register_instruction(sheet(received_at=old, units=["chengguan"]), "s")  # overdue
        r = w.register_instruction(sheet(words="阅", units=["chengguan"]), "s")["id"]
        w.acknowledge_instruction(r, dept("chengguan"), "u")

        today = business_today().isoformat()
        rows = {r["group"]: r for r in
                w.instruction_summary({"from": today, "to": today})["rows"]}
        assert rows["chengguan"] == {"group": "chengguan", "count": 2, "on_time": 1,
                                     "overdue": 1, "approved_first": 1, "open": 0,
                                     "read_count": 1, "read_done": 1}
        assert rows["zhujian"]["count"] == 1 and rows["zhujian"]["on_time"] == 1
        assert rows["zhujian"]["approved_first"] == 0
        yesterday = (business_today() - timedelta(days=1)).isoformat()
        assert w.instruction_summary({"from": yesterday, "to": yesterday})["rows"] == []
        w.register_instruction(sheet(leader_level="provincial", units=["zhujian"]), "s")
        by_level = {r["group"]: r for r in w.instruction_summary(
            {"from": today, "to": today, "group_by": "leader_level"})["rows"]}
        assert set(by_level) == {"vice_mayor", "provincial"}
        assert (by_level["vice_mayor"]["count"], by_level["vice_mayor"]["on_time"],
                by_level["vice_mayor"]["overdue"], by_level["vice_mayor"]["read_count"]) == \
            (3, 2, 1, 1)
        assert (by_level["provincial"]["count"], by_level["provincial"]["open"]) == (1, 1)
        with pytest.raises(Invalid) as e:
            w.instruction_summary({"from": today, "to": today, "group_by": "leader"})
        assert "group_by" in e.value.details["fields"]
        with pytest.raises(Invalid) as e:
            w.instruction_summary({"from": today, "to": yesterday})
        assert "to" in e.value.details["fields"]


def test_concurrent_decisions_on_one_feedback_one_wins(database_urls: dict[str, str],
                                                       backend: str, monkeypatch: Any,
                                                       migrate: Any) -> None:
    """Two office users decide the same feedback at once: one wins, the other gets 409, and
    only one decision is recorded. PostgreSQL only: SQLite serializes writers."""
    if backend != "postgres":
        pytest.skip("SQLite serializes writers: no concurrent update to lose")
    from services.supervision import instructions
    from shared.database import Database
    from shared.migrations import metadata_of

    migrate("supervision")
    db = Database.standalone(metadata_of("supervision"), database_urls["supervision"],
                             "supervision")
    config = {"TIMEZONE": "Asia/Shanghai"}
    deps = {"calendar": lambda s: build_calendar(config, s), "policy": SlaPolicy(),
            "instruction_policy": DeadlinePolicy(), "settings": {}}
    w = Worker(SupervisionService, db, **deps)
    no = w.register_instruction(sheet(units=["chengguan"]), "s")["id"]
    fb = w.submit_instruction_feedback(no, dept("chengguan"), {"content": "已办理。"}, "u")

    real = instructions.unit_transition
    raced = {"done": False}

    def transition_with_a_rival(action: str, kind: str, status: str) -> str:
        if not raced["done"]:  # the rival approves and commits while we hold our stale copy
            raced["done"] = True
            Worker(SupervisionService, db, **deps).decide_instruction_feedback(
                no, fb["id"], {"approve": True}, "rival")
        return real(action, kind, status)

    monkeypatch.setattr(instructions, "unit_transition", transition_with_a_rival)
    with pytest.raises(Conflict):
        w.decide_instruction_feedback(no, fb["id"], {"approve": False, "reason": "退回"}, "me")
    got = Worker(SupervisionService, db, **deps).get_instruction(no, OFFICE)
    assert got["status"] == "completed" and got["feedback"][0]["decided_by"] == "rival"
    assert [e["type"] for e in outbox(db)].count("instruction.feedback_decided") == 1
    db.engine.dispose()
