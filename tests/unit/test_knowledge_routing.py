"""Routing help's rules (services/knowledge/routing.py): territory fit, the history vote and
its weight, learning and unlearning a dispatch, reasons naming their evidence."""

from __future__ import annotations

from collections import defaultdict

import pytest

from hotline.demo import DEPARTMENTS, TERRITORIES
from services.knowledge import routing
from services.knowledge.routing import (
    Counts,
    EntryHit,
    LeadState,
    PastOrder,
    RoutingSettings,
    on_dispatched,
    on_recalled,
    on_return_approved,
    rank_departments,
)

DIRECTORY = routing.Directory.from_rows(DEPARTMENTS, TERRITORIES)


def hit(dep: str, score: float, *terms: str, title: str | None = None) -> EntryHit:
    return EntryHit(hash(dep) % 1000, dep, title or f"{dep}主要职责", score, terms)


def counts_of(*orders: tuple[list[str], str]) -> Counts:
    c: dict[tuple[str, str], float] = defaultdict(float)
    for terms, dep in orders:
        for k, v in routing.count_delta(terms, dep).items():
            c[k] += v
    return Counts.from_rows((t, d, n) for (t, d), n in c.items())


class TestTerritoryFit:
    def test_a_street_government_only_for_orders_in_its_street(self) -> None:
        hits = [hit("lmt_xiaoshi", 5.0, "楼道", "杂物"), hit("chengguan", 3.0, "杂物")]
        inside = rank_departments(["楼道", "杂物"], "510504001001", hits, Counts(), DIRECTORY)
        outside = rank_departments(["楼道", "杂物"], "510502001", hits, Counts(), DIRECTORY)
        nowhere = rank_departments(["楼道", "杂物"], None, hits, Counts(), DIRECTORY)
        assert inside.top is not None and inside.top.department_code == "lmt_xiaoshi"
        assert "属地：小市街道" in routing.reasons(inside.top, DIRECTORY)
        for ranking in (outside, nowhere):
            assert [s.department_code for s in ranking.suggestions] == ["chengguan"]
            assert ranking.suggestions[0].score == 1.0

    def test_a_district_covers_its_streets_and_history_of_another_district_is_ignored(
            self) -> None:
        counts = counts_of(*[(["拆迁", "补偿"], "luxian")] * 5, (["拆迁", "补偿"], "longmatan"))
        ranking = rank_departments(["拆迁", "补偿"], "510504002", [], counts, DIRECTORY)
        assert [s.department_code for s in ranking.suggestions] == ["longmatan"]
        assert "属地：龙马潭区" in routing.reasons(ranking.suggestions[0], DIRECTORY)

    def test_the_center_and_inactive_or_unknown_departments_are_never_suggested(self) -> None:
        directory = routing.Directory.from_rows(
            [*DEPARTMENTS[:3], {**DEPARTMENTS[3], "active": False}], TERRITORIES)
        hits = [hit("center", 9.0, "热线"), hit(DEPARTMENTS[3]["code"], 8.0, "公交"),
                hit("nobody", 7.0, "公交"), hit("chengguan", 1.0, "公交")]
        ranking = rank_departments(["公交", "热线"], "510502", hits, Counts(), directory)
        assert [s.department_code for s in ranking.suggestions] == ["chengguan"]


class TestScores:
    def test_responsibility_alone_squared_shares_best_first(self) -> None:
        ranking = rank_departments(["占道经营", "油烟"], "510502001",
                                   [hit("chengguan", 6.0, "占道经营", "油烟"),
                                    hit("huanbao", 2.0, "油烟")], Counts(), DIRECTORY)
        assert [(s.department_code, s.score) for s in ranking.suggestions] == [
            ("chengguan", 0.9), ("huanbao", 0.1)]
        assert ranking.confidence == pytest.approx(0.8)
        assert ranking.history_weight == 0.0

    def test_history_weighs_in_up_to_its_cap_as_it_learns_the_terms(self) -> None:
        hits = [hit("chengguan", 6.0, "占道经营"), hit("longmatan", 3.0, "占道经营")]
        little = counts_of((["占道经营", "菜市场"], "longmatan"))
        much = counts_of(*[(["占道经营", "菜市场"], "longmatan")] * 50)
        terms = ["占道经营", "菜市场"]
        cold = rank_departments(terms, "510504001", hits, Counts(), DIRECTORY)
        warm = rank_departments(terms, "510504001", hits, little, DIRECTORY)
        hot = rank_departments(terms, "510504001", hits, much, DIRECTORY)
        assert cold.top and cold.top.department_code == "chengguan"
        assert 0 < warm.history_weight < hot.history_weight <= 0.7
        assert warm.top and warm.top.department_code == "chengguan"
        assert hot.top and hot.top.department_code == "longmatan"
        assert all(0 <= s.score <= 1 for r in (cold, warm, hot) for s in r.suggestions)

    def test_common_terms_vote_less_than_rare_ones(self) -> None:
        # 小区 is in every past order; 电梯 only in shichang's
        counts = counts_of(*[(["小区", "物业"], "zhujian")] * 20,
                           *[(["小区", "电梯"], "shichang")] * 3)
        ranking = rank_departments(["小区", "电梯"], "510502001", [], counts, DIRECTORY)
        assert ranking.top and ranking.top.department_code == "shichang"
        assert ranking.top.history_term == "电梯" and ranking.top.history_count == 3

    def test_nothing_known_nothing_suggested(self) -> None:
        ranking = rank_departments(["外星人"], "510502001", [], Counts(), DIRECTORY)
        assert ranking.suggestions == () and ranking.confidence == 0.0

    def test_limit_and_noise_floor(self) -> None:
        hits = [hit(d["code"], 10.0 - i, "x") for i, d in enumerate(DEPARTMENTS[1:14])]
        ranking = rank_departments(["x"], "510502001", hits, Counts(), DIRECTORY,
                                   RoutingSettings(limit=3))
        assert len(ranking.suggestions) == 3
        tiny = rank_departments(["x"], "510502001", [hit("chengguan", 10.0, "x"),
                                                     hit("zhujian", 0.5, "x")],
                                Counts(), DIRECTORY)
        assert [s.department_code for s in tiny.suggestions] == ["chengguan"]

    def test_settings_from_config(self) -> None:
        s = RoutingSettings.from_config({"LIMIT": 3, "HISTORY_WEIGHT": 0.5})
        assert (s.limit, s.history_weight, s.pseudo_count) == (3, 0.5, 2.0)
        assert RoutingSettings.from_config(None) == RoutingSettings()
        with pytest.raises(ValueError):
            RoutingSettings.from_config({"HISTORY_WEIGHT": 2})


class TestReasons:
    def test_reasons_name_the_entry_its_matched_words_the_history_and_an_example(self) -> None:
        counts = counts_of(*[(["占道经营", "摊贩"], "chengguan")] * 23)
        ranking = rank_departments(
            ["占道经营", "摊贩", "水果"], "510502001",
            [hit("chengguan", 5.0, "占道经营", "摊贩", title="市综合行政执法局主要职责")],
            counts, DIRECTORY)
        top = ranking.top
        assert top is not None
        said = routing.reasons(top, DIRECTORY, example="20261123000042")
        assert said[0] == "部门职能「市综合行政执法局主要职责」命中：占道经营、摊贩"
        assert said[1].startswith("相似历史工单 23 件派往该部门（含「")
        assert said[1].endswith("如 20261123000042）")
        assert not any(r.startswith("属地") for r in said)  # a city bureau has no 属地

    def test_the_example_is_the_past_order_sharing_most_terms(self) -> None:
        past = [PastOrder("1", "chengguan", frozenset({"占道经营"})),
                PastOrder("2", "chengguan", frozenset({"占道经营", "水果", "夜市"})),
                PastOrder("3", "chengguan", frozenset({"占道经营", "水果"}))]
        assert routing.best_example(["占道经营", "水果", "夜市"], past) == "2"
        assert routing.best_example(["占道经营"], past) is None  # one shared word is not similar


class TestLearning:
    def test_terms_are_distinct_bounded_and_fit_the_column(self) -> None:
        terms = ["a", "a", "", " ", "x" * 65] + [f"t{i}" for i in range(100)]
        kept = routing.order_terms(terms)
        assert kept[0] == "a" and len(kept) == routing.MAX_TERMS and "x" * 65 not in kept
        delta = routing.count_delta(["占道经营", "占道经营", "水果"], "chengguan")
        assert delta == {("占道经营", "chengguan"): 1.0, ("水果", "chengguan"): 1.0,
                         ("", "chengguan"): 1.0}
        assert set(routing.count_delta(["水果"], "x", -1).values()) == {-1.0}

    def test_a_return_uncounts_the_lead_and_the_redispatch_counts_the_new_one(self) -> None:
        s = LeadState()
        first = on_dispatched(s, 1, "chengguan", 10)
        assert (first.uncount, first.count) == (None, "chengguan") and first.state.counted
        assist_return = on_return_approved(first.state, 11)  # an assistant's: nothing moves
        assert (assist_return.uncount, assist_return.count) == (None, None)
        back = on_return_approved(first.state, 10)
        assert back.uncount == "chengguan" and not back.state.counted
        again = on_dispatched(back.state, 2, "longmatan", 12)
        assert (again.uncount, again.count) == (None, "longmatan")

    def test_a_redispatch_overtaking_the_return_moves_the_count_and_the_late_return_is_void(
            self) -> None:
        first = on_dispatched(LeadState(), 1, "chengguan", 10)
        moved = on_dispatched(first.state, 2, "longmatan", 12)
        assert (moved.uncount, moved.count) == ("chengguan", "longmatan")
        late = on_return_approved(moved.state, 10)
        assert (late.uncount, late.count, late.state) == (None, None, moved.state)

    def test_stale_rounds_and_reopening_to_the_same_lead_change_nothing(self) -> None:
        second = on_dispatched(on_dispatched(LeadState(), 1, "a", 1).state, 2, "b", 2).state
        stale = on_dispatched(second, 1, "a", 1)
        assert (stale.uncount, stale.count, stale.state) == (None, None, second)
        reopened = on_dispatched(second, 3, "b", 5)  # 重办: a new round, the same lead
        assert (reopened.uncount, reopened.count) == (None, None)
        assert reopened.state.lead_assignment_id == 5

    def test_a_recall_uncounts_the_recalled_round_only(self) -> None:
        state = on_dispatched(LeadState(), 2, "a", 7).state
        assert on_recalled(state, 1).uncount is None
        recalled = on_recalled(state, 2)
        assert recalled.uncount == "a" and not recalled.state.counted
        assert on_recalled(recalled.state, 2).uncount is None


class TestExcludedAndDirectoryCache:
    def test_a_department_known_wrong_is_left_out(self) -> None:
        hits = [hit("chengguan", 6.0, "井盖"), hit("shuiwu", 5.0, "井盖")]
        counts = counts_of(*[(["井盖"], "chengguan")] * 5)
        ranking = rank_departments(["井盖"], "510502001", hits, counts, DIRECTORY,
                                   exclude=("chengguan",))
        assert [s.department_code for s in ranking.suggestions] == ["shuiwu"]

    def test_departments_are_fetched_once_per_ttl_and_a_failed_refresh_keeps_the_copy(
            self) -> None:
        from services.knowledge.routing_index import DIRECTORY_TTL, RoutingKit

        now = [0.0]
        calls: list[int] = []

        def fetch() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
            calls.append(1)
            if len(calls) > 1:
                raise ConnectionError("dispatch is down")
            return list(DEPARTMENTS), list(TERRITORIES)

        kit = RoutingKit(RoutingSettings(), analyzer=None, responsibilities=None,
                         clock=lambda: now[0])
        first = kit.directory(fetch)
        assert kit.directory(fetch) is first and len(calls) == 1
        now[0] = DIRECTORY_TTL + 1
        assert kit.directory(fetch) is first and len(calls) == 2  # refresh failed: the copy
        with pytest.raises(ConnectionError):
            RoutingKit(RoutingSettings(), None, None).directory(fetch)  # nothing to fall back on
