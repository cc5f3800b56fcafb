"""Dispatch's Step 2 entrypoints with a real migrated SQLite database and no broker
(worker_factory): the versioned catalogue, 预审, 协办 opinions and the reply gate, 下派,
问题工单. Events are checked in the outbox, and each against its catalogue schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hotline import demo
from services.dispatch.dependencies import DispatchSettings
from services.dispatch.domain import ReviewPolicy
from services.dispatch.reference import ReferenceCache
from services.dispatch.service import DispatchService, OutOfOrder
from shared.errors import Conflict, Invalid, NotFound
from shared.events import Event, load_envelope, make_envelope
from tests.service.conftest import Worker, outbox

NOW = datetime.now(UTC)


def event(event_type: str, no: str, **data: Any) -> Event:
    return load_envelope(make_envelope(event_type, data, producer="test", ticket_no=no,
                                       sequence=1))


def registered(no: str, **data: Any) -> Event:
    return event("ticket.registered", no, **{
        "ticket_no": no, "registered_at": NOW, "channel": "phone", "category": "complaint",
        "urgency": "normal", "title": "t", "content": "楼下有人占道经营",
        "territory_code": "510502001001", "confidential": False, **data})


def clocks_started(no: str, a: dict[str, Any], handle_due: datetime) -> Event:
    return event("assignment.clocks_started", no, assignment_id=a["id"], ticket_no=no,
                 department_code=a["department_code"], role=a["role"], started_at=NOW,
                 sign_due=NOW + timedelta(hours=2), handle_due=handle_due, policy="test")


def return_event(kind: str, no: str, a: dict[str, Any], return_id: int) -> Event:
    data: dict[str, Any] = {"return_id": return_id, "assignment_id": a["id"], "ticket_no": no,
                            "department_code": a["department_code"], "at": NOW, "actor": "x"}
    if kind == "requested":
        data.update(reason_code="function", basis="不归我们")
    else:
        data.update(approved=True)
    return event(f"assignment.return_{kind}", no, **data)


def of(db: Any, event_type: str) -> list[dict[str, Any]]:
    found = [e for e in outbox(db) if e["type"] == event_type]
    for e in found:  # every recorded event loads with its catalogue schema
        load_envelope(e)
    return found


@pytest.fixture
def city(store: Any) -> Any:
    """``city(review=...)`` → (worker, db): dispatch with the demo city and a real
    ReferenceCache (the one that reloads when the reference version moves)."""
    db = store("dispatch")
    cache = ReferenceCache()
    cache.setup()

    def make(review: Any = None, threshold: int = 3) -> Any:
        worker = Worker(DispatchService, db, consumer="dispatch.test",
                        reference=cache.get_dependency(None),
                        settings=DispatchSettings(review=ReviewPolicy.from_config(review),
                                                  problem_threshold=threshold))
        return worker, db

    worker, _ = make()
    worker.load_reference({"territories": demo.TERRITORIES, "departments": demo.DEPARTMENTS,
                           "rules": demo.RULES})
    return make


def dispatched(w: Any, no: str, **data: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    w.on_ticket_registered(registered(no, **data))
    rows = w.assignments_of(no)
    return next(a for a in rows if a["role"] == "lead"), [a for a in rows if a["role"] == "assist"]


class TestCatalogue:
    def test_demo_load_is_one_version_with_a_revision_per_rule(self, city: Any) -> None:
        w, _ = city()
        listed = w.list_rules({})
        assert listed["catalogue_version"] == 1 and len(listed["items"]) == len(demo.RULES)
        log = w.catalogue_changes({})
        assert len(log["items"]) == len(demo.RULES)
        assert {(r["catalogue_version"], r["action"], r["actor"]) for r in log["items"]} == {
            (1, "create", "system")}

    def test_create_update_deactivate_each_a_revision_and_a_version(self, city: Any) -> None:
        w, _ = city()
        made = w.create_rule({"keywords": ["井盖"], "lead": "shuiwu", "comment": "新增"}, "admin")
        assert made["catalogue_version"] == 2 and made["active"]
        changed = w.update_rule(made["id"], {"assists": ["@street"], "comment": "街道配合"},
                                "admin")
        assert changed["catalogue_version"] == 3 and changed["assists"] == ["@street"]
        same = w.update_rule(made["id"], {"assists": ["@street"]}, "admin")
        assert same["catalogue_version"] == 3  # nothing changed: no revision, no new version
        off = w.deactivate_rule(made["id"], {"comment": "停用"}, "admin2")
        assert off["catalogue_version"] == 4 and not off["active"]
        with pytest.raises(Conflict) as exc:
            w.deactivate_rule(made["id"], {}, "admin2")
        assert exc.value.details == {"action": "deactivate", "state": "inactive"}

        history = w.rule_history(made["id"])["items"]
        assert [(h["action"], h["catalogue_version"], h["actor"]) for h in history] == [
            ("create", 2, "admin"), ("update", 3, "admin"), ("deactivate", 4, "admin2")]
        assert history[0]["before"] is None and history[0]["after"]["lead"] == "shuiwu"
        assert history[1]["changes"] == {"assists": {"before": [], "after": ["@street"]}}
        assert history[1]["note"] == "街道配合"
        assert history[2]["before"]["active"] and not history[2]["after"]["active"]
        page = w.catalogue_changes({"cursor": history[0]["id"], "limit": 1})
        assert [r["id"] for r in page["items"]] == [history[1]["id"]] and page["next_cursor"]
        assert w.list_rules({"active": False})["items"][0]["id"] == made["id"]

    @pytest.mark.parametrize("body, field", [
        ({"lead": "nosuch"}, "lead"),
        ({"lead": "shuiwu", "assists": ["ghost"]}, "assists"),
        ({"lead": "shuiwu", "territory_code": "000"}, "territory_code"),
        ({"lead": "shuiwu", "category": "weather"}, "category"),
        ({"keywords": ["x"]}, "lead"),
    ])
    def test_unknown_targets_are_422_naming_the_field(self, city: Any, body: dict[str, Any],
                                                      field: str) -> None:
        w, _ = city()
        with pytest.raises(Invalid) as exc:
            w.create_rule(body, "admin")
        assert field in exc.value.details["fields"]
        assert w.list_rules({})["catalogue_version"] == 1  # nothing written

    def test_update_is_validated_and_unknown_rule_is_404(self, city: Any) -> None:
        w, _ = city()
        rule_id = w.list_rules({})["items"][0]["id"]
        with pytest.raises(Invalid) as exc:
            w.update_rule(rule_id, {"lead": "nosuch"}, "admin")
        assert "lead" in exc.value.details["fields"]
        with pytest.raises(NotFound):
            w.update_rule(99999, {"priority": 1}, "admin")
        with pytest.raises(NotFound):
            w.rule_history(99999)

    def test_territorial_lead_is_accepted_and_routes(self, city: Any) -> None:
        w, _ = city()
        made = w.create_rule({"keywords": ["路灯"], "lead": "@street", "assists": ["@district"]},
                             "admin")
        lead, assists = dispatched(w, "20261201000001", content="街边路灯坏了好几天")
        assert (lead["department_code"], lead["rule_id"], lead["catalogue_version"]) == (
            "jy_nancheng", made["id"], made["catalogue_version"])
        assert [a["department_code"] for a in assists] == ["jiangyang"]

    def test_the_cache_follows_every_change(self, city: Any) -> None:
        w, _ = city()
        first, _ = dispatched(w, "20261201000002", content="路边井盖缺失")
        assert first["department_code"] == "jiangyang"  # 投诉按属地派单 (fallback rule)
        made = w.create_rule({"keywords": ["井盖"], "lead": "shuiwu"}, "admin")
        second, _ = dispatched(w, "20261201000003", content="路边井盖缺失")
        assert (second["department_code"], second["rule_id"], second["catalogue_version"]) == (
            "shuiwu", made["id"], 2)
        w.deactivate_rule(made["id"], {}, "admin")
        third, _ = dispatched(w, "20261201000004", content="路边井盖缺失")
        assert third["department_code"] == "jiangyang" and third["catalogue_version"] == 3
        assert first["catalogue_version"] == 1  # each assignment keeps the version it used


class TestReview:
    def test_all_mode_holds_with_the_suggestion_and_accepting_dispatches(self, city: Any) -> None:
        w, db = city(review="all")
        w.on_ticket_registered(registered("20261201000010"))
        assert w.assignments_of("20261201000010") == []
        assert of(db, "ticket.pending_dispatch")[-1]["ticket_no"] == "20261201000010"
        item = w.queue({})["items"][0]
        assert item["ticket_no"] == "20261201000010" and item["waiting_reason"] == "review"
        s = item["suggestion"]
        assert (s["lead"], s["assists"], s["catalogue_version"]) == ("chengguan",
                                                                     ["jy_nancheng"], 1)
        assert s["rule_id"] and s["reasons"][0].startswith("派单目录规则")
        made = w.dispatch("20261201000010", {"accept_suggestion": True}, "dispatcher1")
        assert [(a["department_code"], a["role"], a["rule_id"], a["catalogue_version"])
                for a in made] == [("chengguan", "lead", s["rule_id"], 1),
                                   ("jy_nancheng", "assist", s["rule_id"], 1)]
        assert w.queue({})["items"] == []
        history = w.dispatch_history("20261201000010")
        assert [(h["decision"], h["decided_by"]) for h in history] == [("accepted", "dispatcher1")]
        assert of(db, "ticket.dispatched")[-1]["data"]["rule_id"] == s["rule_id"]

    def test_override_needs_a_reason_and_is_recorded(self, city: Any) -> None:
        w, _ = city(review="all")
        w.on_ticket_registered(registered("20261201000011"))
        with pytest.raises(Invalid) as exc:
            w.dispatch("20261201000011", {"lead": "zhujian"}, "dispatcher1")
        assert list(exc.value.details["fields"]) == ["reason"]
        with pytest.raises(Invalid) as exc:
            w.dispatch("20261201000011", {"accept_suggestion": True, "lead": "zhujian"}, "d")
        assert "accept_suggestion" in exc.value.details["fields"]
        made = w.dispatch("20261201000011", {"lead": "zhujian", "assists": ["jiangyang"],
                                             "reason": "涉及小区物业"}, "dispatcher1")
        assert [(a["department_code"], a["rule_id"]) for a in made] == [
            ("zhujian", None), ("jiangyang", None)]
        (h,) = w.dispatch_history("20261201000011")
        assert (h["decision"], h["reason"], h["suggested_lead"], h["lead"]) == (
            "overridden", "涉及小区物业", "chengguan", "zhujian")

    def test_unmatched_order_has_nothing_to_accept(self, city: Any) -> None:
        w, _ = city()
        w.on_ticket_registered(registered("20261201000012", category="consultation",
                                          content="图书馆几点开门", territory_code=None))
        item = w.queue({})["items"][0]
        assert item["suggestion"] is None and item["waiting_reason"] == "unmatched"
        with pytest.raises(Conflict) as exc:
            w.dispatch("20261201000012", {"accept_suggestion": True}, "dispatcher1")
        assert exc.value.details == {"action": "accept_suggestion", "state": "unmatched"}
        made = w.dispatch("20261201000012", {"lead": "jiaoyu"}, "dispatcher1")  # no reason needed
        assert made[0]["department_code"] == "jiaoyu"
        assert w.dispatch_history("20261201000012")[0]["decision"] == "manual"

    def test_default_mode_dispatches_matched_orders_at_once(self, city: Any) -> None:
        w, _ = city()
        lead, _ = dispatched(w, "20261201000013")
        assert lead["department_code"] == "chengguan" and w.queue({})["items"] == []
        assert w.dispatch_history("20261201000013")[0]["decision"] == "auto"

    def test_fallback_mode_per_category(self, city: Any) -> None:
        w, _ = city(review={"default": "unmatched", "by_category": {"complaint": "fallback"}})
        w.on_ticket_registered(registered("20261201000014", content="路边井盖缺失"))  # catch-all
        w.on_ticket_registered(registered("20261201000015"))  # keyword rule
        w.on_ticket_registered(registered("20261201000016", category="help",
                                          content="老人走失"))  # help: unmatched mode
        assert [i["ticket_no"] for i in w.queue({})["items"]] == ["20261201000014"]
        assert w.assignments_of("20261201000015") and w.assignments_of("20261201000016")

    def test_queue_is_cursor_paged(self, city: Any) -> None:
        w, _ = city(review="all")
        for i in range(3):
            w.on_ticket_registered(registered(f"2026120100002{i}"))
        page = w.queue({"limit": 2})
        assert [i["ticket_no"] for i in page["items"]] == ["20261201000020", "20261201000021"]
        rest = w.queue({"limit": 2, "cursor": page["next_cursor"]})
        assert [i["ticket_no"] for i in rest["items"]] == ["20261201000022"]
        assert rest["next_cursor"] is None


class TestOpinionsAndReplyGate:
    def test_opinion_is_scoped_emitted_and_shown_to_the_lead(self, city: Any) -> None:
        w, db = city()
        no = "20261201000030"
        lead, (assist,) = dispatched(w, no)
        with pytest.raises(NotFound):
            w.submit_opinion(assist["id"], "chengguan", {"opinion": "x"}, "u")
        with pytest.raises(Conflict):  # not signed yet
            w.submit_opinion(assist["id"], "jy_nancheng", {"opinion": "x"}, "u")
        w.sign(assist["id"], "jy_nancheng", "street1")
        with pytest.raises(Invalid):
            w.submit_opinion(assist["id"], "jy_nancheng", {"opinion": ""}, "street1")
        w.sign(lead["id"], "chengguan", "cg1")
        with pytest.raises(Conflict):  # the lead gives no opinion
            w.submit_opinion(lead["id"], "chengguan", {"opinion": "x"}, "cg1")
        done = w.submit_opinion(assist["id"], "jy_nancheng", {"opinion": "街道已配合"}, "street1")
        assert done["state"] == "opinion_submitted" and done["opinion"] == "街道已配合"
        (e,) = of(db, "assignment.opinion_submitted")
        assert e["data"]["assignment_id"] == assist["id"] and e["data"]["actor"] == "street1"
        assert e["data"]["opinion"] == "街道已配合" and e["ticket_no"] == no
        seen = w.get_assignment(lead["id"], "chengguan")["assists"]
        assert [(v["department_code"], v["state"], v["opinion"]) for v in seen] == [
            ("jy_nancheng", "opinion_submitted", "街道已配合")]
        item = next(i for i in w.inbox("chengguan", {})["items"] if i["ticket_no"] == no)
        assert item["assists"][0]["opinion"] == "街道已配合"
        with pytest.raises(NotFound):  # department-scoped
            w.get_assignment(lead["id"], "jy_nancheng")
        assert w.get_assignment(assist["id"], "jy_nancheng")["assists"] == []
        with pytest.raises(Conflict):
            w.submit_opinion(assist["id"], "jy_nancheng", {"opinion": "again"}, "street1")

    def test_reply_waits_until_the_assistants_deadline_passes(self, city: Any) -> None:
        w, db = city()
        no = "20261201000031"
        lead, (assist,) = dispatched(w, no)
        w.sign(lead["id"], "chengguan", "cg1")
        with pytest.raises(Conflict) as exc:  # deadline not known yet: pending
            w.reply(lead["id"], "chengguan", {"reply": "已处理"}, "cg1")
        assert exc.value.details["state"] == "assists_pending"
        assert exc.value.details["pending"][0]["handle_due"] is None
        w.on_deadline(clocks_started(no, assist, NOW + timedelta(days=3)))
        with pytest.raises(Conflict) as exc:
            w.reply(lead["id"], "chengguan", {"reply": "已处理"}, "cg1")
        assert exc.value.details["pending"][0]["department_code"] == "jy_nancheng"
        moved_back = event("assignment.extension_decided", no, extension_id=1,
                           assignment_id=assist["id"], ticket_no=no, department_code="jy_nancheng",
                           approved=True, old_due=NOW + timedelta(days=3),
                           new_due=NOW - timedelta(minutes=1), at=NOW, actor="sup")
        w.on_deadline(moved_back)  # (an extension is later in life; here it ends the wait)
        late_clock = clocks_started(no, assist, NOW + timedelta(days=9))
        w.on_deadline(late_clock)  # a redelivered clock does not undo the extension
        assert w.reply(lead["id"], "chengguan", {"reply": "已处理"}, "cg1")["state"] == "replied"
        assert len(of(db, "assignment.replied")) == 1

    def test_an_assistants_deadline_in_the_past_lets_the_lead_reply(self, city: Any) -> None:
        w, _ = city()
        no = "20261201000032"
        lead, (assist,) = dispatched(w, no)
        w.on_deadline(clocks_started(no, assist, NOW - timedelta(seconds=1)))
        w.sign(lead["id"], "chengguan", "cg1")
        assert w.reply(lead["id"], "chengguan", {"reply": "已处理"}, "cg1")["state"] == "replied"

    def test_a_deadline_before_its_assignment_is_retried(self, city: Any) -> None:
        w, _ = city()
        with pytest.raises(OutOfOrder):
            w.on_deadline(clocks_started("20261201000033", {"id": 9999, "department_code": "x",
                                                            "role": "assist"}, NOW))


class TestPassDown:
    def test_district_passes_to_its_street_which_signs(self, city: Any) -> None:
        w, db = city()
        no = "20261201000040"
        lead, _ = dispatched(w, no, content="路边井盖缺失")  # 属地: 江阳区 leads
        assert lead["department_code"] == "jiangyang"
        w.on_deadline(clocks_started(no, lead, NOW + timedelta(days=15)))
        with pytest.raises(NotFound):
            w.pass_down(lead["id"], "naxi", {"department_code": "nx_anfu"}, "x")
        with pytest.raises(Invalid) as exc:
            w.pass_down(lead["id"], "jiangyang", {"department_code": "nx_anfu"}, "x")
        assert list(exc.value.details["fields"]) == ["department_code"]
        child = w.pass_down(lead["id"], "jiangyang",
                            {"department_code": "jy_nancheng", "note": "属南城街道辖区"}, "jy1")
        assert (child["department_code"], child["role"], child["round"], child["state"]) == (
            "jy_nancheng", "lead", lead["round"], "dispatched")
        assert child["passed_from_id"] == lead["id"] and child["pass_down_note"] == "属南城街道辖区"
        old = w.get_assignment(lead["id"])
        assert old["state"] == "passed_down" and old["passed_to_id"] == child["id"]
        (e,) = of(db, "assignment.passed_down")
        assert e["data"] == {**e["data"], "assignment_id": lead["id"],
                             "new_assignment_id": child["id"], "from_department": "jiangyang",
                             "to_department": "jy_nancheng", "role": "lead", "actor": "jy1",
                             "note": "属南城街道辖区"}
        with pytest.raises(Conflict) as conflict:
            w.pass_down(lead["id"], "jiangyang", {"department_code": "jy_beicheng"}, "jy1")
        assert conflict.value.details["state"] == "passed_down"
        inbox = w.inbox("jy_nancheng", {"state": "dispatched"})["items"]
        assert [i["id"] for i in inbox if i["ticket_no"] == no] == [child["id"]]
        assert w.sign(child["id"], "jy_nancheng", "street1")["state"] == "signed"
        history = w.assignments_of(no)
        assert [(a["department_code"], a["state"]) for a in history] == [
            ("jiangyang", "passed_down"), ("jy_nancheng", "signed")]
        # the child inherits the deadline dispatch knew of (its clocks move in supervision)
        assert w.reply(child["id"], "jy_nancheng", {"reply": "已修复"}, "street1")["state"] == \
            "replied"

    def test_a_deadline_learnt_after_the_pass_down_reaches_the_unit(self, city: Any) -> None:
        w, _ = city()
        no = "20261201000042"
        lead, (assist,) = dispatched(w, no)  # 城管 leads, 南城街道 assists
        w.sign(assist["id"], "jy_nancheng", "street1")
        child = w.pass_down(assist["id"], "jy_nancheng", {"department_code": "jy_baizhaopai"},
                            "street1")
        assert child["role"] == "assist"
        w.on_deadline(clocks_started(no, assist, NOW - timedelta(minutes=1)))  # late, and past
        view = w.get_assignment(lead["id"])["assists"]
        assert [(v["department_code"], v["state"], v["handle_due"] is not None) for v in view] == [
            ("jy_nancheng", "passed_down", True), ("jy_baizhaopai", "dispatched", True)]
        w.sign(lead["id"], "chengguan", "cg1")
        assert w.reply(lead["id"], "chengguan", {"reply": "已处理"}, "cg1")["state"] == "replied"

    def test_not_after_reply_nor_while_a_return_is_pending(self, city: Any) -> None:
        w, _ = city()
        no = "20261201000041"
        lead, _ = dispatched(w, no, content="路边井盖缺失")
        w.on_return(return_event("requested", no, lead, 1))
        with pytest.raises(Conflict) as exc:
            w.pass_down(lead["id"], "jiangyang", {"department_code": "jy_nancheng"}, "x")
        assert exc.value.details == {"action": "pass_down", "state": "return_requested"}


class TestProblemOrders:
    def cycle(self, w: Any, no: str, n: int, target: str) -> None:
        lead = next(a for a in w.assignments_of(no) if a["role"] == "lead" and a["round"] == n)
        w.on_return(return_event("requested", no, lead, n))
        w.on_return(return_event("decided", no, lead, n))
        w.dispatch(no, {"lead": target}, "dispatcher1")

    def test_three_transfers_flag_once_even_under_redelivery(self, city: Any) -> None:
        w, db = city()
        no = "20261201000050"
        dispatched(w, no)
        assert w.queue({})["items"] == []
        self.cycle(w, no, 1, "jiangyang")
        lead2 = w.assignments_of(no)[-1]
        assert lead2["round"] == 2
        self.cycle(w, no, 2, "jy_nancheng")
        assert of(db, "ticket.problem_flagged") == []
        lead3 = w.assignments_of(no)[-1]
        req = return_event("requested", no, lead3, 3)
        decided = return_event("decided", no, lead3, 3)
        w.on_return(req)
        w.on_return(decided)
        w.on_return(decided)  # redelivered: no second effect
        queued = w.queue({})["items"]
        assert [(i["ticket_no"], i["waiting_reason"], i["round"]) for i in queued] == [
            (no, "returned", 4)]
        w.dispatch(no, {"lead": "zhujian"}, "dispatcher1")
        (flag,) = of(db, "ticket.problem_flagged")
        assert (flag["data"]["transfers"], flag["data"]["reopens"]) == (3, 0)
        self.cycle(w, no, 4, "chengguan")
        assert len(of(db, "ticket.problem_flagged")) == 1  # exactly once per order
        rounds = [(a["round"], a["department_code"], a["state"]) for a in w.assignments_of(no)
                  if a["role"] == "lead"]
        assert rounds == [(1, "chengguan", "returned"), (2, "jiangyang", "returned"),
                          (3, "jy_nancheng", "returned"), (4, "zhujian", "returned"),
                          (5, "chengguan", "dispatched")]

    def test_reopens_and_transfers_count_together(self, city: Any) -> None:
        w, db = city(threshold=2)
        no = "20261201000051"
        dispatched(w, no)
        self.cycle(w, no, 1, "jiangyang")
        reopened = event("ticket.reopened", no, ticket_no=no, at=NOW, actor="sup",
                         reason="回访不满意")
        w.on_ticket_reopened(reopened)
        w.on_ticket_reopened(reopened)  # redelivered
        (flag,) = of(db, "ticket.problem_flagged")
        assert (flag["data"]["transfers"], flag["data"]["reopens"]) == (1, 1)
        assert [h["decision"] for h in w.dispatch_history(no)] == ["auto", "manual", "reopened"]


class TestCatalogueOnBothBackends:
    def test_versions_move_once_per_change(self, database_urls: dict[str, str],
                                           backend: str, migrate: Any) -> None:
        from shared.database import Database
        from shared.migrations import metadata_of

        migrate("dispatch")
        db = Database.standalone(metadata_of("dispatch"), database_urls["dispatch"], "dispatch")
        try:
            cache = ReferenceCache()
            cache.setup()
            w = Worker(DispatchService, db, reference=cache.get_dependency(None),
                       settings=DispatchSettings())
            w.load_reference({"territories": demo.TERRITORIES,
                              "departments": demo.DEPARTMENTS, "rules": demo.RULES})
            made = w.create_rule({"keywords": ["井盖"], "lead": "shuiwu"}, "admin")
            w.update_rule(made["id"], {"priority": 3}, "admin")
            w.deactivate_rule(made["id"], {}, "admin")
            versions = [r["catalogue_version"] for r in w.catalogue_changes({})["items"]]
            assert versions == [1] * len(demo.RULES) + [2, 3, 4]
            assert w.list_rules({})["catalogue_version"] == 4
        finally:
            db.engine.dispose()


class TestReturnOrdering:
    def test_a_rejection_that_overtakes_its_request_waits_for_it(self, city: Any) -> None:
        """Two workers of dispatch's return queue may commit a decision before its request;
        applied in that order the request would hold the assignment in 退单待审 for good."""
        w, _ = city()
        no = "20261201000060"
        lead, _ = dispatched(w, no, content="路边井盖缺失")
        w.sign(lead["id"], lead["department_code"], "x")
        rejected = event("assignment.return_decided", no, return_id=1, assignment_id=lead["id"],
                         ticket_no=no, department_code=lead["department_code"], approved=False,
                         at=NOW, actor="d1", note=None)
        with pytest.raises(OutOfOrder):
            w.on_return(rejected)
        assert w.get_assignment(lead["id"])["state"] == "signed"
        w.on_return(return_event("requested", no, lead, 1))
        assert w.get_assignment(lead["id"])["state"] == "return_requested"
        w.on_return(rejected)  # the retry, after the request
        assert w.get_assignment(lead["id"])["state"] == "signed"

    def test_a_reply_that_crossed_an_approval_takes_the_order_out_of_the_queue(
            self, city: Any) -> None:
        w, _ = city()
        no = "20261201000061"
        lead, _ = dispatched(w, no, content="路边井盖缺失")
        w.sign(lead["id"], lead["department_code"], "x")
        w.reply(lead["id"], lead["department_code"], {"reply": "已处理"}, "x")
        withdrawn = event("assignment.return_withdrawn", no, return_id=1,
                          assignment_id=lead["id"], ticket_no=no,
                          department_code=lead["department_code"], at=NOW,
                          reason="审定前承办单位已答复", superseded="approved")
        with pytest.raises(OutOfOrder):  # the approval it supersedes has not arrived here yet
            w.on_return(withdrawn)
        w.on_return(return_event("requested", no, lead, 1))  # ignored: already replied
        w.on_return(return_event("decided", no, lead, 1))  # approved: back to the queue
        assert [i["ticket_no"] for i in w.queue({})["items"]] == [no]
        w.on_return(withdrawn)
        assert w.queue({})["items"] == []
        assert w.get_assignment(lead["id"])["state"] == "replied"
        with pytest.raises(Conflict):  # no longer waiting for a dispatcher
            w.dispatch(no, {"lead": "shuiwu"}, "dispatcher1")
