"""The search engine's pruned top-k (services.knowledge.search ``Index._top``) against scorers
that score every matching article: the same hits in the same order with the same scores, and
the same ``total``, under any sequence of puts, removes and searches (the per-term bounds are
cached between changes), for short and long queries, filters, limits and offsets.

Articles are drawn from a small vocabulary with a skewed distribution, so that some terms are
in most articles (the common terms pruning skips) and some in few.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.knowledge.analysis import shared_analyzer
from services.knowledge.search import AnalyzedDocument, Document, Filters, Index, Tuning

WORDS = ["停水", "停电", "检修", "路灯", "维修", "城管", "执法", "社保", "医保", "公积金",
         "户口", "迁移", "办理", "材料", "窗口", "电话", "咨询", "政务", "服务", "中心"]
TYPES = ["faq", "guide"]


def _terms() -> st.SearchStrategy[dict[str, int]]:
    # a word's chance falls with its place in WORDS: 办理 … 中心 less often than 停水
    weighted = st.integers(0, len(WORDS) ** 2 - 1).map(lambda i: WORDS[math.isqrt(i)])
    return st.lists(weighted, max_size=12).map(lambda ws: dict(Counter(ws)))


@st.composite
def _article(draw: Any) -> AnalyzedDocument:
    aid = draw(st.integers(1, 12))
    title = draw(_terms())
    text = draw(_terms())
    document = Document(article_id=aid, version=1, title="", text="",
                        article_type=draw(st.sampled_from(TYPES)), department_code=None)
    return AnalyzedDocument(document, title, text, shared_analyzer().version)


_QUERY = st.lists(st.sampled_from(WORDS + ["无此词"]), min_size=1, max_size=30)
_OP = st.one_of(
    st.tuples(st.just("put"), _article()),
    st.tuples(st.just("remove"), st.integers(1, 12)),
    st.tuples(st.just("search"), st.tuples(_QUERY, st.sampled_from([None, *TYPES]),
                                            st.integers(0, 6), st.integers(0, 4))),
)


def brute_force(live: dict[int, AnalyzedDocument], terms: list[str], article_type: str | None,
                t: Tuning) -> list[tuple[int, float]]:
    """BM25F as the module docstring defines it, from the articles' analyses: every matching,
    admitted article with its score, best first (ties by article_id)."""
    n = len(live)
    if not n:
        return []
    avg_title = sum(sum(a.title_terms.values()) for a in live.values()) / n or 1.0
    avg_text = sum(sum(a.text_terms.values()) for a in live.values()) / n or 1.0
    query = Counter(terms)
    out = []
    for aid, a in live.items():
        title_len, text_len = sum(a.title_terms.values()), sum(a.text_terms.values())
        nt = t.title_weight / (1 - t.b_title + t.b_title * title_len / avg_title)
        nb = t.text_weight / (1 - t.b_text + t.b_text * text_len / avg_text)
        score, matched = 0.0, 0
        for term, qtf in query.items():
            if not (a.title_terms.get(term) or a.text_terms.get(term)):
                continue
            df = sum(1 for b in live.values() if b.title_terms.get(term) or b.text_terms.get(term))
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            tf = a.title_terms.get(term, 0) * nt + a.text_terms.get(term, 0) * nb
            score += idf * qtf * (t.k3 + 1) / (t.k3 + qtf) * tf * (t.k1 + 1) / (t.k1 + tf)
            matched += 1
        if matched and (article_type is None or a.document.article_type == article_type):
            out.append((aid, score * (1 + t.coordination * matched / len(query))))
    out.sort(key=lambda s: (-s[1], s[0]))
    return out


def _check(index: Index, live: dict[int, AnalyzedDocument], terms: list[str],
           article_type: str | None, limit: int, offset: int) -> None:
    filters = Filters(article_type=article_type)
    query_tf = dict(Counter(terms))
    total, top = index._top(query_tf, filters, offset + limit)
    # the exhaustive scorer of the same index: the very same floats
    every = sorted(index._score(query_tf, None if filters.empty else filters.admits),
                   key=lambda s: (-s[1], s[0]))
    assert total == len(every)
    assert top == every[:offset + limit]
    # "did you mean" counts matches without scoring them
    assert index._count(terms, None if filters.empty else filters.admits) == total
    # the definition, computed independently: the same scores to rounding
    expected = brute_force(live, terms, article_type, index.tuning)
    assert total == len(expected)
    assert [aid for aid, _ in top] == [aid for aid, _ in expected[:offset + limit]]
    for (_, got), (_, want) in zip(top, expected, strict=False):
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)
    # rank() is the same top (repeated terms count), from offset 0
    ranked = index.rank(terms, filters, limit=offset + limit)
    assert [(aid, score) for aid, score, _ in ranked] == top


class TestPrunedTopK:
    @settings(max_examples=150, deadline=None)
    @given(st.lists(_OP, max_size=40))
    def test_pruned_top_equals_exhaustive_scoring_through_churn(self,
                                                                ops: list[Any]) -> None:
        index = Index(shared_analyzer())
        live: dict[int, AnalyzedDocument] = {}
        for op, arg in ops:
            if op == "put":
                if not (arg.title_terms or arg.text_terms):
                    continue  # an article without terms is not one the service publishes
                index.put(arg)
                live[arg.document.article_id] = arg
            elif op == "remove":
                index.remove(arg)
                live.pop(arg, None)
            else:
                terms, article_type, limit, offset = arg
                _check(index, live, terms, article_type, limit, offset)
        for terms in (WORDS, WORDS[:3], WORDS[-5:] * 3, ["无此词"]):
            for limit, offset in ((1, 0), (3, 2), (0, 0), (10, 0)):
                _check(index, live, list(terms), None, limit, offset)
                _check(index, live, list(terms), "faq", limit, offset)

    def test_long_query_over_many_articles_prunes_and_agrees(self) -> None:
        """Twenty query terms over 300 articles in which the common words are in almost all:
        pruning starts (the common terms only complete scores) and changes nothing."""
        import random

        rng = random.Random(7)
        analyzer = shared_analyzer()
        index = Index(analyzer)
        live: dict[int, AnalyzedDocument] = {}
        for aid in range(1, 301):
            text = Counter(rng.choice(WORDS[10:]) for _ in range(30))
            text.update(rng.sample(WORDS[:10], rng.randint(0, 2)))
            title = Counter(rng.sample(WORDS, 2))
            a = AnalyzedDocument(Document(aid, 1, "", "", rng.choice(TYPES), None),
                                 dict(title), dict(text), analyzer.version)
            index.put(a)
            live[aid] = a
        for _ in range(20):
            terms = rng.sample(WORDS, 20)
            _check(index, live, terms, None, 10, 0)
            _check(index, live, terms, "guide", 5, 5)
        index.remove(1)
        live.pop(1)
        _check(index, live, WORDS, None, 10, 0)
