"""The knowledge benchmark's measurement functions (bench/knowledge.py): the quality metrics on a
hand-made ranking, the synthetic corpus's determinism, and the labelled query file against the
demo corpus. No timing is measured or asserted here."""

from __future__ import annotations

import pytest

from bench import knowledge
from bench.knowledge import (
    Entry,
    evaluate,
    first_relevant_rank,
    query_problems,
    recall_at,
    reciprocal_rank,
    synthetic_corpus,
)

pytestmark = pytest.mark.timeout(120)


class TestMetrics:
    RANKED = ["a", "b", "c", "d", "e", "f", "g"]

    def test_first_relevant_rank_is_one_based(self):
        assert first_relevant_rank(self.RANKED, {"c", "f"}) == 3
        assert first_relevant_rank(self.RANKED, {"x"}) is None
        assert first_relevant_rank([], {"a"}) is None

    def test_recall_at_5_counts_the_relevant_among_the_first_five(self):
        assert recall_at(self.RANKED, {"a"}) == 1.0
        assert recall_at(self.RANKED, {"b", "f"}) == 0.5  # f is 6th
        assert recall_at(self.RANKED, {"f", "g"}) == 0.0
        assert recall_at(self.RANKED, {"a", "b", "c", "d"}, k=2) == 0.5
        assert recall_at(self.RANKED, set()) == 0.0

    def test_reciprocal_rank_of_the_first_relevant_hit(self):
        assert reciprocal_rank(self.RANKED, {"d", "b"}) == 0.5
        assert reciprocal_rank(self.RANKED, {"g"}) == pytest.approx(1 / 7)
        assert reciprocal_rank(self.RANKED, {"x"}) == 0.0

    def test_evaluate_aggregates_per_kind_and_follows_did_you_mean_for_typos(self):
        answers = {
            "q1": (["a", "b"], None),          # rank 1
            "q2": (["x", "y", "b"], None),     # rank 3
            "q3": (["x"], "q3 fixed"),         # a typo: missed, suggestion finds it first
            "q3 fixed": (["c"], None),
            "q4": (["x", "y", "z", "w", "v", "a"], None),  # rank 6: beyond 5
        }
        queries = [
            {"q": "q1", "kind": "keyword", "relevant": ["a"]},
            {"q": "q2", "kind": "keyword", "relevant": ["b", "c"]},
            {"q": "q3", "kind": "typo", "relevant": ["c"]},
            {"q": "q4", "kind": "question", "relevant": ["a"]},
        ]
        result = evaluate(queries, lambda q: answers[q])

        overall = result["overall"]
        assert overall["n"] == 4
        assert overall["mrr"] == round((1 + 1 / 3 + 0 + 1 / 6) / 4, 3)
        assert overall["recall_at_5"] == round((1 + 0.5 + 0 + 0) / 4, 3)
        assert overall["hit_at_5"] == 0.5
        assert result["by_kind"]["keyword"] == {"n": 2, "recall_at_5": 0.75, "hit_at_5": 1.0,
                                                "mrr": round((1 + 1 / 3) / 2, 3)}
        assert result["typo_after_did_you_mean"]["mrr"] == 1.0
        assert result["typo_suggestions_offered"] == 1
        assert [m["q"] for m in result["misses"]] == ["q2", "q3", "q4"]


def _tiny_corpus() -> list[Entry]:
    text = ("城市管理综合执法负责占道经营和流动摊贩的查处。夜间施工噪声由城管现场核查。\n"
            "城乡居民基本养老保险参保登记，到户籍所在地社区社保服务窗口申请。\n"
            "停水了可以拨打供水抢修电话，抢修一般4小时内恢复供水。")
    return [
        Entry("demo:a", "占道经营查处", text, "responsibility", "chengguan"),
        Entry("demo:b", "养老保险参保登记", text, "guide", "renshe",
              fields={"project_name": "养老保险参保登记", "materials": "居民身份证",
                      "procedure": "窗口申请", "time_limit": "即办", "fee_standard": "不收费"}),
        Entry("demo:c", "停水了怎么办", text, "faq", "shuiwu"),
    ]


class TestSyntheticCorpus:
    def test_the_same_seed_gives_the_same_articles(self):
        corpus = _tiny_corpus()
        assert synthetic_corpus(corpus, 50, seed=7) == synthetic_corpus(corpus, 50, seed=7)
        assert synthetic_corpus(corpus, 50, seed=7) != synthetic_corpus(corpus, 50, seed=8)

    def test_articles_are_unique_by_type_and_title_and_loadable(self):
        corpus = _tiny_corpus()
        made = synthetic_corpus(corpus, 200, seed=1)
        keys = {(e.article_type, e.title) for e in [*corpus, *made]}
        assert len(keys) == len(corpus) + 200  # load_entries skips a repeated type and title
        assert {e.article_type for e in made} == {"policy", "guide", "faq", "responsibility"}
        for e in made:
            assert e.body and len(e.title) <= 200
            if e.article_type == "guide":
                assert {"project_name", "materials", "procedure", "time_limit",
                        "fee_standard"} <= set(e.fields)

    def test_bodies_are_made_of_the_real_paragraphs(self):
        corpus = _tiny_corpus()
        pool = set(knowledge.paragraphs(corpus))
        for e in synthetic_corpus(corpus, 20, seed=3):
            assert set(e.body.split("\n")) <= pool


class TestQueryFile:
    @pytest.fixture(scope="class")
    def corpus(self):
        try:
            return knowledge.demo_corpus()
        except RuntimeError as exc:  # no ../shared/seeds beside this checkout
            pytest.skip(str(exc))

    def test_at_least_100_queries_each_label_an_entry_of_the_corpus(self, corpus):
        queries = knowledge.load_queries()
        assert len(queries) >= 100
        assert query_problems(queries, [e.key for e in corpus]) == []

    def test_the_kinds_asked_for_are_all_there(self):
        kinds = {q["kind"] for q in knowledge.load_queries()}
        assert {"keyword", "question", "synonym", "traditional", "typo"} <= kinds

    def test_problems_are_named(self):
        problems = query_problems([{"q": "社保", "kind": "keyword", "relevant": ["demo:x"]},
                                   {"q": "社保", "kind": "", "relevant": []}],
                                  ["demo:y"], minimum=3)
        assert problems == ["2 queries, fewer than 3",
                            "query 0 (社保): demo:x is not an entry of the corpus",
                            "query 1 (社保): repeated", "query 1 (社保): no kind",
                            "query 1 (社保): no relevant entry"]

    def test_the_corpus_keys_are_unique_and_the_demo_and_seeds_are_in_it(self, corpus):
        keys = [e.key for e in corpus]
        assert len(keys) == len(set(keys))
        assert "demo:duty:center" in keys
        assert any(k.startswith("import:004_") for k in keys)
        # the service maps hits back to keys by type and title: they must be unique too
        assert len({(e.article_type, e.title) for e in corpus}) == len(corpus)
