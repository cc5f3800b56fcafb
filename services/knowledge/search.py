"""The knowledge base's search engine (资料库检索): an in-memory BM25 index of published articles.

Plain Python, no nameko, no database: the knowledge service's index provider feeds it
(:meth:`Index.put` on publication, :meth:`Index.remove` on archive, rebuilt from the stored
:class:`AnalyzedDocument` rows at start), routing help ranks 部门职能 entries with
:meth:`Index.rank`, the benchmark measures it. Articles are analysed once, when published
(:func:`analyze`, the costly part: jieba), and stored as JSON (:meth:`AnalyzedDocument.to_dict`)
so a restart rebuilds the index without segmenting anything again — unless the analyzer's
version changed, which :meth:`Index.put` refuses (re-analyse first).

Ranking — BM25F (Robertson & Zaragoza's simple BM25F): a term's frequencies in the title and in
the text are each normalised by their field's length against the field's average, weighted
(title ``title_weight`` = 3 × text) and summed *before* BM25's saturation::

    tf~(t, d) = Σ_field  w_f · tf_f / (1 − b_f + b_f · len_f / avg_len_f)
    score(d)  = Σ_t  idf(t) · qw(t) · tf~ · (k1 + 1) / (k1 + tf~)
    idf(t)    = ln(1 + (N − df + 0.5) / (df + 0.5))                  (never negative)
    qw(t)     = qtf · (k3 + 1) / (k3 + qtf)     (a word repeated in a long order text counts more,
                                                 with saturation; 1 for a term said once)

Summing before saturation (rather than one BM25 per field) keeps a term that appears in both
title and text from being counted as two independent pieces of evidence. Then a mild
coordination factor ``× (1 + coordination · matched / distinct query terms)`` prefers articles
that match more of what was asked; ties are broken by ``article_id`` (deterministic pages).

Top-k without scoring every match (term-at-a-time "max score" pruning, exact): a term adds at
most ``idf · qw · (k1 + 1) · m / (k1 + m)`` to a score, m its largest tf~ (kept per term until
the next put or remove). Terms are added largest bound first; once the k-th best score so far
(k = offset + limit) beats what an article found by none of them yet could reach with all the
rest, the remaining — common — terms only complete the scores of the articles already found,
and those that cannot reach the k-th score are dropped. ``total`` (matches under the filters)
is the union of the postings' ids, counted, not scored. The exhaustive scorer adds the terms
in the same order: the same floats (tests/unit/test_knowledge_search_pruning.py).

Snippets: a window of ``snippet_chars`` characters of the text where the query's terms are
densest (most distinct terms, then most occurrences), started at a sentence boundary when one
is near, with "…" where cut. Highlights are found in the *normalised* text (analysis.py) — the
matched terms and their synonyms (a 城管 query highlights 城市管理) — and reported as offsets into
the original text: a traditional-character article matched by a simplified query is
highlighted in its own characters. ``highlights`` index the returned ``snippet`` (ellipsis
included); ``title_highlights`` index the title.

Did you mean (:meth:`Index.suggest`): when a query finds fewer than ``suggest_below`` articles,
has a term no article has, or has two characters side by side that make no known word (户口迁已
is cut 户口 / 迁 / 已), its words that are not index terms are compared with the vocabulary: a
homophone (same toneless pinyin: 社宝 → 社保, 公基金 → 公积金) or a word one character away
(inserted, dropped, or wrong in a word of four or more: 养老保检 → 养老保险; one wrong character
in three is a guess, 话务员 is not 公务员) that at least ``suggest_min_df`` articles have (or a
word of the synonym table). Homophones first (the usual slip of pinyin input), then longer
corrections, then the more frequent word. The vocabulary is kept indexed by pinyin key and by
one-character deletions as terms come and go, so a suggestion costs dictionary look-ups, never
a scan of the vocabulary. A correction replaces unknown words whole and changes only characters
outside the query's known words (a homophone may re-cut them: 公基金 is cut 公 / 基金); it is
proposed only if the corrected query finds articles and either finds more of them or leaves
fewer characters outside known words. Pinyin comes from pypinyin's character table, read as
data: importing pypinyin itself loads its phrase dictionary (≈58 MB of memory), which a key of
single characters' first readings does not need.

Memory: postings are one typed array per term (``article_id`` and packed title/text frequencies,
4 bytes each), not dicts of tuples: 8 bytes a posting instead of ≈100, so article ids must fit
in 32 bits. Measured on 10,000 articles: ≈41 MB for the index, texts included, with 1.1 M
postings over 4,300 terms (articles of ≈380 characters cut from the seed documents); ≈57 MB with
0.66 M postings over 88,000 terms (a vocabulary as large as jieba's dictionary allows); beside
≈45 MB for jieba's trimmed dictionary and OpenCC.

Speed (the same machine, 2 cores shared): ``search`` p50 ≈1.5 ms, p95 ≈10 ms over 10,000
articles; ``put`` of 10,000 stored analyses ≈1.3 s; :func:`analyze` ≈900 articles/s (jieba);
``rank`` of a 400-character order text under an article-type filter ≈20 ms (an index of only
部门职能 entries is faster still).

Concurrency: nameko's workers are greenlets of one process; ``put``/``remove``/``search`` do no
I/O and never yield, so each runs to completion and the next sees consistent structures.
"""

from __future__ import annotations

import heapq
import importlib.util
import json
import math
import os
import re
import sys
import unicodedata
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from services.knowledge.analysis import Analyzer

MAX_QUERY = 200

_TF_BITS = 24  # packed posting: title frequency << 24 | text frequency
_TF_MASK = (1 << _TF_BITS) - 1
_HAN = re.compile(r"^[\u3400-\u9fff]+$")
_SENTENCE_END = "。！？；!?;\n"
_SUGGEST_MAX_SPAN = 6
_MAX_OCCURRENCES = 500  # per word and text, for snippets: bounds the work on a long article
_SUGGEST_MAX_TRIES = 4
_ADMITTED_KEPT = 16  # filters whose admitted articles are kept (≈0.5 MB each at 10,000)


# -- documents -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Document:
    """What the index knows of one published article version (资料条目)."""

    article_id: int
    version: int
    title: str
    text: str
    article_type: str  # a code of ARTICLE_TYPES (services/knowledge/domain.py): policy 政策法规,
    # guide 办事指南, responsibility 部门职能, faq 常见问答
    department_code: str | None  # the owner department (归属单位)
    categories: tuple[str, ...] = ()  # () = applies to every category
    territories: tuple[str, ...] = ()  # () = the whole city; else administrative code prefixes
    valid_from: date | None = None
    valid_until: date | None = None


@dataclass(frozen=True)
class AnalyzedDocument:
    """A document with its terms' frequencies per field, under one analyzer version."""

    document: Document
    title_terms: dict[str, int]
    text_terms: dict[str, int]
    analyzer_version: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (stored in a JSON column); :meth:`from_dict` reads it back."""
        doc = asdict(self.document)
        doc["categories"] = list(self.document.categories)
        doc["territories"] = list(self.document.territories)
        for key in ("valid_from", "valid_until"):
            doc[key] = doc[key].isoformat() if doc[key] else None
        return {"document": doc, "title_terms": dict(self.title_terms),
                "text_terms": dict(self.text_terms), "analyzer_version": self.analyzer_version}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AnalyzedDocument:
        doc = dict(d["document"])
        doc["categories"] = tuple(doc.get("categories") or ())
        doc["territories"] = tuple(doc.get("territories") or ())
        for key in ("valid_from", "valid_until"):
            value = doc.get(key)
            doc[key] = date.fromisoformat(value) if value else None
        return cls(document=Document(**doc),
                   title_terms={str(k): int(v) for k, v in d["title_terms"].items()},
                   text_terms={str(k): int(v) for k, v in d["text_terms"].items()},
                   analyzer_version=str(d["analyzer_version"]))


def analyze(doc: Document, analyzer: Analyzer) -> AnalyzedDocument:
    """Segment an article's title and text (the costly step, done once per published version)."""
    return AnalyzedDocument(doc, dict(Counter(analyzer.terms(doc.title))),
                            dict(Counter(analyzer.terms(doc.text))), analyzer.version)


# -- queries and results ---------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    """Which articles a search may return; a None field does not filter.

    ``category``: articles listing it, or listing no category (they apply to all).
    ``territory_code``: an order's or caller's place; an article applies when it names no
    territory (the whole city) or one that is a prefix of the code (administrative codes are
    hierarchical: 510504 district → 510504001 street → 510504001001 community).
    ``on``: articles valid that day (``valid_from <= on <= valid_until``, open ends).
    """

    article_type: str | None = None
    department_code: str | None = None
    category: str | None = None
    territory_code: str | None = None
    on: date | None = None

    def admits(self, doc: Document) -> bool:
        if self.article_type is not None and doc.article_type != self.article_type:
            return False
        if self.department_code is not None and doc.department_code != self.department_code:
            return False
        if self.category is not None and doc.categories and self.category not in doc.categories:
            return False
        if (self.territory_code is not None and doc.territories
                and not any(self.territory_code.startswith(t) for t in doc.territories)):
            return False
        if self.on is not None:
            if doc.valid_from is not None and self.on < doc.valid_from:
                return False
            if doc.valid_until is not None and self.on > doc.valid_until:
                return False
        return True

    @property
    def empty(self) -> bool:
        return self == _NO_FILTERS


_NO_FILTERS = Filters()


@dataclass(frozen=True)
class Hit:
    article_id: int
    version: int
    title: str
    article_type: str
    department_code: str | None
    score: float
    matched: tuple[str, ...]  # the query's terms the article has (canonical forms)
    snippet: str
    highlights: tuple[tuple[int, int], ...]  # [start, end) in snippet
    title_highlights: tuple[tuple[int, int], ...]  # [start, end) in title


@dataclass(frozen=True)
class Results:
    query: str  # as searched: stripped, truncated to MAX_QUERY
    terms: tuple[str, ...]
    total: int
    hits: tuple[Hit, ...]
    did_you_mean: str | None


@dataclass(frozen=True)
class Tuning:
    """The index's knobs (``Index(analyzer, **tuning)``); defaults are Lucene's BM25 and
    values that ranked the Chinese fixtures of tests/unit/test_knowledge_search.py well."""

    k1: float = 1.2
    b_title: float = 0.5  # titles are short and alike in length: normalise them less
    b_text: float = 0.75
    title_weight: float = 3.0
    text_weight: float = 1.0
    k3: float = 8.0
    coordination: float = 0.3
    snippet_chars: int = 100
    suggest_below: int = 3
    # a word is proposed by "did you mean" once this many articles have it (synonym table
    # words always are): rare words are rarely what was meant, and they are most of a large
    # vocabulary's memory
    suggest_min_df: int = 2


# -- pinyin keys -----------------------------------------------------------------------------

_pinyin_table: dict[str, str] | None = None


def _pinyin() -> dict[str, str]:
    """Character → its first reading without tone (pypinyin's table, read as data)."""
    global _pinyin_table
    if _pinyin_table is None:
        spec = importlib.util.find_spec("pypinyin")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("pypinyin is not installed")
        path = os.path.join(list(spec.submodule_search_locations)[0], "pinyin_dict.json")
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
        readings: dict[str, str] = {}
        table: dict[str, str] = {}
        for code, value in raw.items():
            if int(code) > 0x9FFF:
                continue  # beyond the characters a key is made of (_HAN)
            marked = value.split(",", 1)[0]
            plain = "".join(c for c in unicodedata.normalize("NFD", marked)
                            if not unicodedata.combining(c))
            table[chr(int(code))] = readings.setdefault(plain, plain)  # one str per reading
        _pinyin_table = table
    return _pinyin_table


def pinyin_key(word: str) -> str | None:
    """``"she bao"`` for 社保 and 社宝; None when a character has no reading."""
    table = _pinyin()
    out = []
    for ch in word:
        reading = table.get(ch)
        if reading is None:
            return None
        out.append(reading)
    return " ".join(out)


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def _one_edit(a: str, b: str) -> bool:
    """Whether a and b differ by exactly one inserted, deleted or substituted character."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


# -- the index -------------------------------------------------------------------------------

class _Entry:
    __slots__ = ("document", "terms", "title_len", "text_len")

    def __init__(self, document: Document, terms: tuple[str, ...], title_len: int,
                 text_len: int):
        self.document = document
        self.terms = terms
        self.title_len = title_len
        self.text_len = text_len


class Index:
    """In-memory BM25F index of analysed articles; see the module docstring for the ranking."""

    def __init__(self, analyzer: Analyzer, **tuning: Any):
        self.analyzer = analyzer
        self.tuning = Tuning(**tuning)
        self._min_df = max(1, self.tuning.suggest_min_df)
        self._entries: dict[int, _Entry] = {}
        # term → array('I') of article_id, packed frequencies, article_id, packed, …
        self._postings: dict[str, array] = {}
        self._title_total = 0
        self._text_total = 0
        self._norms: dict[int, tuple[float, float]] | None = None  # per article, lazily
        self._max_tfs: dict[str, float] = {}  # per term, lazily (with the norms)
        # the articles some recent filters admit (with the norms: until the next change)
        self._admitted: dict[Filters, set[int]] = {}
        # did-you-mean's vocabulary: pinyin key / one-character deletion → the word, or a tuple
        # of words when several share the key (most keys have one: a set each would cost
        # ≈200 bytes, the bulk of the index's memory on a large vocabulary)
        self._by_pinyin: dict[str, str | tuple[str, ...]] = {}
        self._by_deletion: dict[str, str | tuple[str, ...]] = {}
        self._synonym_words = analyzer.synonym_words
        for word in self._synonym_words:
            self._add_to_vocabulary(word)

    # -- maintenance -----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._entries

    def put(self, doc: AnalyzedDocument) -> None:
        """Add an article, or replace the one with the same ``article_id``.

        Raises ValueError when ``doc`` was analysed under another analyzer version: its terms
        would not meet the queries' (re-analyse it with :func:`analyze`).
        """
        if doc.analyzer_version != self.analyzer.version:
            raise ValueError(f"article {doc.document.article_id} was analysed with "
                             f"{doc.analyzer_version}, the index uses {self.analyzer.version}")
        article_id = doc.document.article_id
        if not 0 <= article_id < 1 << 32:
            raise ValueError(f"article_id {article_id} is outside 0 … 2**32 - 1")
        self.remove(article_id)
        terms = set(doc.title_terms) | set(doc.text_terms)
        postings = self._postings
        stored: list[str] = []
        for term in terms:
            tf_title = min(doc.title_terms.get(term, 0), 255)
            tf_text = min(doc.text_terms.get(term, 0), _TF_MASK)
            if tf_title <= 0 and tf_text <= 0:
                continue
            # one str object per term, shared by the postings' key and every entry's tuple
            term = sys.intern(term)
            plist = postings.get(term)
            if plist is None:
                plist = postings[term] = array("I")
            plist.append(article_id)
            plist.append(tf_title << _TF_BITS | tf_text)
            if len(plist) == 2 * self._min_df:
                self._add_to_vocabulary(term)  # now frequent enough to be suggested
            stored.append(term)
        title_len = sum(v for v in doc.title_terms.values() if v > 0)
        text_len = sum(v for v in doc.text_terms.values() if v > 0)
        self._entries[article_id] = _Entry(doc.document, tuple(stored), title_len, text_len)
        self._title_total += title_len
        self._text_total += text_len
        self._norms = None

    def remove(self, article_id: int) -> None:
        """Take an article out of the index (archived, expired); unknown ids are ignored."""
        entry = self._entries.pop(article_id, None)
        if entry is None:
            return
        for term in entry.terms:
            plist = self._postings[term]
            i = plist[0::2].index(article_id)
            del plist[2 * i:2 * i + 2]
            if (len(plist) == 2 * self._min_df - 2
                    and term not in self._synonym_words):
                self._drop_from_vocabulary(term)
            if not plist:
                del self._postings[term]
        self._title_total -= entry.title_len
        self._text_total -= entry.text_len
        self._norms = None

    def _add_to_vocabulary(self, term: str) -> None:
        if not (2 <= len(term) <= 8 and _HAN.match(term)):
            return
        key = pinyin_key(term)
        if key is not None:
            self._file(self._by_pinyin, key, term)
        # deletions of words of four or more only: they serve a query one character short of
        # such a word (养老保 → 养老保险) or one character wrong in it (养老保检); a shorter
        # word is reached by sound alone (one character in three is a guess)
        if len(term) >= 4:
            for d in _deletions(term):
                self._file(self._by_deletion, d, term)

    def _drop_from_vocabulary(self, term: str) -> None:
        if not (2 <= len(term) <= 8 and _HAN.match(term)):
            return
        key = pinyin_key(term)
        if key is not None:
            self._unfile(self._by_pinyin, key, term)
        if len(term) >= 4:
            for d in _deletions(term):
                self._unfile(self._by_deletion, d, term)

    @staticmethod
    def _file(table: dict[str, str | tuple[str, ...]], key: str, term: str) -> None:
        words = table.get(key)
        if words is None:
            table[key] = term
        elif isinstance(words, str):
            if words != term:
                table[key] = (words, term)
        elif term not in words:
            table[key] = (*words, term)

    @staticmethod
    def _unfile(table: dict[str, str | tuple[str, ...]], key: str, term: str) -> None:
        words = table.get(key)
        if words == term:
            del table[key]
        elif isinstance(words, tuple) and term in words:
            rest = tuple(w for w in words if w != term)
            table[key] = rest[0] if len(rest) == 1 else rest

    @staticmethod
    def _filed(table: dict[str, str | tuple[str, ...]], key: str) -> tuple[str, ...]:
        words = table.get(key)
        if words is None:
            return ()
        return (words,) if isinstance(words, str) else words

    # -- ranking ---------------------------------------------------------------------------

    def _field_norms(self) -> dict[int, tuple[float, float]]:
        """Per article: field weight / BM25 length normalisation, recomputed after a change
        (the averages move with every put). Each term's greatest tf~ (:meth:`_max_tf`) is
        forgotten with them."""
        if self._norms is None:
            t = self.tuning
            n = len(self._entries) or 1
            avg_title = self._title_total / n or 1.0
            avg_text = self._text_total / n or 1.0
            self._norms = {
                aid: (t.title_weight / (1 - t.b_title + t.b_title * e.title_len / avg_title),
                      t.text_weight / (1 - t.b_text + t.b_text * e.text_len / avg_text))
                for aid, e in self._entries.items()}
            self._max_tfs = {}
            self._admitted = {}
        return self._norms

    def _max_tf(self, term: str, plist: array) -> float:
        """The greatest tf~ of ``term`` over its postings: bounds what the term adds to any
        article's score. Computed on first use and kept until the next put or remove."""
        norms = self._field_norms()
        m = self._max_tfs.get(term)
        if m is None:
            it = iter(plist)
            m = 0.0
            for aid, packed in zip(it, it, strict=True):
                nt, nb = norms[aid]
                tf = (packed >> _TF_BITS) * nt + (packed & _TF_MASK) * nb
                if tf > m:
                    m = tf
            self._max_tfs[term] = m
        return m

    def _weighted(self, query_tf: dict[str, int]) -> list[tuple[array, float, float]]:
        """The query's terms that articles have, as ``(postings, weight, bound)``, the
        greatest bound first (then the rarer term, then the term): ``weight`` is idf · qw ·
        (k1 + 1), ``bound`` the most the term adds to an article's score. Scoring adds the
        terms in this order, pruned or not, so both sum the same floats in the same order."""
        t = self.tuning
        k1, k3 = t.k1, t.k3
        n = len(self._entries)
        out = []
        for term, qtf in query_tf.items():
            plist = self._postings.get(term)
            if plist is None:
                continue
            df = len(plist) // 2
            weight = (math.log(1 + (n - df + 0.5) / (df + 0.5)) * (k1 + 1)
                      * qtf * (k3 + 1) / (k3 + qtf))
            m = self._max_tf(term, plist)
            out.append((term, plist, weight, weight * m / (k1 + m)))
        out.sort(key=lambda w: (-w[3], len(w[1]), w[0]))
        return [(plist, weight, bound) for _, plist, weight, bound in out]

    def _score(self, query_tf: dict[str, int],
               admits: Callable[[Document], bool] | None) -> list[tuple[int, float]]:
        """Every matching, admitted article with its score (unordered): the exhaustive
        scorer, which :meth:`_top`'s pruned one must agree with."""
        t = self.tuning
        k1 = t.k1
        entries = self._entries
        n = len(entries)
        norms = self._field_norms()
        plists = self._weighted(query_tf)
        admitted: set[int] | None = None
        if admits is not None and sum(len(p) for p, _, _ in plists) // 2 > n:
            # a long text (routing help) over a filter: deciding each article once up front is
            # cheaper than scoring postings that the filter would throw away
            admitted = {aid for aid, e in entries.items() if admits(e.document)}
        # two dicts of floats and ints, not one of [score, count] lists: a list per article
        # is a GC-tracked object, and thousands of them per query set off the collector
        scores: dict[int, float] = {}
        matched: dict[int, int] = {}
        for plist, weight, _ in plists:
            it = iter(plist)
            for aid, packed in zip(it, it, strict=True):
                if admitted is not None and aid not in admitted:
                    continue
                nt, nb = norms[aid]
                tf = (packed >> _TF_BITS) * nt + (packed & _TF_MASK) * nb
                scores[aid] = scores.get(aid, 0.0) + weight * tf / (k1 + tf)
                matched[aid] = matched.get(aid, 0) + 1
        coordination = t.coordination / (len(query_tf) or 1)
        if admitted is not None or admits is None:
            return [(aid, s * (1 + coordination * matched[aid])) for aid, s in scores.items()]
        return [(aid, s * (1 + coordination * matched[aid])) for aid, s in scores.items()
                if admits(entries[aid].document)]

    def _count(self, terms: Iterable[str],
               admits: Callable[[Document], bool] | None) -> int:
        """How many admitted articles have any of ``terms`` (``len(_score(…))`` without
        scoring them: "did you mean" only counts)."""
        found: set[int] = set()
        for term in dict.fromkeys(terms):
            plist = self._postings.get(term)
            if plist is not None:
                found.update(plist[0::2])
        if admits is None:
            return len(found)
        entries = self._entries
        return sum(1 for aid in found if admits(entries[aid].document))

    def _top(self, query_tf: dict[str, int], filters: Filters,
             count: int) -> tuple[int, list[tuple[int, float]]]:
        """``(total, the best count articles)``: exact top-k with term-at-a-time pruning.

        Terms are added greatest bound first. Once the count-th best score so far (a lower
        bound of the final one: scores and matched counts only grow) beats the most an
        article found by none of the terms so far could reach — the remaining terms' bounds
        summed, times the coordination of matching all of them — no new article can enter
        the top: the remaining (common) terms then only complete the scores of the articles
        already found, looked up by id, and add their ids to the count of matches (total).
        """
        admits = None if filters.empty else filters.admits
        t = self.tuning
        k1 = t.k1
        entries = self._entries
        n = len(entries)
        norms = self._field_norms()
        plists = self._weighted(query_tf)
        coordination = t.coordination / (len(query_tf) or 1)
        admitted: set[int] | None = None
        if admits is not None:
            admitted = self._admitted.get(filters)
            if admitted is None and sum(len(p) for p, _, _ in plists) // 2 > n:
                # many postings: deciding each article once (and keeping the answer for the
                # next search with these filters, until the index changes) is cheaper than
                # asking the filter about every article found
                admitted = {aid for aid, e in entries.items() if admits(e.document)}
                if len(self._admitted) >= _ADMITTED_KEPT:
                    del self._admitted[next(iter(self._admitted))]
                self._admitted[filters] = admitted
        decided: dict[int, bool] = {}

        def ok(aid: int) -> bool:
            if admitted is not None:
                return aid in admitted
            if admits is None:
                return True
            v = decided.get(aid)
            if v is None:
                v = decided[aid] = admits(entries[aid].document)
            return v

        # what an article matching only terms i… could reach (a hair above, for rounding)
        rest = [0.0] * (len(plists) + 1)
        for i in range(len(plists) - 1, -1, -1):
            rest[i] = rest[i + 1] + plists[i][2]
        reach = [rest[i] * (1 + coordination * (len(plists) - i)) * (1 + 1e-9)
                 for i in range(len(plists) + 1)]
        scores: dict[int, float] = {}
        matched: dict[int, int] = {}
        seen: set[int] | None = None  # every matching article, once pruning started
        theta = 0.0  # the count-th best score so far: no article below it can make the top
        # whether scores may hold articles the filters refuse (until the first drop)
        unchecked = admits is not None and admitted is None
        for i, (plist, weight, _) in enumerate(plists):
            if i > 0 and (count <= 0 or len(scores) >= count):
                if count <= 0:
                    theta = math.inf
                # the best score so far is at most the processed terms' bounds summed, all
                # matched: while that does not beat reach[i], no check can succeed
                elif (seen is not None or (rest[0] - rest[i]) * (1 + coordination * i)
                        > reach[i]):
                    best = heapq.nlargest(count, [s * (1 + coordination * matched[aid])
                                                  for aid, s in scores.items()
                                                  if not unchecked or ok(aid)])
                    if len(best) >= count:
                        theta = max(theta, best[-1])
                if seen is None and theta > reach[i]:
                    seen = set(scores)
                if seen is not None:
                    # an article found so far that cannot reach theta even with every
                    # remaining term is dropped (its final score is below the top's)
                    left = len(plists) - i
                    drop = [aid for aid, s in scores.items()
                            if (unchecked and not ok(aid)) or (s + rest[i]) * (
                                1 + coordination * (matched[aid] + left)) * (1 + 1e-9) < theta]
                    for aid in drop:
                        del scores[aid]
                        del matched[aid]
                    unchecked = False
            if seen is None:
                it = iter(plist)
                for aid, packed in zip(it, it, strict=True):
                    if admitted is not None and aid not in admitted:
                        continue
                    nt, nb = norms[aid]
                    tf = (packed >> _TF_BITS) * nt + (packed & _TF_MASK) * nb
                    scores[aid] = scores.get(aid, 0.0) + weight * tf / (k1 + tf)
                    matched[aid] = matched.get(aid, 0) + 1
            else:
                ids = plist[0::2]
                seen.update(ids)
                if scores:
                    freqs = dict(zip(ids, plist[1::2], strict=True))
                    for aid in scores:
                        packed = freqs.get(aid)
                        if packed is None:
                            continue
                        nt, nb = norms[aid]
                        tf = (packed >> _TF_BITS) * nt + (packed & _TF_MASK) * nb
                        scores[aid] += weight * tf / (k1 + tf)
                        matched[aid] += 1
        if count <= 0 and seen is None:
            seen = set(scores)
        scored = [(aid, s * (1 + coordination * matched[aid])) for aid, s in scores.items()
                  if not unchecked or ok(aid)]
        if seen is None:
            total = len(scored)
        elif admitted is not None:
            total = len(seen & admitted)
        elif admits is None:
            total = len(seen)
        else:
            total = sum(1 for aid in seen if ok(aid))
        top = heapq.nsmallest(count, scored, key=lambda s: (-s[1], s[0])) if count > 0 else []
        return total, top

    def _matched(self, article_id: int, terms: Iterable[str]) -> tuple[str, ...]:
        have = frozenset(self._entries[article_id].terms)
        return tuple(t for t in dict.fromkeys(terms) if t in have)

    def rank(self, terms: Sequence[str], filters: Filters = _NO_FILTERS, *,
             limit: int = 10) -> list[tuple[int, float, tuple[str, ...]]]:
        """BM25F over already analysed terms (repeats count, with saturation), no truncation:
        ``(article_id, score, matched terms)``, best first. Routing help passes an order's
        whole text through the analyzer and ranks the 部门职能 entries with it."""
        _, top = self._top(Counter(terms), filters, max(limit, 0))
        return [(aid, score, self._matched(aid, terms)) for aid, score in top]

    def search(self, q: str, filters: Filters = _NO_FILTERS, *, limit: int = 10,
               offset: int = 0) -> Results:
        """A page of articles for a typed query, with snippets, highlights and "did you mean".

        ``q`` is stripped and cut to :data:`MAX_QUERY` characters (not an error); a query with
        no term left after analysis (blank, punctuation, stop words only) raises ValueError.
        """
        query = (q or "").strip()[:MAX_QUERY]
        terms = self.analyzer.terms(query)
        if not terms:
            raise ValueError("q has no searchable words")
        # the distinct terms only: a repeated word in a typed query is a slip, not emphasis
        query_tf = dict.fromkeys(terms, 1)
        total, top = self._top(query_tf, filters, max(offset, 0) + max(limit, 0))
        hits = tuple(self._hit(aid, score, query_tf) for aid, score in top[max(offset, 0):])
        did_you_mean = None
        # a near miss: (almost) nothing found, or a word no article has, or characters the
        # index cannot read as a known word (养老保显: 养老 finds articles, 保显 is a slip)
        if total < self.tuning.suggest_below or self._unknown(query_tf) or self._stumbles(
                *self._normalised_reading(query)):
            did_you_mean = self._suggest(query, filters, total)
        return Results(query, tuple(dict.fromkeys(terms)), total, hits, did_you_mean)

    # -- snippets and highlights -----------------------------------------------------------

    def _occurrences(self, text: str, terms: Iterable[str]) -> list[tuple[int, int, str]]:
        """``(start, end, term)`` in the original text of every place a term (or a synonym
        folded onto it) appears in the normalised text."""
        normalised, origin = self.analyzer.align(text)
        found: list[tuple[int, int, str]] = []
        for term in terms:
            for word in self.analyzer.variants(term):
                start = normalised.find(word)
                seen = 0
                while start != -1 and seen < _MAX_OCCURRENCES:
                    seen += 1
                    end = start + len(word)
                    if origin is None:
                        found.append((start, end, term))
                    else:
                        found.append((origin[start], origin[end - 1] + 1, term))
                    start = normalised.find(word, start + 1)
        found.sort()
        return found

    @staticmethod
    def _merge(spans: Iterable[tuple[int, int, str]]) -> list[tuple[int, int]]:
        merged: list[tuple[int, int]] = []
        for start, end, _ in sorted(spans):
            if merged and start <= merged[-1][1]:
                if end > merged[-1][1]:
                    merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        return merged

    def _hit(self, article_id: int, score: float, query_tf: dict[str, int]) -> Hit:
        doc = self._entries[article_id].document
        matched = self._matched(article_id, query_tf)
        snippet, highlights = self._snippet(doc.text, matched)
        title_highlights = tuple(self._merge(self._occurrences(doc.title, matched)))
        return Hit(doc.article_id, doc.version, doc.title, doc.article_type, doc.department_code,
                   round(score, 6), matched, snippet, highlights, title_highlights)

    def _snippet(self, text: str,
                 terms: Sequence[str]) -> tuple[str, tuple[tuple[int, int], ...]]:
        width = self.tuning.snippet_chars
        occurrences = self._occurrences(text, terms) if terms else []
        if len(text) <= width:
            start, end = 0, len(text)
        elif not occurrences:
            start, end = 0, width
        else:
            # sliding window over the occurrences (sorted by start): the one whose window of
            # `width` characters holds the most distinct terms, then the most occurrences
            best: tuple[int, int, int] | None = None
            best_start = 0
            inside: dict[str, int] = {}
            j = 0
            for i, (s, _, term) in enumerate(occurrences):
                j = max(j, i)
                while j < len(occurrences) and occurrences[j][1] <= s + width:
                    inside[occurrences[j][2]] = inside.get(occurrences[j][2], 0) + 1
                    j += 1
                key = (len(inside), j - i, -s)
                if best is None or key > best:
                    best, best_start = key, s
                if j > i:  # occurrence i leaves the window
                    inside[term] -= 1
                    if not inside[term]:
                        del inside[term]
            # a little context before the first hit, from a sentence's start when one is near
            lead = min(width // 5, best_start)
            start = best_start - lead
            for j in range(best_start - 1, start - 1, -1):
                if text[j] in _SENTENCE_END:
                    start = j + 1
                    break
            start = max(0, min(start, len(text) - width))
            end = min(len(text), start + width)
        prefix = "…" if start > 0 else ""
        suffix = "…" if end < len(text) else ""
        body = text[start:end].replace("\r", " ").replace("\n", " ").replace("\t", " ")
        shift = len(prefix) - start
        highlights = tuple((max(s, start) + shift, min(e, end) + shift)
                           for s, e in self._merge(occurrences) if s < end and e > start)
        return prefix + body + suffix, highlights

    # -- did you mean ----------------------------------------------------------------------

    def _df(self, word: str) -> int:
        plist = self._postings.get(self.analyzer.fold(word))
        return len(plist) // 2 if plist else 0

    def _near(self, word: str) -> list[tuple[bool, int, str]]:
        """Vocabulary words a homophone of ``word`` or one character away from it, each as
        ``(is_homophone, df, word)``; words no article has are left out."""
        found: dict[str, bool] = {}
        key = pinyin_key(word)
        if key is not None:
            for w in self._filed(self._by_pinyin, key):
                if w != word:
                    found[w] = True
        for w in self._filed(self._by_deletion, word):  # one character missing from the query
            found.setdefault(w, False)
        if len(word) >= 3:
            for d in _deletions(word):
                if len(d) >= 2 and _HAN.match(d) and (d in self._postings
                                                      or d in self._synonym_words):
                    found.setdefault(d, False)  # one character too many in the query
                if len(word) < 4:
                    continue  # one wrong character in three is a guess: 话务员 is not 公务员
                for w in self._filed(self._by_deletion, d):
                    if _one_edit(word, w):
                        found.setdefault(w, False)  # one character wrong
        out = []
        for w, homophone in found.items():
            df = self._df(w)
            if df >= self._min_df or (df > 0 and w in self._synonym_words):
                out.append((homophone, df, w))
        return out

    def suggest(self, q: str) -> str | None:
        """A corrected query (in ``q``'s own characters outside the corrections) that the
        index understands better and that finds articles, or None."""
        query = (q or "").strip()[:MAX_QUERY]
        terms = self.analyzer.terms(query)
        total = self._count(terms, None) if terms else 0
        return self._suggest(query, _NO_FILTERS, total)

    def _unknown(self, terms: Iterable[str]) -> int:
        """How many of a query's distinct terms no article has."""
        return sum(1 for t in dict.fromkeys(terms) if t not in self._postings)

    def _reading(self, normalised: str) -> tuple[list[bool], list[int], list[int]]:
        """How the index reads a normalised query, per character: whether it is *settled* —
        part of a word of two or more characters that articles have, or of no word
        (punctuation, stop words) — and the start and end of the word it is part of. A lone
        character or a word no article has (社宝, 保显) is where a slip may be."""
        n = len(normalised)
        settled, starts, ends = [False] * n, [0] * n, [0] * n
        for word, s, e in self.analyzer.segments(normalised):
            known = not self.analyzer.keep(word) or (len(word) >= 2 and self._df(word) > 0)
            for i in range(s, e):
                settled[i], starts[i], ends[i] = known, s, e
        return settled, starts, ends

    def _normalised_reading(self, query: str) -> tuple[str, list[bool]]:
        normalised = self.analyzer.normalize(query)
        return normalised, self._reading(normalised)[0]

    @staticmethod
    def _stumbles(normalised: str, settled: list[bool]) -> bool:
        """Two unsettled Han characters side by side: jieba found no known word there (社宝,
        保显, 办/发 of 考核办发), the mark of a slip even when the rest finds articles."""
        return any(not settled[i] and not settled[i + 1]
                   and _HAN.match(normalised[i:i + 2]) is not None
                   for i in range(len(normalised) - 1))

    def _suggest(self, query: str, filters: Filters, total: int) -> str | None:
        analyzer = self.analyzer
        normalised, origin = analyzer.align(query)
        settled, starts, ends = self._reading(normalised)
        candidates: list[tuple[int, bool, int, int, int, str]] = []
        n = len(normalised)
        for s in range(n):
            if not settled[s] and starts[s] != s:
                continue  # a correction replaces an unknown word whole, never a piece of it
            for e in range(s + 2, min(n, s + _SUGGEST_MAX_SPAN) + 1):
                span = normalised[s:e]
                if not _HAN.match(span):
                    break
                if (not settled[e - 1] and ends[e - 1] != e) or all(settled[s:e]) \
                        or self._df(span) > 0:
                    continue
                for homophone, df, word in self._near(span):
                    # a homophone may re-cut known words (公基金 was cut 公 / 基金)
                    if homophone or self._changes_only_unsettled(span, word, settled[s:e]):
                        candidates.append((e - s, homophone, df, s, e, word))
        if not candidates:
            return None
        # homophones first: typing pinyin, the usual slip is the right sound and the wrong
        # character (户口迁已 → 迁移, not 户口迁 → 户口本); then longer spans (养老保显 → 养老保险
        # rather than 保显 → 保险); then the more frequent word
        candidates.sort(key=lambda c: (not c[1], -c[0], -c[2], c[3], c[5]))
        chosen: list[tuple[int, int, str]] = []
        taken = [False] * n
        for _, _, _, s, e, word in candidates:
            if not any(taken[s:e]):
                chosen.append((s, e, word))
                for i in range(s, e):
                    taken[i] = True
        # all corrections together, then each alone (one of them may be a false alarm)
        tries = [chosen]
        if len(chosen) > 1:
            tries += [[c] for c in chosen[:_SUGGEST_MAX_TRIES]]
        admits = None if filters.empty else filters.admits
        unsettled = settled.count(False)
        for corrections in tries:
            corrected = self._apply(query, origin, corrections)
            terms = analyzer.terms(corrected)
            found = self._count(terms, admits) if terms else 0
            # better: finds articles, and more of it is understood or it finds more
            if found and (self._reading(analyzer.normalize(corrected))[0].count(False) < unsettled
                          or found > total):
                return corrected
        return None

    @staticmethod
    def _changes_only_unsettled(span: str, word: str, settled: list[bool]) -> bool:
        """Whether replacing ``span`` by ``word`` leaves the span's known words alone: a
        substituted character must be unsettled, and a dropped one too, inside the span (not
        at its edge: 办身份证 → 身份证 would drop a word, not fix a slip)."""
        if len(word) == len(span):
            return all(not done for a, b, done in zip(span, word, settled, strict=True)
                       if a != b)
        if len(word) == len(span) - 1:
            return any(span[:i] + span[i + 1:] == word and not settled[i]
                       for i in range(1, len(span) - 1))
        return True  # a missing character added (养老保 → 养老保险)

    @staticmethod
    def _apply(query: str, origin: list[int] | None,
               corrections: list[tuple[int, int, str]]) -> str:
        """The query with normalised spans replaced, in the query's own characters elsewhere."""
        out = query
        for s, e, word in sorted(corrections, reverse=True):
            start, end = (s, e) if origin is None else (origin[s], origin[e - 1] + 1)
            out = out[:start] + word + out[end:]
        return out
