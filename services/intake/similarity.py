"""Repeat-call detection (重复来电, DOMAIN.md §2): tokens of a complaint text and how alike two are.

A new call is about a matter already open when it comes from the same caller, or from the same
place (属地) about the same category with similar text. "Similar text" here is a weighted
cosine of the two texts' token sets (``Σ_{A∩B} w² / sqrt(Σ_A w² · Σ_B w²)``), after Chinese
word segmentation (jieba, precise mode), removal of stop words, punctuation and single
characters that carry no matter, and a small table that folds the words citizens use for one
thing into one token (摆摊 / 流动摊贩 / 占道经营 → 占道经营). Words naming a matter weigh
double, and two texts naming only different matters score half: the candidates already share
the territory, so shared street names and times of day must not make them "similar". Sets,
not counts: a caller who repeats "太吵了" three times is not three times as similar.

Threshold (``REPEAT_CALLS.SIMILARITY_THRESHOLD``, default 0.45): on the pairs of
tests/unit/test_intake_similarity.py the same matter worded differently scores 0.60–0.90 and
a different matter on the same street 0.04–0.31.

Why the cosine and not Jaccard: a second caller usually says less (or more) than the first;
the cosine does not punish the length difference as hard as the union in Jaccard does.

Plain Python: no nameko, no database. jieba's dictionary is loaded by :class:`Segmenter`'s
``load()``, which the intake service calls once per process from a dependency provider's
``setup()`` (services/intake/dependencies.py) — never at import, never per request.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# re-exported: intake's settings and tests name them here
from shared.segmentation import DEFAULT_MIN_FREQ, shared_tokenizer
from shared.segmentation import trimmed_dictionary as trimmed_dictionary

DEFAULT_THRESHOLD = 0.45

# Words of the trade that jieba's general dictionary splits (占/道/经营, 城/管管): added to the
# segmenter's dictionary so each is one token.
DOMAIN_WORDS: tuple[str, ...] = (
    "占道经营", "流动摊贩", "城管", "路灯", "油烟", "噪音", "扰民", "施工扰民", "夜间施工",
    "广场舞", "渣土车", "物业", "停水", "停电", "水压", "井盖", "垃圾", "违章建筑", "违建",
    "私搭乱建", "乱停车", "占用消防通道", "消防通道", "化粪池", "下水道", "积水", "漏水",
    "噪声", "烧烤", "摊贩", "摆摊", "拖欠工资", "欠薪", "电梯", "供暖", "暖气", "小区",
    "菜市场", "公交站", "红绿灯", "信号灯", "异味", "臭味", "直排", "一个星期", "灯不亮",
    "号楼", "睡不着", "声音太大", "音响", "公共厕所", "臭气熏天",
)

# Words that name the same thing, folded onto the first (the canonical token).
SYNONYMS: dict[str, str] = {
    w: canonical
    for canonical, words in {
        "占道经营": ("摆摊", "摆地摊", "流动摊贩", "摊贩", "摊点", "占道", "出摊"),
        "晚上": ("夜里", "夜间", "深夜", "半夜", "每晚", "每天晚上", "晚间", "凌晨"),
        "噪音": ("噪声", "吵", "吵闹", "扰民", "很吵", "太吵", "吵得", "声音太大", "音响"),
        "休息": ("睡不着", "睡觉", "失眠"),
        "路灯": ("街灯", "灯不亮", "路灯不亮"),
        "油烟": ("烟味", "油烟味"),
        "异味": ("臭味", "恶臭", "刺鼻", "难闻", "臭气熏天", "很臭", "臭"),
        "施工": ("工地", "夜间施工", "施工扰民"),
        "停水": ("没水", "断水"),
        "停电": ("没电", "断电"),
        "违建": ("违章建筑", "私搭乱建", "乱搭乱建"),
        "城管": ("综合行政执法", "执法局"),
        "欠薪": ("拖欠工资", "不发工资", "工资", "月工资", "欠"),
        "一周": ("一个星期", "一星期", "七天"),
        "垃圾": ("垃圾桶", "生活垃圾"),
        "厕所": ("公共厕所", "公厕", "卫生间"),
        "保洁": ("打扫", "清扫", "清洁", "没人打扫"),
        "堵塞": ("堵了", "堵住", "堵", "不通"),
        "污水": ("脏水", "污水横流"),
        "坏": ("坏了", "又坏了", "损坏", "不亮", "故障", "停运"),
    }.items()
    for w in (canonical, *words)
}

# Function words, politeness, hotline boilerplate: present in almost every call, so they say
# nothing about which matter it is.
STOP_WORDS: frozenset[str] = frozenset("""
的 了 着 过 和 与 及 或 也 都 又 还 就 才 在 是 有 没 没有 不 很 太 非常 特别 比较 一直 已经 经常
总是 每天 天天 一些 一下 这个 那个 这些 那些 这里 那里 这边 那边 我 我们 你 你们 他 他们 她 它
自己 大家 有人 人 什么 怎么 怎么办 为什么 如何 能 能否 能不能 可以 可能 会 要 想 希望 请 麻烦
请求 要求 反映 反应 投诉 举报 咨询 建议 问题 情况 事情 一 个 上 下 里 中 把 被 让 给 对 向 从
到 由 为 以 于 吧 吗 呢 啊 呀 哦 嗯 呃 啦 嘛 喂 您好 你好 谢谢 感谢 尽快 赶紧 马上 及时 处理
解决 管 管一管 管管 相关 有关 部门 政府 帮忙 帮助 一下子 现在 目前 今天 昨天 最近 近期 时候 时间
影响 严重 得 地 所以 因为 但是 可是 而且 然后 如果 虽然 并且 其他 等 等等 多 少 好 很多 附近
居民 市民 群众 住户 无法 根本 很大 太大 一个 一股 全是 直接 长期 连续 多日 好几天 几天 没人 一带
这家 那家 那盏 那个 这边 地方
""".split())

_CANONICAL: frozenset[str] = frozenset(SYNONYMS.values())
# the lexicon of matters (what is wrong, not where or when)
# (DOMAIN_WORDS also holds words added only so that jieba keeps them whole: places, times)
MATTER_WORDS: frozenset[str] = (frozenset(SYNONYMS.get(w, w) for w in DOMAIN_WORDS) | _CANONICAL) - {
    "晚上", "一周", "坏", "休息", "号楼", "小区", "菜市场", "物业"}
MATTER_WEIGHT = 2.0
DISJOINT_MATTER_FACTOR = 0.5
_PUNCT_OR_SPACE = re.compile(r"^[\W_]+$", re.UNICODE)
_DIGITS = re.compile(r"^[0-9]+$")


def normalise_text(text: str) -> str:
    """Full-width digits and letters to ASCII, letters lower-case (NFKC)."""
    return unicodedata.normalize("NFKC", text or "").lower()


def keep(token: str) -> bool:
    """Whether a segmented token says something about the matter."""
    if not token or token in STOP_WORDS or _PUNCT_OR_SPACE.match(token):
        return False
    # a lone Han character is mostly grammar (号, 占, 坏 survive as parts of longer words or
    # through SYNONYMS); numbers are kept: 12号楼 and 15号楼 are different buildings
    return len(token) > 1 or bool(_DIGITS.match(token))


def fold(tokens: Iterable[str]) -> frozenset[str]:
    """Filter segmented tokens and fold synonyms; the set used for similarity."""
    out = set()
    for t in tokens:
        t = SYNONYMS.get(t, t)
        if t in _CANONICAL or keep(t):
            out.add(t)
    return frozenset(out)


def cosine(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> float:
    """``|A ∩ B| / sqrt(|A| · |B|)``; 0 when either is empty."""
    if not a or not b:
        return 0.0
    return len(a & b) / math.sqrt(len(a) * len(b))


def weight(token: str) -> float:
    """Words that name a matter (油烟, 路灯, 占道经营) count double; the rest (places, times,
    circumstances) once: two calls from one street share the street, not the matter."""
    return MATTER_WEIGHT if token in MATTER_WORDS else 1.0


def _weighted_size(tokens: frozenset[str] | set[str]) -> float:
    """``Σ weight(t)²`` over a set, with set operations only (this runs for every compared
    order): the plain words count 1 each, the matter words ``MATTER_WEIGHT²``."""
    return len(tokens) + (MATTER_WEIGHT ** 2 - 1) * len(tokens & MATTER_WORDS)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Weighted cosine of two token sets (weights: :func:`weight`), in [0, 1].

    When both texts name matters and they name none in common (烧烤油烟 vs 广场舞), the score
    is halved: they share only the place and the circumstances.
    """
    if not a or not b:
        return 0.0
    common = a & b
    if not common:
        return 0.0
    score = _weighted_size(common) / math.sqrt(_weighted_size(a) * _weighted_size(b))
    if not (common & MATTER_WORDS) and (a & MATTER_WORDS) and (b & MATTER_WORDS):
        score *= DISJOINT_MATTER_FACTOR
    return score


def dump_tokens(tokens: Iterable[str]) -> str:
    """The stored form of a token set (one column): sorted, space-separated."""
    return " ".join(sorted(tokens))


def load_tokens(stored: str | None) -> frozenset[str]:
    return frozenset(stored.split()) if stored else frozenset()


class Segmenter:
    """jieba's tokenizer with the domain words added. ``load()`` reads the dictionary
    (≈0.5 s, most of the process's extra memory; once per process for one configuration:
    shared/segmentation.py); ``tokens()`` before it raises.

    ``min_freq`` > 1 loads :func:`trimmed_dictionary` instead of jieba's full one.
    """

    def __init__(self, extra_words: Sequence[str] = DOMAIN_WORDS,
                 min_freq: int = DEFAULT_MIN_FREQ):
        self.extra_words = tuple(extra_words)
        self.min_freq = min_freq
        self._tokenizer: Any = None

    def load(self) -> Segmenter:
        # the process's one tokenizer for these words and this dictionary (shared/segmentation.py)
        self._tokenizer = shared_tokenizer(self.extra_words, self.min_freq)
        return self

    @property
    def loaded(self) -> bool:
        return self._tokenizer is not None

    def segment(self, text: str) -> list[str]:
        if self._tokenizer is None:
            raise RuntimeError("Segmenter.load() was not called")
        return list(self._tokenizer.lcut(normalise_text(text), HMM=True))

    def tokens(self, *texts: str | None) -> frozenset[str]:
        """The folded token set of the texts together (e.g. title and content)."""
        out: set[str] = set()
        for text in texts:
            if text:
                out |= fold(self.segment(text))
        return frozenset(out)


@dataclass(frozen=True)
class Draft:
    """A call being taken, as far as matching needs it."""

    phone: str | None
    category: str | None
    territory_code: str | None
    tokens: frozenset[str]


@dataclass(frozen=True)
class OpenOrder:
    """An open order that might be the same matter (loaded with its stored tokens)."""

    ticket_no: str
    registered_at: datetime
    phone: str | None
    category: str
    territory_code: str | None
    tokens: frozenset[str]


@dataclass(frozen=True)
class Candidate:
    ticket_no: str
    score: float
    reason: str  # same_caller | similar_matter


def rank(draft: Draft, orders: Iterable[OpenOrder], threshold: float = DEFAULT_THRESHOLD,
         limit: int = 10) -> list[Candidate]:
    """Open orders that may be the draft's matter, best first.

    - same (normalised) phone → a candidate whatever the text (reason ``same_caller``): the
      agent asks the caller whether it is the same matter;
    - same territory and category, text similarity ≥ ``threshold`` → ``similar_matter``.

    Ordered by score, then newest first; same-caller matches that are also similar come first.
    """
    found: list[tuple[float, datetime, Candidate]] = []
    for o in orders:
        score = round(similarity(draft.tokens, o.tokens), 4)
        if draft.phone and o.phone == draft.phone:
            found.append((score + (1.0 if score >= threshold else 0.0), o.registered_at,
                          Candidate(o.ticket_no, score, "same_caller")))
        elif (draft.territory_code and o.territory_code == draft.territory_code
              and o.category == draft.category and score >= threshold):
            found.append((score, o.registered_at, Candidate(o.ticket_no, score, "similar_matter")))
    found.sort(key=lambda f: (f[0], f[1]), reverse=True)
    return [c for _, _, c in found[:limit]]


def distinct_callers(phones: Iterable[str | None]) -> int:
    """热点 counting: distinct normalised phone numbers (a call with no number is not counted)."""
    return len({p for p in phones if p})


def is_hotspot(callers: int, threshold: int = 3) -> bool:
    """Three or more distinct callers about one matter raise a hotspot (DOMAIN.md §2)."""
    return callers >= threshold
