"""Unit tests for services.knowledge.analysis and shared.segmentation: normalisation,
segmentation in search mode, synonym folding, versions, one loaded analyzer per process.

Real jieba (trimmed dictionary) and real OpenCC; nothing is replaced.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.knowledge import analysis
from services.knowledge.analysis import Analyzer, load_synonyms, shared_analyzer
from shared.segmentation import load_tokenizer, shared_tokenizer


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return shared_analyzer()


class TestNormalisation:
    def test_full_width_lower_case_and_simplified(self, analyzer: Analyzer) -> None:
        assert analyzer.normalize("ＡＢＣ１２３部門窗口考核辦法") == "abc123部门窗口考核办法"

    def test_chinese_text_aligns_one_to_one(self, analyzer: Analyzer) -> None:
        text = "瀘州市人民政府政務服務中心"
        normalised, origin = analyzer.align(text)
        assert normalised == "泸州市人民政府政务服务中心" and origin is None

    def test_an_expanding_character_keeps_offsets_into_the_original(self,
                                                                     analyzer: Analyzer) -> None:
        normalised, origin = analyzer.align("㈱部門")  # NFKC: ㈱ → (株)
        assert normalised == "(株)部门"
        assert origin is not None
        assert [origin[i] for i in range(len(normalised))] == [0, 0, 0, 1, 2]
        assert origin[len(normalised)] == 3


class TestTerms:
    def test_search_mode_yields_the_word_and_its_parts(self, analyzer: Analyzer) -> None:
        terms = analyzer.terms("养老保险")
        assert {"养老", "保险", "养老保险"} <= set(terms)

    def test_text_order_with_repeats(self, analyzer: Analyzer) -> None:
        terms = analyzer.terms("电梯坏了，电梯停运")
        assert terms.count("电梯") == 2
        assert terms.index("电梯") < terms.index("停运")

    def test_stop_words_and_punctuation_go_numbers_stay(self, analyzer: Analyzer) -> None:
        terms = analyzer.terms("请问2011年的并联审批怎么办理？！")
        assert "2011" in terms and "办理" in terms and "审批" in terms
        assert not {"请问", "的", "怎么", "？", "！", "?", "!"} & set(terms)

    def test_an_endless_token_is_cut_alike_in_articles_and_queries(self,
                                                                   analyzer: Analyzer) -> None:
        token = "x" * 80
        assert analyzer.terms(token) == ["x" * analysis.MAX_TERM]
        assert analyzer.terms(f"编号{token}的文件") == ["编号", "x" * analysis.MAX_TERM, "文件"]

    def test_only_stop_words_and_punctuation_give_no_terms(self, analyzer: Analyzer) -> None:
        assert analyzer.terms("  ，。！？…  的了吗  ") == []

    def test_traditional_and_simplified_give_the_same_terms(self, analyzer: Analyzer) -> None:
        assert analyzer.terms("部門窗口考核辦法") == analyzer.terms("部门窗口考核办法")
        assert analyzer.terms("並聯審批") == analyzer.terms("并联审批")

    def test_synonyms_fold_onto_the_canonical_word(self, analyzer: Analyzer) -> None:
        assert "城管" in analyzer.terms("城市管理")
        assert "城管" in analyzer.terms("市综合行政执法局")  # one token inside a longer word
        assert "社保" in analyzer.terms("社会保险")
        assert "医保" in analyzer.terms("医疗保险")
        assert "公积金" in analyzer.terms("住房公积金")
        assert "身份证" in analyzer.terms("居民身份证")
        assert "户口" in analyzer.terms("户籍")
        assert "社会保险" not in analyzer.terms("社会保险")

    def test_one_written_word_counts_each_term_once(self, analyzer: Analyzer) -> None:
        # jieba's own search mode would give 公积金 twice (公积金 inside, 住房公积金 folded)
        assert analyzer.terms("住房公积金").count("公积金") == 1
        assert analyzer.terms("居民身份证").count("身份证") == 1

    def test_variants_are_the_words_to_highlight(self, analyzer: Analyzer) -> None:
        variants = analyzer.variants("城管")
        assert {"城管", "城市管理", "综合行政执法"} <= set(variants)
        assert len(variants[0]) >= len(variants[-1])  # longest first
        assert analyzer.variants("电梯") == ("电梯",)

    def test_unloaded_analyzer_refuses(self) -> None:
        with pytest.raises(RuntimeError):
            Analyzer([("城管", "城市管理")]).terms("城管")


class TestSynonymTable:
    def test_file_format(self, tmp_path: Any) -> None:
        path = tmp_path / "syn.txt"
        path.write_text("# comment\n\n城管 城市管理  综合行政执法 # trailing\n孤词\n社保\t社会保险\n",
                        encoding="utf-8")
        assert load_synonyms(str(path)) == [("城管", "城市管理", "综合行政执法"),
                                             ("社保", "社会保险")]

    def test_the_default_table_is_a_real_one(self) -> None:
        groups = load_synonyms()
        assert len(groups) >= 60
        firsts = {g[0]: set(g) for g in groups}
        assert {"城市管理", "综合行政执法"} <= firsts["城管"]
        assert "社会保险" in firsts["社保"] and "医疗保险" in firsts["医保"]
        assert "住房公积金" in firsts["公积金"] and "居民身份证" in firsts["身份证"]
        assert "户籍" in firsts["户口"]
        words = [w for g in groups for w in g]
        assert len(words) == len(set(words)), "a word in two groups folds ambiguously"

    def test_a_custom_table_replaces_the_default(self) -> None:
        custom = shared_analyzer([("电梯", "升降梯")])
        assert "电梯" in custom.terms("升降梯") and "升降梯" not in custom.terms("升降梯")
        assert "城管" not in custom.terms("城市管理")


class TestVersion:
    def test_same_configuration_same_version(self) -> None:
        assert Analyzer().version == Analyzer().version == shared_analyzer().version

    def test_what_changes_terms_changes_the_version(self, monkeypatch: Any) -> None:
        base = Analyzer().version
        assert Analyzer([("城管", "城市管理")]).version != base
        assert Analyzer(dictionary_min_freq=1).version != base
        monkeypatch.setattr(analysis, "ANALYZER_REVISION", analysis.ANALYZER_REVISION + 1)
        assert Analyzer().version != base


class TestOnePerProcess:
    def test_one_analyzer_per_configuration(self) -> None:
        assert shared_analyzer() is shared_analyzer()
        other = shared_analyzer([("电梯", "升降梯")])
        assert other is not shared_analyzer() and other is shared_analyzer([("电梯", "升降梯")])

    def test_one_tokenizer_per_configuration(self) -> None:
        a = shared_tokenizer(["占道经营", "城管"], 5)
        assert shared_tokenizer(["城管", "占道经营"], 5) is a  # order does not matter
        assert shared_tokenizer(["城管"], 5) is not a  # other words: another tokenizer

    def test_extra_words_are_one_token(self) -> None:
        plain = load_tokenizer([], 5)
        with_word = load_tokenizer(["综合行政执法"], 5)
        assert "综合行政执法" not in plain.lcut("市综合行政执法局")
        assert "综合行政执法" in with_word.lcut("市综合行政执法局")
