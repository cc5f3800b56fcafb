"""Unit tests for services.dispatch.domain: routing (派单目录 matching) and the assignment
state machine (签收 / 答复)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.dispatch.domain import (
    OrderFacts,
    Rule,
    check_dispatch,
    next_state,
    route,
    territory_chain,
)
from shared.errors import Conflict, Invalid

FAST = settings(database=None, deadline=None, derandomize=True, max_examples=100)

# 杭州 → 西湖区 → 北山街道 → 某社区; 上城区 is a sibling district.
CITY, DISTRICT, STREET, COMMUNITY = "3301", "330106", "330106001", "330106001001"
OTHER_DISTRICT = "330102"
PARENTS: dict[str, str | None] = {
    CITY: None, DISTRICT: CITY, STREET: DISTRICT, COMMUNITY: STREET, OTHER_DISTRICT: CITY,
}
LEVELS = {CITY: "city", DISTRICT: "district", STREET: "street", COMMUNITY: "community",
          OTHER_DISTRICT: "district"}
GOVERNMENT = {CITY: "HZ-GOV", DISTRICT: "XH-GOV", STREET: "BS-JD", OTHER_DISTRICT: "SC-GOV"}


def order(content: str = "楼下工地夜间施工噪音扰民", category: str = "complaint",
          territory: str | None = COMMUNITY, title: str = "") -> OrderFacts:
    return OrderFacts(category=category, title=title, content=content, territory_code=territory)


def rule(id: int, lead: str, *, category: str | None = None, keywords: tuple[str, ...] = (),
         territory: str | None = None, assists: tuple[str, ...] = (), priority: int = 0) -> Rule:
    return Rule(id=id, category=category, keywords=keywords, territory_code=territory, lead=lead,
                assists=assists, priority=priority)


def decide(o: OrderFacts, rules: list[Rule]):  # type: ignore[no-untyped-def]
    return route(o, rules, PARENTS, LEVELS, GOVERNMENT)


class TestTerritoryChain:
    def test_nearest_first_up_to_the_city(self) -> None:
        assert territory_chain(COMMUNITY, PARENTS) == [COMMUNITY, STREET, DISTRICT, CITY]

    def test_no_territory(self) -> None:
        assert territory_chain(None, PARENTS) == []
        assert territory_chain("", PARENTS) == []

    def test_unknown_code_is_its_own_chain(self) -> None:
        assert territory_chain("999", PARENTS) == ["999"]

    def test_a_cycle_in_the_data_terminates(self) -> None:
        assert territory_chain("a", {"a": "b", "b": "a"}) == ["a", "b"]


class TestRuleMatching:
    def test_no_matching_rule_gives_none(self) -> None:
        rules = [rule(1, "GA", keywords=("盗窃",)), rule(2, "JY", category="consultation")]
        assert decide(order(), rules) is None

    def test_no_rules_at_all(self) -> None:
        assert decide(order(), []) is None

    def test_other_category_does_not_match(self) -> None:
        assert decide(order(category="help"), [rule(1, "CG", category="complaint")]) is None

    def test_keyword_found_in_the_title(self) -> None:
        o = order(title="噪音", content="晚上睡不着")
        assert decide(o, [rule(1, "HB", keywords=("噪音",))]).lead == "HB"

    def test_rule_for_another_district_does_not_match(self) -> None:
        rules = [rule(1, "SC-HB", keywords=("噪音",), territory=OTHER_DISTRICT)]
        assert decide(order(), rules) is None

    def test_territorial_rule_does_not_match_an_order_without_territory(self) -> None:
        rules = [rule(1, "XH-HB", territory=DISTRICT)]
        assert decide(order(territory=None), rules) is None


class TestSpecificity:
    def test_keyword_hit_beats_category_only_rule(self) -> None:
        rules = [rule(1, "CG", category="complaint", priority=100),
                 rule(2, "HB", keywords=("噪音",))]
        d = decide(order(), rules)
        assert (d.lead, d.rule_id) == ("HB", 2)

    def test_more_keyword_hits_win(self) -> None:
        rules = [rule(1, "HB", keywords=("噪音",)),
                 rule(2, "JS", keywords=("施工", "噪音", "渣土"))]
        assert decide(order(), rules).lead == "JS"

    def test_territory_rule_beats_city_wide_with_equal_hits(self) -> None:
        rules = [rule(1, "HB", keywords=("噪音",)),
                 rule(2, "XH-HB", keywords=("噪音",), territory=DISTRICT)]
        assert decide(order(), rules).lead == "XH-HB"

    def test_nearer_territory_beats_farther(self) -> None:
        rules = [rule(1, "HZ-HB", keywords=("噪音",), territory=CITY),
                 rule(2, "BS-CG", keywords=("噪音",), territory=STREET),
                 rule(3, "XH-HB", keywords=("噪音",), territory=DISTRICT)]
        assert decide(order(), rules).lead == "BS-CG"

    def test_keyword_hits_outrank_territory(self) -> None:
        rules = [rule(1, "XH-HB", keywords=("噪音",), territory=STREET),
                 rule(2, "JS", keywords=("噪音", "施工"))]
        assert decide(order(), rules).lead == "JS"

    def test_named_category_beats_any_category(self) -> None:
        rules = [rule(1, "HB", keywords=("噪音",)),
                 rule(2, "CG", keywords=("噪音",), category="complaint")]
        assert decide(order(), rules).lead == "CG"

    def test_priority_breaks_an_otherwise_equal_tie(self) -> None:
        rules = [rule(1, "HB", keywords=("噪音",)), rule(2, "CG", keywords=("噪音",), priority=5)]
        assert decide(order(), rules).lead == "CG"

    def test_lowest_id_breaks_a_full_tie(self) -> None:
        rules = [rule(7, "B", keywords=("噪音",)), rule(3, "A", keywords=("噪音",)),
                 rule(9, "C", keywords=("噪音",))]
        d = decide(order(), rules)
        assert (d.lead, d.rule_id) == ("A", 3)

    @FAST
    @given(st.permutations([
        rule(5, "E", keywords=("噪音",)), rule(2, "B", keywords=("噪音",)),
        rule(8, "H", keywords=("噪音",), territory=CITY), rule(4, "D", category="complaint"),
        rule(3, "C", keywords=("噪音",), territory=CITY), rule(1, "A"),
    ]))
    def test_decision_does_not_depend_on_rule_order(self, rules: list[Rule]) -> None:
        d = decide(order(), rules)
        assert (d.lead, d.rule_id) == ("C", 3)


class TestTerritoryLeads:
    def test_district_lead_resolves_to_the_district_government(self) -> None:
        d = decide(order(), [rule(1, "@district", keywords=("噪音",))])
        assert d.lead == "XH-GOV"

    def test_street_lead_resolves_to_the_street_office(self) -> None:
        assert decide(order(), [rule(1, "@street")]).lead == "BS-JD"

    def test_district_order_itself(self) -> None:
        assert decide(order(territory=DISTRICT), [rule(1, "@district")]).lead == "XH-GOV"

    def test_district_rule_skipped_without_district_falls_to_next_rule(self) -> None:
        rules = [rule(1, "@district", keywords=("噪音",)), rule(2, "CG", category="complaint")]
        for territory in (None, CITY):
            d = decide(order(territory=territory), rules)
            assert (d.lead, d.rule_id) == ("CG", 2), territory

    def test_street_rule_skipped_for_a_district_level_order(self) -> None:
        assert decide(order(territory=DISTRICT), [rule(1, "@street")]) is None

    def test_district_without_a_governing_department_is_skipped(self) -> None:
        rules = [rule(1, "@district")]
        assert route(order(), rules, PARENTS, LEVELS, {CITY: "HZ-GOV"}) is None


class TestAssists:
    def test_assists_exclude_the_lead_and_are_deduplicated(self) -> None:
        r = rule(1, "@district", keywords=("噪音",),
                 assists=("GA", "XH-GOV", "GA", "@street", "BS-JD", "@district"))
        d = decide(order(), [r])
        assert d.lead == "XH-GOV"
        assert d.assists == ["GA", "BS-JD"]

    def test_unresolvable_territory_assist_is_dropped(self) -> None:
        d = decide(order(territory=CITY), [rule(1, "CG", assists=("@district", "GA"))])
        assert (d.lead, d.assists) == ("CG", ["GA"])

    def test_no_assists(self) -> None:
        assert decide(order(), [rule(1, "CG")]).assists == []


class TestReasons:
    def test_reasons_name_rule_category_keywords_and_territory(self) -> None:
        r = rule(42, "XH-HB", category="complaint", keywords=("噪音", "施工", "渣土"),
                 territory=DISTRICT)
        d = decide(order(), [r])
        assert d.reasons[0] == "派单目录规则 #42"
        assert "类别 complaint" in d.reasons
        assert "关键词 噪音、施工" in d.reasons  # only the words that were found
        assert f"属地 {DISTRICT}" in d.reasons

    def test_catch_all_rule_gives_only_the_rule(self) -> None:
        assert decide(order(), [rule(9, "ZX")]).reasons == ["派单目录规则 #9"]

    def test_empty_keyword_in_the_catalogue_is_not_a_reason(self) -> None:
        d = decide(order(), [rule(1, "HB", keywords=("", "噪音"))])
        assert "关键词 噪音" in d.reasons


class TestCheckDispatch:
    def test_returns_distinct_non_empty_assists_in_order(self) -> None:
        assert check_dispatch("CG", ["GA", "", "HB", "GA"]) == ["GA", "HB"]

    def test_lead_cannot_also_assist_and_the_field_is_named(self) -> None:
        with pytest.raises(Invalid) as info:
            check_dispatch("CG", ["GA", "CG"])
        assert list(info.value.details["fields"]) == ["assists"]

    def test_a_lead_is_required(self) -> None:
        with pytest.raises(ValueError):
            check_dispatch("", ["GA"])


class TestAssignmentStateMachine:
    def test_sign_then_reply(self) -> None:
        assert next_state("sign", "dispatched", "lead") == "signed"
        assert next_state("reply", "signed", "lead") == "replied"

    def test_an_assistant_signs_too(self) -> None:
        assert next_state("sign", "dispatched", "assist") == "signed"

    def test_sign_twice_names_state_and_action(self) -> None:
        with pytest.raises(Conflict) as info:
            next_state("sign", "signed", "lead")
        assert info.value.details == {"action": "sign", "state": "signed"}
        assert "已签收" in info.value.message and "签收" in info.value.message

    def test_reply_before_sign(self) -> None:
        with pytest.raises(Conflict) as info:
            next_state("reply", "dispatched", "lead")
        assert info.value.details == {"action": "reply", "state": "dispatched"}
        assert "待签收" in info.value.message

    def test_reply_twice(self) -> None:
        with pytest.raises(Conflict):
            next_state("reply", "replied", "lead")

    @pytest.mark.parametrize("state", ["dispatched", "signed", "replied"])
    def test_assist_cannot_reply(self, state: str) -> None:
        with pytest.raises(Conflict) as info:
            next_state("reply", state, "assist")
        assert info.value.details == {"action": "reply", "state": state, "role": "assist"}
        assert "only the lead" in info.value.message

    def test_sign_after_reply(self) -> None:
        with pytest.raises(Conflict):
            next_state("sign", "replied", "lead")


class TestRuleValueObject:
    def test_rules_are_immutable_values(self) -> None:
        r = rule(1, "CG")
        assert replace(r, lead="GA") != r
        with pytest.raises(AttributeError):
            r.lead = "GA"  # type: ignore[misc]
