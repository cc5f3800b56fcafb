"""Small stand-ins for the search module (services/knowledge/analysis.py, search.py) with the
same interface routing help uses: an analyser's ``terms(text)`` and an index's
``rank(terms, filters, limit) → [(article_id, score, matched_terms)]``.

``engine()`` gives the real analyser and Index when the search module is present and these
fakes otherwise, so the labelled accuracy is measured on what production runs.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from tests.routing_labelled import ENTRIES, Entry


@dataclass(frozen=True)
class FakeFilters:
    article_type: str | None = None
    department_code: str | None = None
    category: str | None = None
    territory_code: str | None = None
    on: date | None = None


class FakeAnalyzer:
    """jieba with the intake's domain words and synonym folding (services/intake/similarity)."""

    version = "fake-1"

    def __init__(self) -> None:
        from services.intake.similarity import Segmenter

        self._seg = Segmenter().load()

    def terms(self, text: str) -> list[str]:
        return sorted(self._seg.tokens(text))


class FakeIndex:
    """BM25 (k1 1.2, b 0.75) over analysed documents; territories () = city-wide, else a
    prefix of the order's territory code."""

    def __init__(self) -> None:
        self.docs: dict[int, tuple[Counter[str], str, tuple[str, ...]]] = {}

    def put(self, article_id: int, terms: list[str], article_type: str,
            territories: tuple[str, ...] = ()) -> None:
        self.docs[article_id] = (Counter(terms), article_type, territories)

    def rank(self, terms: list[str], filters: Any, *,
             limit: int = 10) -> list[tuple[int, float, list[str]]]:
        n = len(self.docs) or 1
        avg = sum(sum(c.values()) for c, _, _ in self.docs.values()) / n
        df = Counter(t for c, _, _ in self.docs.values() for t in c)
        out = []
        for aid, (tf, kind, territories) in self.docs.items():
            if filters.article_type and kind != filters.article_type:
                continue
            if territories and not (filters.territory_code and any(
                    filters.territory_code.startswith(t) for t in territories)):
                continue
            length = sum(tf.values())
            score, matched = 0.0, []
            for t in dict.fromkeys(terms):
                if tf[t]:
                    idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                    score += idf * tf[t] * 2.2 / (tf[t] + 1.2 * (0.25 + 0.75 * length / avg))
                    matched.append(t)
            if score > 0:
                out.append((aid, score, matched))
        out.sort(key=lambda r: -r[1])
        return out[:limit]


@dataclass
class Engine:
    analyzer: Any
    index: Any
    filters: Any
    real: bool


def engine(entries: list[Entry] = ENTRIES) -> Engine:
    """The analyser, an index holding ``entries`` and the Filters class."""
    try:
        from services.knowledge.analysis import shared_analyzer
        from services.knowledge.search import Document, Filters, Index, analyze
    except ImportError:
        analyzer: Any = FakeAnalyzer()
        index: Any = FakeIndex()
        for e in entries:
            index.put(e.article_id, analyzer.terms(e.title + "\n" + e.text), "responsibility",
                      e.territories)
        return Engine(analyzer, index, FakeFilters, real=False)
    analyzer = shared_analyzer()
    index = Index(analyzer)
    for e in entries:
        index.put(analyze(Document(article_id=e.article_id, version=1, title=e.title,
                                   text=e.text, article_type="responsibility",
                                   department_code=e.department_code,
                                   territories=e.territories), analyzer))
    return Engine(analyzer, index, Filters, real=True)
