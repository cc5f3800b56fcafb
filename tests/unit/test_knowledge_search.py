"""Unit tests for services.knowledge.search: the BM25F index, filters, snippets and highlights,
"did you mean", maintenance, the stored form, and ranking for routing help.

Real jieba and OpenCC through the process's shared analyzer; fixtures are Chinese texts of the
kind a 12345 knowledge base holds, and a passage of seed 004 in traditional characters.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.knowledge.analysis import Analyzer, shared_analyzer
from services.knowledge.search import (
    MAX_QUERY,
    AnalyzedDocument,
    Document,
    Filters,
    Index,
    analyze,
)

# seed 004 (瀘州市人民政府政務服務中心 部門窗口考核辦法) as it is written: traditional characters,
# with the pinyin its source page left in brackets (印發(fā))
SEED_004 = (
    "瀘州市人民政府政務服務中心 關于印發(fā)部門窗口考核辦法的通知\n"
    "市級相關部門、中心各窗口、科室:\n"
    "《瀘州市人民政府政務服務中心部門窗口考核辦法》已經(jīng)市政務服務中心辦公會議審議通過,現(xiàn)印發(fā)你們,請遵照執(zhí)行。\n"
    "二○一一年四月二十六日\n"
    "瀘州市人民政府政務服務中心\n"
    "部門窗口考核辦法\n"
    "第一章 總則\n"
    "第一條 為進一步加強對部門窗口的規(guī)范化管理,提高行政效能,根據(jù)《國務院關于加強法治政府建設的意見》(國發(fā)〔2010〕33號)、《中共四"
    "川省委、四川省人民政府關于加強機關行政效能建設的決定》(川委發(fā)〔2008〕11號)和瀘州市委、瀘州市人民政府關于印發(fā)《2011年市級部門目標管理"
    "辦法的通知》(瀘委發(fā)〔2011〕6號)等有關規(guī)定,制定本辦法。\n"
    "第二條 市級各部門應遵照市委、市政府有關規(guī)定在政務服務中心設立窗口;行政審批、公共服務項目較少且發(fā)生量"
)

FILLER = "本条目由市政务服务中心整理发布，内容以有关主管单位的正式文件为准，办理前可拨打咨询电话确认。"


def doc(article_id: int, title: str, text: str, **kw: Any) -> Document:
    kw.setdefault("article_type", "faq")
    kw.setdefault("department_code", None)
    return Document(article_id=article_id, version=kw.pop("version", 1), title=title, text=text,
                    **kw)


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return shared_analyzer()


def index_of(analyzer: Analyzer, *docs: Document, **tuning: Any) -> Index:
    index = Index(analyzer, **tuning)
    for d in docs:
        index.put(analyze(d, analyzer))
    return index


def ids(results: Any) -> list[int]:
    return [h.article_id for h in results.hits]


class TestTraditionalAndSimplified:
    def test_a_traditional_entry_is_found_and_highlighted_in_its_own_characters(
            self, analyzer: Analyzer) -> None:
        index = index_of(analyzer,
                         doc(1, "部門窗口考核辦法", SEED_004, article_type="policy"),
                         doc(2, "居民身份证办理", "办理居民身份证需本人到派出所户籍窗口。" + FILLER))
        results = index.search("部门窗口考核办法")
        assert ids(results)[0] == 1
        hit = results.hits[0]
        assert [hit.title[s:e] for s, e in hit.title_highlights] == ["部門窗口考核辦法"]
        marked = [hit.snippet[s:e] for s, e in hit.highlights]
        assert "部門窗口考核辦法" in marked  # the article's characters, not the query's
        assert all(analyzer.normalize(m) != m for m in marked if "門" in m)

    def test_a_traditional_query_finds_a_simplified_entry(self, analyzer: Analyzer) -> None:
        index = index_of(analyzer, doc(1, "并联审批工作", "投资建设项目并联审批。" + FILLER),
                         doc(2, "居民身份证办理", "派出所户籍窗口办理。" + FILLER))
        results = index.search("並聯審批")
        assert ids(results) == [1]
        assert [results.hits[0].title[s:e] for s, e in results.hits[0].title_highlights] == [
            "并联审批"]


class TestSynonyms:
    def test_a_short_name_finds_the_full_one_and_highlights_it(self, analyzer: Analyzer) -> None:
        index = index_of(analyzer,
                         doc(1, "占道经营的处理", "占道经营由城市管理部门负责查处。" + FILLER),
                         doc(2, "路灯不亮", "路灯维护由路灯管理所负责。" + FILLER))
        results = index.search("城管")
        assert ids(results) == [1]
        assert results.hits[0].matched == ("城管",)
        assert "城市管理" in [results.hits[0].snippet[s:e] for s, e in results.hits[0].highlights]

    def test_and_the_other_way_round(self, analyzer: Analyzer) -> None:
        index = index_of(analyzer,
                         doc(1, "城管投诉", "市民可向城管反映占道经营。" + FILLER),
                         doc(2, "社保卡挂失", "社会保险卡挂失请到人社窗口。" + FILLER))
        assert ids(index.search("城市管理"))[0] == 1
        assert ids(index.search("综合行政执法")) == [1]
        assert ids(index.search("社保"))[0] == 2


class TestRanking:
    def test_a_title_hit_beats_a_body_hit(self, analyzer: Analyzer) -> None:
        index = index_of(
            analyzer,
            doc(1, "小区设施报修", "小区的电梯出现故障时，先联系物业公司报修。" + FILLER),
            doc(2, "电梯故障怎么办", "小区的设施出现故障时，先联系物业公司报修。" + FILLER),
            doc(3, "路灯报修", "路灯不亮请联系路灯管理所。" + FILLER))
        assert ids(index.search("电梯"))[:2] == [2, 1]

    def test_more_matched_terms_beat_fewer(self, analyzer: Analyzer) -> None:
        index = index_of(
            analyzer,
            doc(1, "电梯管理规定", "电梯使用单位应当保证电梯安全，电梯应当定期检验。" + FILLER),
            doc(2, "维修资金", "老旧小区电梯维修可以申请使用维修资金。" + FILLER),
            doc(3, "路灯报修", "路灯不亮请联系路灯管理所。" + FILLER))
        results = index.search("电梯维修资金")
        assert ids(results)[:2] == [2, 1]
        assert set(results.hits[0].matched) == {"电梯", "维修", "资金"}

    def test_a_mention_in_a_short_text_beats_one_in_a_long_text(self,
                                                                 analyzer: Analyzer) -> None:
        long_text = "噪音扰民投诉。" + FILLER * 12
        index = index_of(
            analyzer,
            doc(1, "夜间施工", long_text),
            doc(2, "夜间施工", "噪音扰民投诉。" + FILLER),
            doc(3, "路灯报修", "路灯不亮请联系路灯管理所。" + FILLER * 4))
        results = index.search("噪音")
        assert ids(results) == [2, 1]
        assert results.hits[0].score > results.hits[1].score

    def test_equal_scores_are_ordered_by_article_id(self, analyzer: Analyzer) -> None:
        same = ("停水通知", "水井沟片区停水检修。" + FILLER)
        index = index_of(analyzer, doc(7, *same), doc(3, *same), doc(5, *same))
        results = index.search("停水")
        assert ids(results) == [3, 5, 7]
        assert len({h.score for h in results.hits}) == 1

    def test_pages_are_consistent(self, analyzer: Analyzer) -> None:
        docs = [doc(i, f"停水通知第{i}期", "停水检修。" + FILLER * (i % 3 + 1))
                for i in range(1, 13)]
        index = index_of(analyzer, *docs)
        everything = index.search("停水", limit=12)
        assert everything.total == 12
        pages = [ids(index.search("停水", limit=5, offset=o)) for o in (0, 5, 10)]
        assert [len(p) for p in pages] == [5, 5, 2]
        assert sum(pages, []) == ids(everything)


class TestFilters:
    @pytest.fixture
    def index(self, analyzer: Analyzer) -> Index:
        text = "占道经营投诉处理。" + FILLER
        return index_of(
            analyzer,
            doc(1, "全市", text),
            doc(2, "江阳区", text, territories=("510502",), categories=("城市管理",)),
            doc(3, "龙马潭区某街道", text, territories=("510504001",),
                article_type="guide", department_code="D_CG"),
            doc(4, "到期", text, valid_from=date(2026, 1, 1), valid_until=date(2026, 6, 30)),
            doc(5, "未生效", text, valid_from=date(2027, 1, 1)),
            doc(6, "两个区", text, territories=("510502", "510504"), categories=("环境保护",)))

    def test_no_filter(self, index: Index) -> None:
        assert index.search("占道经营").total == 6

    def test_type_and_department(self, index: Index) -> None:
        assert ids(index.search("占道经营", Filters(article_type="guide"))) == [3]
        assert ids(index.search("占道经营", Filters(department_code="D_CG"))) == [3]
        assert index.search("占道经营", Filters(department_code="D_X")).total == 0

    def test_category_empty_means_every_category(self, index: Index) -> None:
        assert sorted(ids(index.search("占道经营", Filters(category="城市管理")))) == [1, 2, 3, 4, 5]
        assert sorted(ids(index.search("占道经营", Filters(category="环境保护")))) == [1, 3, 4, 5, 6]

    def test_territory_codes_are_prefixes(self, index: Index) -> None:
        community = Filters(territory_code="510504001001")  # a community of street 510504001
        assert sorted(ids(index.search("占道经营", community))) == [1, 3, 4, 5, 6]
        other_street = Filters(territory_code="510504002")
        assert sorted(ids(index.search("占道经营", other_street))) == [1, 4, 5, 6]
        district = Filters(territory_code="510502")
        assert sorted(ids(index.search("占道经营", district))) == [1, 2, 4, 5, 6]

    def test_validity_dates_with_open_ends_and_inclusive_bounds(self, index: Index) -> None:
        def valid(on: date) -> list[int]:
            return sorted(ids(index.search("占道经营", Filters(on=on))))

        assert valid(date(2026, 6, 30)) == [1, 2, 3, 4, 6]
        assert valid(date(2026, 7, 1)) == [1, 2, 3, 6]
        assert valid(date(2027, 1, 1)) == [1, 2, 3, 5, 6]
        assert valid(date(2025, 12, 31)) == [1, 2, 3, 6]

    def test_filters_combine(self, index: Index) -> None:
        f = Filters(territory_code="510504001", category="城市管理", on=date(2026, 12, 1))
        assert sorted(ids(index.search("占道经营", f))) == [1, 3]


class TestQueries:
    def test_a_long_query_is_truncated_not_refused(self, analyzer: Analyzer) -> None:
        index = index_of(analyzer, doc(1, "停水通知", "停水检修。" + FILLER))
        q = "停水" + "检" * 498
        results = index.search(q)
        assert len(results.query) == MAX_QUERY == 200
        assert ids(results) == [1]

    def test_surrounding_space_is_stripped(self, analyzer: Analyzer) -> None:
        index = index_of(analyzer, doc(1, "停水通知", "停水检修。" + FILLER))
        assert index.search("  停水 \n").query == "停水"

    @pytest.mark.parametrize("q", ["", "   ", "\n\t", "，。！？…", "的了吗", "？？ ！！"])
    def test_a_query_with_no_words_is_refused(self, analyzer: Analyzer, q: str) -> None:
        index = index_of(analyzer, doc(1, "停水通知", "停水检修。" + FILLER))
        with pytest.raises(ValueError, match="q"):
            index.search(q)


class TestSnippets:
    def test_the_window_is_where_the_terms_are_dense(self, analyzer: Analyzer) -> None:
        text = (FILLER * 3 + "申请公租房需要提交身份证、户口簿和收入证明，公租房申请由住建局受理。"
                + FILLER * 3)
        index = index_of(analyzer, doc(1, "住房保障", text))
        hit = index.search("公租房 收入证明").hits[0]
        assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
        assert len(hit.snippet) <= 100 + 2
        marked = [hit.snippet[s:e] for s, e in hit.highlights]
        assert "公租房" in marked and "收入证明" in marked
        assert all(hit.snippet[s:e] in ("公租房", "收入证明") for s, e in hit.highlights)

    def test_a_short_text_is_whole(self, analyzer: Analyzer) -> None:
        index = index_of(analyzer, doc(1, "停水通知", "水井沟片区停水检修。"))
        hit = index.search("停水").hits[0]
        assert hit.snippet == "水井沟片区停水检修。"
        assert [hit.snippet[s:e] for s, e in hit.highlights] == ["停水"]

    def test_overlapping_terms_highlight_once(self, analyzer: Analyzer) -> None:
        index = index_of(analyzer, doc(1, "养老保险", "城镇职工养老保险的缴费年限。"))
        hit = index.search("养老保险").hits[0]
        assert [hit.snippet[s:e] for s, e in hit.highlights] == ["养老保险"]
        assert hit.title_highlights == ((0, 4),)


class TestDidYouMean:
    @pytest.fixture
    def index(self, analyzer: Analyzer) -> Index:
        return index_of(
            analyzer,
            doc(1, "城镇职工基本养老保险", "养老保险缴费年限满十五年可按月领取。" + FILLER),
            doc(2, "养老服务补贴", "八十岁以上老人可申请养老服务补贴。" + FILLER),
            doc(3, "住房公积金提取", "购房、租房可以提取住房公积金。" + FILLER),
            doc(4, "社会保险登记", "用人单位应当办理社会保险登记。" + FILLER),
            doc(5, "基金会登记", "基金会登记由民政局受理。" + FILLER),
            doc(6, "居民身份证补办", "居民身份证丢失可到派出所补办。" + FILLER))

    def test_a_homophone(self, index: Index) -> None:
        results = index.search("社宝")
        assert results.total == 0 and results.did_you_mean == "社保"

    def test_a_homophone_in_a_longer_query(self, index: Index) -> None:
        results = index.search("养老保显")
        assert results.total > 0  # 养老 alone finds articles, yet 保显 is a slip
        assert results.did_you_mean == "养老保险"

    def test_a_homophone_across_a_wrong_cut(self, index: Index) -> None:
        assert index.search("公基金").did_you_mean == "公积金"  # cut 公 / 基金, 基金 is known

    def test_one_character_wrong_missing_or_extra(self, index: Index) -> None:
        assert index.suggest("养老保检") == "养老保险"  # not a homophone: one character away
        assert index.suggest("养老保保险") == "养老保险"
        assert index.suggest("身分证") == "身份证"

    def test_the_query_keeps_its_other_words(self, index: Index) -> None:
        assert index.suggest("社宝 登记") == "社保 登记"

    def test_a_traditional_query_is_corrected_in_place(self, index: Index) -> None:
        assert index.suggest("養老保顯") == "养老保险"

    def test_nothing_when_nothing_better_exists(self, index: Index) -> None:
        results = index.search("量子纠缠")
        assert results.total == 0 and results.did_you_mean is None
        assert index.suggest("办身份证") is None  # a real word, not a slip for 身份证

    def test_one_wrong_character_in_three_is_not_guessed(self, analyzer: Analyzer) -> None:
        index = index_of(analyzer, doc(1, "公务员招考", "公务员考试报名。"),
                         doc(2, "公务员录用", "公务员录用体检。"))
        assert index.suggest("公务圆") == "公务员"  # a homophone is still proposed
        assert index.suggest("话务员") is None

    def test_nothing_for_a_query_that_is_fine(self, index: Index) -> None:
        assert index.search("养老保险").did_you_mean is None
        assert index.search("住房公积金").did_you_mean is None

    def test_only_if_the_correction_finds_something(self, analyzer: Analyzer) -> None:
        index = index_of(analyzer, doc(1, "社会保险登记", "用人单位应当办理社会保险登记。"))
        assert index.search("社宝").did_you_mean == "社保"
        # under a filter that excludes the only 社保 article, the correction finds nothing
        assert index.search("社宝", Filters(article_type="guide")).did_you_mean is None
        index.remove(1)
        assert index.suggest("社宝") is None  # the word left the vocabulary with its article


    def test_characters_that_make_no_word_are_a_slip_even_when_articles_are_found(
            self, analyzer: Analyzer) -> None:
        index = index_of(analyzer,
                         doc(1, "户口迁移", "户口迁移需要准备材料。"),
                         doc(2, "户口迁移流程", "办理户口迁移的流程。"),
                         doc(3, "户口随迁", "子女户口可以随父母迁。户口迁出后已注销。"))
        results = index.search("户口迁已")  # cut 户口 / 迁 / 已, each a term articles have
        assert results.total == 3
        assert index.search("迁").total == 1 and index.search("已").total == 1
        # the homophone (qian yi), not the word one character away (户口迁 → 户口本)
        assert results.did_you_mean == "户口迁移"

    def test_a_word_is_proposed_once_enough_articles_have_it(self, analyzer: Analyzer) -> None:
        # 电梯 is in no synonym group: it must be in suggest_min_df (2) articles
        index = index_of(analyzer, doc(1, "电梯故障", "小区电梯停运。"))
        assert index.suggest("电题") is None
        index.put(analyze(doc(2, "电梯年检", "电梯每年检验一次。"), analyzer))
        assert index.suggest("电题") == "电梯"
        index.remove(1)
        assert index.suggest("电题") is None
        lenient = index_of(analyzer, doc(1, "电梯故障", "小区电梯停运。"), suggest_min_df=1)
        assert lenient.suggest("电题") == "电梯"


class TestMaintenance:
    def test_put_replaces_by_article_id(self, analyzer: Analyzer) -> None:
        index = index_of(analyzer, doc(1, "停水通知", "水井沟片区停水检修。"),
                         doc(2, "停电通知", "蓝田镇停电检修。"))
        index.put(analyze(doc(1, "路灯维修", "滨江路路灯维修。", version=2), analyzer))
        assert len(index) == 2
        assert index.search("停水").total == 0
        hit = index.search("路灯").hits[0]
        assert (hit.article_id, hit.version, hit.title) == (1, 2, "路灯维修")

    def test_remove_removes(self, analyzer: Analyzer) -> None:
        index = index_of(analyzer, doc(1, "停水通知", "水井沟片区停水检修。"),
                         doc(2, "停水通知", "蓝田镇停水检修。"))
        index.remove(1)
        index.remove(99)  # unknown: nothing to do
        assert len(index) == 1 and 1 not in index and 2 in index
        assert ids(index.search("停水")) == [2]
        index.remove(2)
        assert len(index) == 0 and index.search("停水").total == 0

    def test_scores_after_removal_equal_a_fresh_index(self, analyzer: Analyzer) -> None:
        a = doc(1, "停水通知", "水井沟片区停水检修。" + FILLER)
        b = doc(2, "停水停电", "蓝田镇停水停电。")
        c = doc(3, "路灯维修", "滨江路路灯维修。" + FILLER * 2)
        churned = index_of(analyzer, a, b, c)
        churned.remove(3)
        fresh = index_of(analyzer, a, b)
        assert churned.search("停水") == fresh.search("停水")

    def test_an_empty_index_answers_nothing(self, analyzer: Analyzer) -> None:
        results = Index(analyzer).search("停水")
        assert (results.total, results.hits, results.did_you_mean) == (0, (), None)
        assert Index(analyzer).rank(["停水"]) == []

    def test_an_analysis_of_another_analyzer_version_is_refused(self,
                                                                analyzer: Analyzer) -> None:
        stale = AnalyzedDocument(doc(1, "停水", "停水。"), {"停水": 1}, {"停水": 1}, "r0-old")
        with pytest.raises(ValueError, match="analysed with"):
            Index(analyzer).put(stale)


POOL = [
    doc(1, "停水通知", "水井沟片区停水检修。" + FILLER),
    doc(2, "停水停电", "蓝田镇停水停电，供电公司抢修。"),
    doc(3, "路灯维修", "滨江路路灯维修，城市管理部门负责。" + FILLER * 2),
    doc(1, "停水通知（更新）", "水井沟片区停水检修延期至周五。", version=2),
    doc(4, "城管执法", "占道经营由城管查处。" + FILLER),
    doc(2, "停电通知", "蓝田镇停电。", version=2),
]


class TestChurn:
    """Any sequence of puts and removes leaves the index answering as one built afresh from
    the articles still in it (postings, lengths and averages all kept in step)."""

    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.tuples(st.booleans(), st.integers(0, len(POOL) - 1)), max_size=12))
    def test_churn_equals_a_fresh_build(self, ops: list[tuple[bool, int]]) -> None:
        analyzer = shared_analyzer()
        analysed = [analyze(d, analyzer) for d in POOL]
        churned = Index(analyzer)
        live: dict[int, AnalyzedDocument] = {}
        for is_put, i in ops:
            a = analysed[i]
            if is_put:
                churned.put(a)
                live[a.document.article_id] = a
            else:
                churned.remove(a.document.article_id)
                live.pop(a.document.article_id, None)
        fresh = Index(analyzer)
        for a in live.values():
            fresh.put(a)
        assert len(churned) == len(fresh)
        for q in ("停水", "停电 检修", "城管", "路灯维修"):
            assert churned.search(q) == fresh.search(q)


class TestStoredForm:
    def test_round_trip_through_json(self, analyzer: Analyzer) -> None:
        original = analyze(doc(3, "部門窗口考核辦法", SEED_004, article_type="policy",
                               department_code="D_ZW", categories=("政务服务",),
                               territories=("5105",), valid_from=date(2011, 4, 26),
                               valid_until=None, version=4), analyzer)
        stored = json.loads(json.dumps(original.to_dict(), ensure_ascii=False))
        assert AnalyzedDocument.from_dict(stored) == original
        assert stored["document"]["valid_from"] == "2011-04-26"

    def test_an_index_rebuilt_from_stored_rows_answers_the_same(self,
                                                                analyzer: Analyzer) -> None:
        docs = [doc(1, "部門窗口考核辦法", SEED_004), doc(2, "停水通知", "停水检修。" + FILLER)]
        live = index_of(analyzer, *docs)
        rebuilt = Index(analyzer)
        for d in docs:
            rebuilt.put(AnalyzedDocument.from_dict(json.loads(json.dumps(
                analyze(d, analyzer).to_dict()))))
        assert rebuilt.search("部门 考核 停水") == live.search("部门 考核 停水")


class TestRoutingRank:
    RESPONSIBILITIES = {
        101: ("市综合行政执法局职能", "负责查处占道经营、流动摊贩、违章建筑、户外广告设置等城市管理违法行为；"
              "负责渣土车运输的监督管理。"),
        102: ("市生态环境局职能", "负责大气、水、噪声污染防治的监督管理；查处餐饮油烟直排、"
              "工业废气超标排放。"),
        103: ("市住房和城乡建设局职能", "负责建筑工地施工安全与文明施工管理，查处夜间违规施工；"
              "负责物业服务活动的监督管理和住宅专项维修资金管理。"),
        104: ("市人力资源和社会保障局职能", "负责劳动保障监察，查处用人单位拖欠工资、克扣工资；"
              "负责社会保险登记与待遇发放。"),
        105: ("市水务局职能", "负责城市供水、排水设施的管理，处理停水、水压不足、下水道堵塞等问题。"),
    }

    @pytest.fixture
    def index(self, analyzer: Analyzer) -> Index:
        docs = [doc(aid, title, text, article_type="responsibility", department_code=f"D{aid}")
                for aid, (title, text) in self.RESPONSIBILITIES.items()]
        docs.append(doc(900, "流动摊贩常见问答", "摊贩" * 20 + "占道经营" * 20))  # a FAQ, not a duty
        return index_of(analyzer, *docs)

    def test_a_long_order_text_ranks_the_responsible_department_first(
            self, analyzer: Analyzer, index: Index) -> None:
        order = ("市民来电反映：江阳区滨江路12号楼下的小区门口，每天傍晚开始有多家商贩摆摊卖烧烤和小吃，"
                 "一直持续到凌晨一两点，来电人称已经持续了两个多月，多次向小区物业反映，物业表示无权处理。"
                 "来电人称摊位占用了人行道和盲道，行人只能走到机动车道上，存在安全隐患，而且收摊后满地垃圾"
                 "无人清扫，夏天气味很大。来电人多次拨打电话均无人处理，情绪比较激动，要求相关部门尽快到现场"
                 "核实情况。来电人补充说明：这些商贩属于流动摊贩，长期占道经营，希望依法查处并建立长效管理"
                 "机制，杜绝反弹。")
        terms = analyzer.terms(order)
        assert len(order) > MAX_QUERY  # rank() does not truncate: the decisive words come late
        ranked = index.rank(terms, Filters(article_type="responsibility"), limit=3)
        assert ranked[0][0] == 101
        assert "占道经营" in ranked[0][2]
        assert [r[1] for r in ranked] == sorted((r[1] for r in ranked), reverse=True)
        assert 900 not in [r[0] for r in index.rank(terms, Filters(article_type="responsibility"))]

    def test_another_matter_goes_elsewhere(self, analyzer: Analyzer, index: Index) -> None:
        order = ("来电人反映在某装修公司打工三个月，公司一直拖欠工资不发，老板联系不上，"
                 "要求劳动监察部门帮助讨要。")
        ranked = index.rank(analyzer.terms(order), Filters(article_type="responsibility"), limit=2)
        assert ranked[0][0] == 104 and "欠薪" in ranked[0][2]

    def test_nothing_matches_nothing_is_returned(self, index: Index) -> None:
        assert index.rank(["量子"], limit=5) == []
        assert index.rank([], limit=5) == []
