"""Unit tests for services.intake.similarity: segmentation, similarity, ranking, hotspots.

The texts are realistic 12345 calls. Pairs about one matter worded differently must score at
or above the default threshold; pairs about different matters on the same street (same
territory, same category: exactly what the candidate query lets through) must score below it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.intake.dependencies import RepeatCallSettings, shared_segmenter
from services.intake.similarity import (
    DEFAULT_THRESHOLD,
    Draft,
    OpenOrder,
    Segmenter,
    cosine,
    distinct_callers,
    dump_tokens,
    fold,
    is_hotspot,
    load_tokens,
    rank,
    similarity,
    trimmed_dictionary,
)

SAME_MATTER = [
    ("滨江路12号楼下每天晚上有人占道经营，烧烤油烟很大，影响居民休息",
     "滨江路12号楼附近夜里摆摊烧烤，油烟呛人，吵得睡不着，希望城管管一管"),
    ("小区门口长期有流动摊贩占道经营，堵塞消防通道，请城管处理。",
     "我们小区大门口天天有摆摊的小贩，把消防通道都堵了"),
    ("滨江路东段工地连续多日夜间施工到凌晨两点，施工扰民，居民无法休息，请尽快处理。",
     "滨江路东段那个工地每天半夜还在施工，噪音太大了，根本睡不着"),
    ("水井沟一带从昨天起停水，今天恢复后水压很低，高层住户接不到水。",
     "水井沟这边水压太低了，我们住高层的根本接不到水，前两天还停水"),
    ("白招牌社区临街餐馆油烟直排，楼道里一股刺鼻异味，希望有关部门检查。",
     "白招牌社区那家临街的餐馆油烟直接排出来，楼道里全是难闻的味道"),
    ("家门口路灯不亮已经一周了", "我家门口那盏路灯坏了一个星期了，一直没人修"),
    ("江阳区大山坪小区电梯又坏了，老人上下楼很困难，物业一直不修",
     "大山坪小区的电梯停运三天了，物业不管，八十岁的老人下不了楼"),
    ("忠山公园旁边的公共厕所没人打扫，臭气熏天", "忠山公园厕所很脏很臭，好久没有保洁了"),
    ("我在华阳街道一家装修公司干活，老板拖欠工资三个月不给",
     "华阳街道那个装修公司欠我们工人三个月工资，老板跑了"),
    ("蓝田镇宝来桥附近下水道堵了，污水漫到路面上", "宝来桥那边下水道堵塞，脏水流得满街都是"),
]

DIFFERENT_MATTER_SAME_STREET = [
    ("滨江路12号楼下每天晚上有人占道经营，烧烤油烟很大，影响居民休息",
     "滨江路12号楼前的路灯坏了一个星期了，晚上出行很不方便"),
    ("滨江路12号楼下每天晚上有人占道经营，烧烤油烟很大，影响居民休息",
     "滨江路12号楼下的广场舞每天晚上放音乐声音太大，影响居民休息"),
    ("滨江路东段工地连续多日夜间施工到凌晨两点，施工扰民，居民无法休息，请尽快处理。",
     "滨江路东段人行道上的井盖丢了，晚上路过很危险"),
    ("水井沟一带从昨天起停水，今天恢复后水压很低，高层住户接不到水。",
     "水井沟社区垃圾桶满了好几天没人清运，臭味很大"),
    ("白招牌社区临街餐馆油烟直排，楼道里一股刺鼻异味，希望有关部门检查。",
     "白招牌社区小区里有人私搭乱建，占用公共绿地"),
    ("小区门口长期有流动摊贩占道经营，堵塞消防通道，请城管处理。",
     "小区门口的公交站牌被撞坏了，等车的人没地方看线路"),
    ("江阳区大山坪小区电梯又坏了，老人上下楼很困难，物业一直不修",
     "大山坪小区物业乱收停车费，一个月涨了两百"),
    ("忠山公园旁边的公共厕所没人打扫，臭气熏天", "忠山公园门口的红绿灯时间太短，老人过马路来不及"),
    ("蓝田镇宝来桥附近下水道堵了，污水漫到路面上", "蓝田镇宝来桥附近有渣土车超速，撒了一路的泥"),
    ("华阳街道一家装修公司晚上十点还在装修，电钻声音太大", "华阳街道一家装修公司拖欠工资三个月不给"),
]

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def seg() -> Segmenter:
    return shared_segmenter()


class TestSegmentation:
    def test_domain_words_stay_whole_and_stop_words_go(self, seg: Segmenter) -> None:
        tokens = seg.tokens("请城管处理：滨江路12号楼下每天晚上有人占道经营，烧烤油烟很大！")
        assert {"城管", "占道经营", "烧烤", "油烟", "滨江路", "12"} <= tokens
        assert not tokens & {"请", "处理", "有人", "每天", "，", "！", "很大"}

    def test_synonyms_fold_to_one_token(self) -> None:
        assert fold(["摆摊", "流动摊贩", "夜里", "深夜"]) == {"占道经营", "晚上"}

    def test_full_width_digits_are_ascii(self, seg: Segmenter) -> None:
        assert "12" in seg.tokens("滨江路１２号楼")

    def test_stored_form_round_trips(self, seg: Segmenter) -> None:
        tokens = seg.tokens("标题", "家门口路灯不亮已经一周了")
        assert load_tokens(dump_tokens(tokens)) == tokens
        assert load_tokens(None) == frozenset() and load_tokens("") == frozenset()

    def test_unloaded_segmenter_refuses(self) -> None:
        with pytest.raises(RuntimeError):
            Segmenter().segment("路灯")

    def test_the_process_loads_one_segmenter(self) -> None:
        assert shared_segmenter() is shared_segmenter()

    def test_trimmed_dictionary_drops_rare_words_keeps_characters(self, tmp_path: Any) -> None:
        path = trimmed_dictionary(1000, str(tmp_path))
        assert trimmed_dictionary(1000, str(tmp_path)) == path  # written once
        with open(path, encoding="utf-8") as f:
            entries = [line.split(" ")[:2] for line in f]
        assert entries and all(len(w) == 1 or int(freq) >= 1000 for w, freq in entries)
        assert any(len(w) == 1 and int(freq) < 1000 for w, freq in entries)


class TestThreshold:
    @pytest.mark.parametrize("first, second", SAME_MATTER)
    def test_same_matter_worded_differently_matches(self, seg: Segmenter, first: str,
                                                    second: str) -> None:
        assert similarity(seg.tokens(first), seg.tokens(second)) >= DEFAULT_THRESHOLD

    @pytest.mark.parametrize("first, second", DIFFERENT_MATTER_SAME_STREET)
    def test_different_matter_on_the_same_street_does_not(self, seg: Segmenter, first: str,
                                                          second: str) -> None:
        assert similarity(seg.tokens(first), seg.tokens(second)) < DEFAULT_THRESHOLD

    def test_the_threshold_separates_the_two_sets_with_a_margin(self, seg: Segmenter) -> None:
        same = min(similarity(seg.tokens(a), seg.tokens(b)) for a, b in SAME_MATTER)
        different = max(similarity(seg.tokens(a), seg.tokens(b))
                        for a, b in DIFFERENT_MATTER_SAME_STREET)
        assert different + 0.1 < DEFAULT_THRESHOLD < same - 0.1

    def test_the_full_dictionary_makes_the_same_decisions(self, seg: Segmenter) -> None:
        full = shared_segmenter(min_freq=1)
        for a, b in SAME_MATTER + DIFFERENT_MATTER_SAME_STREET:
            trimmed_says = similarity(seg.tokens(a), seg.tokens(b)) >= DEFAULT_THRESHOLD
            assert (similarity(full.tokens(a), full.tokens(b)) >= DEFAULT_THRESHOLD) is trimmed_says

    def test_configured_threshold_is_read(self) -> None:
        s = RepeatCallSettings.from_config({"REPEAT_CALLS": {"SIMILARITY_THRESHOLD": 0.6,
                                                             "WINDOW_DAYS": 7,
                                                             "HOTSPOT_CALLERS": 5}})
        assert (s.threshold, s.window, s.hotspot_callers) == (0.6, timedelta(days=7), 5)
        assert s.dictionary_min_freq == 5
        assert RepeatCallSettings.from_config({}).threshold == DEFAULT_THRESHOLD


class TestSimilarity:
    def test_bounds(self) -> None:
        a = frozenset({"路灯", "坏"})
        assert similarity(a, a) == pytest.approx(1.0)
        assert similarity(a, frozenset()) == 0.0 and cosine(frozenset(), a) == 0.0
        assert similarity(frozenset({"x"}), frozenset({"y"})) == 0.0

    def test_weighted_sizes_are_sums_of_squared_weights(self) -> None:
        from services.intake.similarity import _weighted_size, weight

        tokens = frozenset({"油烟", "滨江路", "路灯", "晚上"})
        assert _weighted_size(tokens) == sum(weight(t) ** 2 for t in tokens) == 10

    def test_matter_words_weigh_more_than_places(self) -> None:
        place = similarity(frozenset({"滨江路", "晚上", "油烟"}), frozenset({"滨江路", "晚上", "路灯"}))
        matter = similarity(frozenset({"滨江路", "晚上", "油烟"}), frozenset({"东段", "夜市", "油烟"}))
        assert matter > place


def order(no: str, *, phone: str | None = None, category: str = "complaint",
          territory: str | None = "T1", tokens: set[str] | frozenset[str] = frozenset(),
          age_minutes: int = 0) -> OpenOrder:
    return OpenOrder(no, T0 - timedelta(minutes=age_minutes), phone, category, territory,
                     frozenset(tokens))


class TestRanking:
    DRAFT = Draft("13800000001", "complaint", "T1", frozenset({"滨江路", "烧烤", "油烟", "晚上"}))

    def test_reasons_and_order(self) -> None:
        orders = [
            order("A", tokens={"滨江路", "烧烤", "油烟"}, age_minutes=5),      # similar
            order("B", tokens={"滨江路", "路灯"}),                            # different matter
            order("C", phone="13800000001", tokens={"电梯"}),                 # same caller only
            order("D", phone="13800000001", tokens={"烧烤", "油烟", "晚上"}),  # both
            order("E", territory="T2", tokens={"滨江路", "烧烤", "油烟"}),     # other place
            order("F", category="suggestion", tokens={"滨江路", "烧烤", "油烟"}),
        ]
        ranked = rank(self.DRAFT, orders, threshold=0.45)
        assert [(c.ticket_no, c.reason) for c in ranked] == [
            ("D", "same_caller"), ("A", "similar_matter"), ("C", "same_caller")]
        assert ranked[1].score >= 0.45 and ranked[2].score < 0.45

    def test_equal_scores_newest_first_and_limit(self) -> None:
        orders = [order(str(i), tokens={"滨江路", "烧烤", "油烟"}, age_minutes=i) for i in range(5)]
        assert [c.ticket_no for c in rank(self.DRAFT, orders, limit=3)] == ["0", "1", "2"]

    def test_no_territory_means_caller_matches_only(self) -> None:
        draft = Draft(None, "complaint", None, self.DRAFT.tokens)
        assert rank(draft, [order("A", territory=None, tokens=self.DRAFT.tokens)]) == []


class TestHotspot:
    def test_distinct_callers_ignore_repeats_and_missing_numbers(self) -> None:
        assert distinct_callers(["13800000001", "13800000001", None, "0830-2345678"]) == 2

    @pytest.mark.parametrize("callers, threshold, raised", [
        (2, 3, False), (3, 3, True), (4, 3, True), (4, 5, False), (5, 5, True)])
    def test_threshold(self, callers: int, threshold: int, raised: bool) -> None:
        assert is_hotspot(callers, threshold) is raised
