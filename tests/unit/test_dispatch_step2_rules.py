"""Unit tests for dispatch's Step 2 rules (services.dispatch.domain): the reply gate with
assistants (协办意见), pass-down targets (下派), the 问题工单 threshold, the catalogue's revision
diff, and the review mode (预审) selection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.dispatch.dependencies import DispatchSettings
from services.dispatch.domain import (
    AssistStatus,
    ReviewPolicy,
    RoutingDecision,
    Rule,
    Unit,
    check_opinion,
    check_pass_down,
    check_reply_gate,
    check_rule_targets,
    pending_assists,
    problem_reason,
    revision_action,
    rule_diff,
)
from shared.errors import Conflict, Invalid

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def assist(id: int, state: str = "signed", due: datetime | None = None,
           dept: str | None = None) -> AssistStatus:
    return AssistStatus(assignment_id=id, department_code=dept or f"d{id}", state=state,
                        handle_due=due)


class TestReplyGate:
    def test_no_assistants_no_wait(self) -> None:
        check_reply_gate([], NOW)

    def test_an_opinion_releases_the_assistant(self) -> None:
        check_reply_gate([assist(1, "opinion_submitted")], NOW)

    @pytest.mark.parametrize("state", ["dispatched", "signed"])
    def test_an_assistant_without_opinion_before_its_deadline_blocks(self, state: str) -> None:
        with pytest.raises(Conflict) as exc:
            check_reply_gate([assist(7, state, NOW + timedelta(hours=1), "gongan")], NOW)
        details = exc.value.details
        assert details["action"] == "reply" and details["state"] == "assists_pending"
        assert details["pending"] == [{"assignment_id": 7, "department_code": "gongan",
                                       "handle_due": (NOW + timedelta(hours=1)).isoformat()}]
        assert "gongan" in exc.value.message

    def test_an_unknown_deadline_counts_as_pending(self) -> None:
        assert [a.assignment_id for a in pending_assists([assist(3)], NOW)] == [3]

    def test_the_deadline_passing_releases_the_assistant(self) -> None:
        check_reply_gate([assist(1, "signed", NOW)], NOW)  # due exactly now: time is up
        check_reply_gate([assist(1, "dispatched", NOW - timedelta(seconds=1))], NOW)

    @pytest.mark.parametrize("state", ["passed_down", "returned"])
    def test_ended_assignments_do_not_wait(self, state: str) -> None:
        check_reply_gate([assist(1, state)], NOW)

    def test_only_the_ones_still_awaited_are_named(self) -> None:
        waiting = pending_assists([assist(1, "opinion_submitted"), assist(2, "signed"),
                                   assist(3, "signed", NOW - timedelta(days=1)),
                                   assist(4, "dispatched", NOW + timedelta(days=1))], NOW)
        assert [a.assignment_id for a in waiting] == [2, 4]


class TestOpinion:
    def test_assistant_after_signing(self) -> None:
        assert check_opinion("signed", "assist") == "opinion_submitted"

    def test_lead_gives_no_opinion(self) -> None:
        with pytest.raises(Conflict) as exc:
            check_opinion("signed", "lead")
        assert exc.value.details["action"] == "opinion"

    @pytest.mark.parametrize("state", ["dispatched", "opinion_submitted", "passed_down",
                                       "returned"])
    def test_not_before_signing_nor_twice(self, state: str) -> None:
        with pytest.raises(Conflict) as exc:
            check_opinion(state, "assist")
        assert exc.value.details == {"action": "opinion", "state": state}


DISTRICT = Unit("jiangyang", "district", None)
STREET = Unit("jy_nancheng", "street", "jiangyang")
OTHER_STREET = Unit("nx_anfu", "street", "naxi")
COMMUNITY = Unit("jy_baizhaopai", "community", "jy_nancheng")
BUREAU = Unit("chengguan", "bureau", None)


def pass_down(passer: Unit = DISTRICT, target: Unit | None = STREET, state: str = "signed",
              role: str = "lead", return_pending: bool = False,
              round_departments: tuple[str, ...] = ("jiangyang",)) -> str:
    return check_pass_down(state, role, passer, target, return_pending, round_departments)


class TestPassDown:
    @pytest.mark.parametrize("state", ["dispatched", "signed"])
    def test_district_to_its_own_street(self, state: str) -> None:
        assert pass_down(state=state) == "passed_down"

    def test_street_to_its_own_community_as_assistant(self) -> None:
        assert pass_down(STREET, COMMUNITY, role="assist",
                         round_departments=("chengguan", "jy_nancheng")) == "passed_down"

    @pytest.mark.parametrize("target", [OTHER_STREET, BUREAU, COMMUNITY, DISTRICT, None,
                                        Unit("jy_beicheng", "street", "jiangyang", active=False)])
    def test_wrong_target_names_department_code(self, target: Unit | None) -> None:
        with pytest.raises(Invalid) as exc:
            pass_down(target=target)
        assert list(exc.value.details["fields"]) == ["department_code"]

    def test_a_bureau_does_not_pass_down(self) -> None:
        with pytest.raises(Invalid) as exc:
            pass_down(BUREAU, Unit("cg_team", "bureau", "chengguan"))
        assert "department_code" in exc.value.details["fields"]

    def test_not_to_a_unit_already_in_the_round(self) -> None:
        with pytest.raises(Invalid):
            pass_down(round_departments=("jiangyang", "jy_nancheng"))

    @pytest.mark.parametrize("state", ["replied", "opinion_submitted", "passed_down", "returned",
                                       "return_requested"])
    def test_wrong_state_is_a_conflict(self, state: str) -> None:
        with pytest.raises(Conflict) as exc:
            pass_down(state=state)
        assert exc.value.details["action"] == "pass_down"
        assert exc.value.details["state"] == state

    def test_not_while_a_return_is_pending(self) -> None:
        with pytest.raises(Conflict) as exc:
            pass_down(return_pending=True)
        assert exc.value.details == {"action": "pass_down", "state": "return_requested"}


class TestProblemThreshold:
    @pytest.mark.parametrize("transfers, reopens", [(0, 0), (2, 0), (1, 1), (0, 2)])
    def test_below_the_threshold(self, transfers: int, reopens: int) -> None:
        assert problem_reason(transfers, reopens, 3, False) is None

    @pytest.mark.parametrize("transfers, reopens", [(3, 0), (0, 3), (2, 1), (1, 2), (4, 1)])
    def test_transfers_and_reopens_count_together(self, transfers: int, reopens: int) -> None:
        reason = problem_reason(transfers, reopens, 3, False)
        assert reason and f"转办{transfers}次" in reason and f"重办{reopens}次" in reason

    def test_flagged_once(self) -> None:
        assert problem_reason(5, 0, 3, True) is None

    def test_threshold_is_configurable(self) -> None:
        assert problem_reason(1, 0, 1, False) is not None
        assert problem_reason(3, 0, 4, False) is None
        assert DispatchSettings.from_config({"PROBLEM_ORDER_THRESHOLD": 5}).problem_threshold == 5
        assert DispatchSettings.from_config({}).problem_threshold == 3
        with pytest.raises(ValueError):
            DispatchSettings.from_config({"PROBLEM_ORDER_THRESHOLD": -1})


RULE = {"category": None, "keywords": ["井盖"], "territory_code": None, "lead": "shuiwu",
        "assists": [], "priority": 0, "active": True, "note": None}


class TestRevisionDiff:
    def test_a_new_rule_lists_every_field(self) -> None:
        diff = rule_diff(None, RULE)
        assert set(diff) == set(RULE)
        assert diff["lead"] == {"before": None, "after": "shuiwu"}
        assert revision_action(None, RULE) == "create"

    def test_only_changed_fields(self) -> None:
        after = {**RULE, "keywords": ["井盖", "窨井"], "assists": ["@street"]}
        assert rule_diff(RULE, after) == {
            "keywords": {"before": ["井盖"], "after": ["井盖", "窨井"]},
            "assists": {"before": [], "after": ["@street"]}}
        assert revision_action(RULE, after) == "update"

    def test_no_change_is_no_diff(self) -> None:
        assert rule_diff(RULE, dict(RULE)) == {}

    def test_deactivate_and_activate(self) -> None:
        off = {**RULE, "active": False}
        assert rule_diff(RULE, off) == {"active": {"before": True, "after": False}}
        assert revision_action(RULE, off) == "deactivate"
        assert revision_action(off, RULE) == "activate"


class TestRuleTargets:
    DEPARTMENTS = {"shuiwu", "chengguan", "jiangyang"}
    TERRITORIES = {"510502", "510502001"}
    CATEGORIES = {"complaint", "help"}

    def check(self, **rule: object) -> None:
        check_rule_targets({**RULE, **rule}, self.DEPARTMENTS, self.TERRITORIES, self.CATEGORIES)

    def test_known_targets_and_territorial_leads_pass(self) -> None:
        self.check(category="complaint", territory_code="510502", lead="@district",
                   assists=["@street", "chengguan"])
        self.check(lead="@street")

    @pytest.mark.parametrize("field, rule", [
        ("category", {"category": "weather"}),
        ("territory_code", {"territory_code": "999"}),
        ("lead", {"lead": "nosuch"}),
        ("lead", {"lead": "@province"}),
        ("assists", {"assists": ["chengguan", "ghost"]}),
        ("assists", {"assists": ["shuiwu"]}),  # the lead cannot also assist
    ])
    def test_unknown_names_the_field(self, field: str, rule: dict[str, object]) -> None:
        with pytest.raises(Invalid) as exc:
            self.check(**rule)
        assert list(exc.value.details["fields"]) == [field]

    def test_every_bad_field_at_once(self) -> None:
        with pytest.raises(Invalid) as exc:
            self.check(category="x", territory_code="y", lead="z")
        assert set(exc.value.details["fields"]) == {"category", "territory_code", "lead"}


def decision(rule_id: int = 1) -> RoutingDecision:
    return RoutingDecision(lead="chengguan", assists=[], rule_id=rule_id)


KEYWORD_RULE = Rule(id=1, category=None, keywords=("占道经营",), territory_code=None,
                    lead="chengguan")
CATCH_ALL = Rule(id=2, category="complaint", keywords=(), territory_code=None, lead="@district",
                 priority=-10)


class TestReviewMode:
    def test_default_is_todays_behaviour(self) -> None:
        policy = ReviewPolicy()
        assert not policy.needs_review("complaint", decision(), KEYWORD_RULE)
        assert not policy.needs_review("complaint", decision(2), CATCH_ALL)
        assert policy.needs_review("complaint", None, None)

    def test_all_holds_every_order(self) -> None:
        policy = ReviewPolicy.from_config("all")
        assert policy.needs_review("complaint", decision(), KEYWORD_RULE)
        assert policy.needs_review("help", None, None)

    def test_fallback_holds_catch_all_matches_only(self) -> None:
        policy = ReviewPolicy.from_config({"default": "fallback"})
        assert not policy.needs_review("complaint", decision(), KEYWORD_RULE)
        assert policy.needs_review("complaint", decision(2), CATCH_ALL)

    def test_per_category(self) -> None:
        policy = ReviewPolicy.from_config({"default": "unmatched",
                                           "by_category": {"report": "all"}})
        assert policy.needs_review("report", decision(), KEYWORD_RULE)
        assert not policy.needs_review("complaint", decision(), KEYWORD_RULE)
        assert policy.mode_for("report") == "all" and policy.mode_for("help") == "unmatched"

    @pytest.mark.parametrize("value", [None, "", {"default": None, "by_category": None}])
    def test_unset_means_unmatched(self, value: object) -> None:
        assert ReviewPolicy.from_config(value) == ReviewPolicy()

    @pytest.mark.parametrize("value", ["sometimes", {"default": "all", "by_category": {"x": "no"}},
                                       42])
    def test_bad_configuration_is_refused_at_start(self, value: object) -> None:
        with pytest.raises(ValueError):
            ReviewPolicy.from_config(value)


class TestPermissions:
    """Who may use dispatch's Step 2 routes (services.gateway.domain.PERMISSIONS)."""

    @pytest.mark.parametrize("action, allowed", [
        ("dispatch.queue", {"dispatcher", "admin"}),
        ("ticket.dispatch", {"dispatcher", "admin"}),
        ("catalogue.write", {"admin"}),
        ("catalogue.read", {"admin", "auditor"}),
        ("assignment.act", {"department"}),
        ("assignment.read", {"department", "dispatcher", "supervisor", "admin"}),
    ])
    def test_roles(self, action: str, allowed: set[str]) -> None:
        from services.gateway.domain import PERMISSIONS, Principal, authorize
        from shared.errors import Forbidden

        for role in ("agent", "dispatcher", "department", "supervisor", "leader", "admin",
                     "auditor"):
            who = Principal(name="u", role=role, department_code="x")
            if role in allowed:
                authorize(who, action)
            else:
                with pytest.raises(Forbidden):
                    authorize(who, action)
        assert PERMISSIONS[action] == frozenset(allowed)
