"""Text analysis for the knowledge base's search (资料库检索): the terms of an article or a query.

One :class:`Analyzer` turns any text, article or query, into index terms the same way:

1. **normalise** (:meth:`Analyzer.normalize`): NFKC (full-width letters and digits → ASCII),
   lower case, traditional → simplified characters with OpenCC ``t2s`` (seed 004 is written in
   traditional characters; an agent types simplified ones: 部門窗口考核辦法 and 部门窗口考核办法
   must be the same terms);
2. **segment** with jieba's search mode (``cut_for_search``): a long word yields its dictionary
   sub-words too (养老保险 → 养老, 保险; 泸州市 → 泸州, 泸州市), so a query for 保险 finds an
   article about 养老保险, and 养老保险 finds one that says 养老 … 保险;
3. **fold synonyms** (同义词): every word of a group in services/knowledge/synonyms.txt is added
   to jieba's dictionary, so that it is cut as one token, and replaced by the group's first,
   canonical word (城市管理, 综合行政执法 → 城管; 社会保险 → 社保);
4. **drop** stop words (function words, question filler) and punctuation; numbers are kept
   (12345, 2011年's 2011), and so are single characters that are not stop words (税, 狗: a
   query of one character is a real query).

Terms come in text order with repeats (term frequency is BM25's input).

Offsets: :meth:`Analyzer.align` returns the normalised text with, for each of its characters,
the offset of the original character it came from. Highlights (services/knowledge/search.py)
are found in the normalised text and reported in the original one, so a traditional-character
article searched in simplified characters is highlighted in its own characters.

:attr:`Analyzer.version` identifies everything that decides the terms (the dictionary, the
synonym table, the stop words, the library versions and :data:`ANALYZER_REVISION`, which is
raised whenever this module's rules change): an article analysed under another version must be
analysed again before it is indexed.

Loading (jieba's dictionary ≈0.2–0.5 s and ≈25 MB, OpenCC's tables) happens in
:meth:`Analyzer.load`, never at import; :func:`shared_analyzer` keeps one loaded analyzer per
process per configuration. The trimmed dictionary (shared/segmentation.py) is the default: each
service must stay under 150 MB RSS.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import threading
import unicodedata
from collections.abc import Sequence
from typing import Any

from shared.segmentation import DEFAULT_MIN_FREQ, shared_tokenizer

# Raise whenever a change here changes what terms() returns for some text.
ANALYZER_REVISION = 1

# A longer token (a run of letters and digits jieba keeps whole: a URL, a serial number) is cut
# to this length, in articles and queries alike: stored terms fit a bounded column
# (knowledge's term_department.term is 64 characters).
MAX_TERM = 32

DEFAULT_SYNONYMS = os.path.join(os.path.dirname(__file__), "synonyms.txt")

# Synonym words must each be one token even inside longer text (市综合行政执法局 → 综合行政执法,
# 局): the same weight intake gives its domain words.
SYNONYM_WORD_FREQ = 100_000

# Function words, pronouns and the filler of a spoken or typed question (请问 … 怎么办理吗):
# in nearly every query and article, they would only add noise to the ranking.
STOP_WORDS: frozenset[str] = frozenset("""
的 地 得 了 着 过 之 其 和 与 及 或 而 并 且 以及 或者 还是 也 都 又 还 就 才 再 在 是 为 有 无 没 没有
不 很 太 非常 特别 比较 已经 一直 一些 一下 这 那 这个 那个 这些 那些 这里 那里 这样 那样 哪 哪里
哪个 哪些 我 我们 你 你们 您 他 他们 她 她们 它 它们 自己 大家 什么 怎么 怎样 怎么样 怎么办 为什么
如何 多少 几 能 能否 能不能 可以 可不可以 可能 会 要 想 想要 需要 应该 应当 请 请问 问 问一下 麻烦
您好 你好 谢谢 一 个 上 下 里 中 把 被 让 给 对 向 从 到 由 以 于 按 按照 根据 关于 对于 吧 吗
呢 啊 呀 哦 嗯 呃 啦 嘛 喂 么 等 等等 即 如 若 如果 因为 所以 但 但是 可是 而且 然后 虽然 并且
其他 其它 该 此 每 各 所 之一 之后 之前 以上 以下 时 后 前
""".split())

_PUNCT_OR_SPACE = re.compile(r"^[\W_]+$", re.UNICODE)
# characters NFKC and lower() leave one character each: CJK unified ideographs, printable ASCII
_ONE_TO_ONE = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\x20-\x7e]+)|.", re.DOTALL)

_lock = threading.Lock()
_analyzers: dict[tuple[Any, int], Analyzer] = {}


def load_synonyms(path: str | None = None) -> list[tuple[str, ...]]:
    """The synonym groups of a table (default: services/knowledge/synonyms.txt).

    One group a line, words separated by white space, the first word canonical; ``#`` starts a
    comment; blank lines and one-word lines (nothing to fold) are skipped. Words are returned as
    written: the analyzer normalises them when it loads.
    """
    groups: list[tuple[str, ...]] = []
    with open(path or DEFAULT_SYNONYMS, encoding="utf-8") as f:
        for line in f:
            words = tuple(line.split("#", 1)[0].split())
            if len(words) > 1:
                groups.append(words)
    return groups


def _version_of(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - installed with us
        return "?"


class Analyzer:
    """Normalisation, segmentation and synonym folding shared by indexing and querying.

    ``synonyms``: groups of words, the first of each canonical (None: the default table).
    ``dictionary_min_freq``: jieba's dictionary without words rarer than this (1: the full one).
    Methods that segment raise ``RuntimeError`` before :meth:`load`.
    """

    def __init__(self, synonyms: Sequence[Sequence[str]] | None = None, *,
                 dictionary_min_freq: int = DEFAULT_MIN_FREQ):
        raw = load_synonyms() if synonyms is None else synonyms
        self.synonyms: tuple[tuple[str, ...], ...] = tuple(tuple(g) for g in raw if len(g) > 0)
        self.dictionary_min_freq = dictionary_min_freq
        self._tokenizer: Any = None
        self._converter: Any = None
        self._fold: dict[str, str] = {}
        self._variants: dict[str, tuple[str, ...]] = {}
        self._version: str | None = None

    # -- loading ---------------------------------------------------------------------------

    def load(self) -> Analyzer:
        """Load OpenCC's t2s tables and jieba (shared loader) with the synonym words added."""
        import opencc

        self._converter = opencc.OpenCC("t2s")
        fold: dict[str, str] = {}
        variants: dict[str, list[str]] = {}
        for group in self.synonyms:
            words = [self._normalize_unloaded(w) for w in group]
            canonical = words[0]
            for w in words:
                # a word listed in two groups folds onto the first group's canonical word
                if w and w not in fold:
                    fold[w] = canonical
                    variants.setdefault(canonical, []).append(w)
        self._fold = fold
        self._variants = {c: tuple(sorted(set(ws), key=lambda w: (-len(w), w)))
                          for c, ws in variants.items()}
        self._tokenizer = shared_tokenizer(sorted(fold), self.dictionary_min_freq,
                                           SYNONYM_WORD_FREQ)
        return self

    @property
    def loaded(self) -> bool:
        return self._tokenizer is not None

    @property
    def version(self) -> str:
        """Identity of the rules that make terms: equal versions, equal terms for every text."""
        if self._version is None:
            payload = json.dumps({
                "revision": ANALYZER_REVISION,
                "jieba": _version_of("jieba"),
                "opencc": _version_of("opencc"),
                "min_freq": self.dictionary_min_freq,
                "word_freq": SYNONYM_WORD_FREQ,
                "synonyms": self.synonyms,
                "stop_words": sorted(STOP_WORDS),
                "max_term": MAX_TERM,
            }, ensure_ascii=False, sort_keys=True)
            digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]
            self._version = f"r{ANALYZER_REVISION}-min{self.dictionary_min_freq}-{digest}"
        return self._version

    def _require(self) -> None:
        if self._tokenizer is None:
            raise RuntimeError("Analyzer.load() was not called")

    def _normalize_unloaded(self, text: str) -> str:
        return self._converter.convert(unicodedata.normalize("NFKC", text).lower())

    # -- normalisation ---------------------------------------------------------------------

    def normalize(self, text: str) -> str:
        """NFKC (full-width → ASCII), lower case, traditional → simplified."""
        return self.align(text)[0]

    def align(self, text: str) -> tuple[str, list[int] | None]:
        """The normalised text and where each of its characters came from.

        Returns ``(normalised, origin)``: ``origin[i]`` is the offset in ``text`` of the
        character that normalised character ``i`` came from, and ``origin[len(normalised)]`` is
        ``len(text)``; ``origin`` is None when the two texts align one to one (the usual case:
        Chinese text, where OpenCC maps character to character).
        """
        self._require()
        text = text or ""
        folded = unicodedata.normalize("NFKC", text).lower()
        origin: list[int] | None = None
        if len(folded) != len(text):
            # a character that NFKC expands or composes (㈱ → (株), … → ..., ｶﾞ → ガ): normalise
            # the other characters one by one to know where each output character came from;
            # runs of Han characters and printable ASCII map one to one and are copied whole
            parts: list[str] = []
            origin = []
            for m in _ONE_TO_ONE.finditer(text):
                start, end = m.span()
                if m.group(1) is not None:
                    parts.append(m.group(1).lower())
                    origin.extend(range(start, end))
                else:
                    n = unicodedata.normalize("NFKC", m.group(0)).lower()
                    parts.append(n)
                    origin.extend([start] * len(n))
            origin.append(len(text))
            folded = "".join(parts)
        simplified = self._converter.convert(folded)
        if len(simplified) != len(folded):
            # a phrase conversion that changed the length: convert character by character
            parts = []
            chars_origin: list[int] = []
            for i, ch in enumerate(folded):
                n = self._converter.convert(ch)
                parts.append(n)
                chars_origin.extend([origin[i] if origin else i] * len(n))
            chars_origin.append(len(text))
            simplified, origin = "".join(parts), chars_origin
        return simplified, origin

    # -- terms -----------------------------------------------------------------------------

    @staticmethod
    def keep(token: str) -> bool:
        """Whether a segmented token is a term (not a stop word, not punctuation or space)."""
        return bool(token) and token not in STOP_WORDS and not _PUNCT_OR_SPACE.match(token)

    def fold(self, token: str) -> str:
        """The canonical term of a (normalised) word: itself unless it is in a synonym group."""
        return self._fold.get(token, token)

    def variants(self, term: str) -> tuple[str, ...]:
        """The words that fold onto ``term`` (itself included), longest first: what to look for
        in an article's text when highlighting the term."""
        return self._variants.get(term, (term,))

    @property
    def synonym_words(self) -> dict[str, str]:
        """Every normalised synonym word → its canonical term."""
        return dict(self._fold)

    def terms(self, text: str) -> list[str]:
        """Index or query terms of ``text``, in text order, with repeats.

        jieba's search mode, with one difference: a word yields each distinct term once.
        jieba would yield 住房公积金 → 住房, 公积, 公积金, 住房公积金, which folds to 公积金 twice
        (and 居民身份证 → 身份证 twice): one written word counting double would bias BM25.
        """
        self._require()
        freq = self._tokenizer.FREQ
        fold = self._fold
        keep = self.keep
        out: list[str] = []
        for word in self._tokenizer.cut(self.normalize(text), HMM=True):
            n = len(word)
            if n <= 2:
                if keep(word):
                    out.append(fold.get(word, word))
                continue
            found: list[str] = []
            # the dictionary's 2- and 3-character words inside a longer word, as jieba's
            # cut_for_search does, then the word itself
            for size in (2, 3) if n > 3 else (2,):
                for i in range(n - size + 1):
                    gram = word[i:i + size]
                    if freq.get(gram) and keep(gram):
                        term = fold.get(gram, gram)
                        if term not in found:
                            found.append(term)
            if keep(word):
                term = fold.get(word, word)[:MAX_TERM]
                if term not in found:
                    found.append(term)
            out.extend(found)
        return out

    def segments(self, normalised: str) -> list[tuple[str, int, int]]:
        """jieba's precise-mode words of an already normalised text with their offsets
        ``(word, start, end)``: the units "did you mean" considers correcting."""
        self._require()
        return [(w, s, e) for w, s, e in self._tokenizer.tokenize(normalised, HMM=True)]


def shared_analyzer(synonyms: Sequence[Sequence[str]] | None = None,
                    dictionary_min_freq: int = DEFAULT_MIN_FREQ) -> Analyzer:
    """The process's one loaded :class:`Analyzer` per configuration (synonym table and
    dictionary): the index provider, routing help and the benchmark share it."""
    key = (None if synonyms is None else tuple(tuple(g) for g in synonyms), dictionary_min_freq)
    with _lock:
        analyzer = _analyzers.get(key)
    if analyzer is None:
        loaded = Analyzer(synonyms, dictionary_min_freq=dictionary_min_freq).load()
        with _lock:
            analyzer = _analyzers.setdefault(key, loaded)
    return analyzer
