"""Routing help (派单辅助, DOMAIN.md §7): which departments an order probably belongs to, and why.

Dispatch routes by its catalogue (派单目录). When no rule matches, the order waits for a
dispatcher (预审 queue); this module ranks the departments for it from two kinds of evidence,
each explained to the dispatcher in words they can check:

(a) **Responsibility (部门职能).** The order's analysed terms are ranked with BM25 against the
    published 部门职能 entries valid today whose territories contain the order's (the search
    module's ``Index.rank``); each entry speaks for its owner department, which keeps its best
    entry's score. Reason: ``部门职能「市综合行政执法局主要职责」命中：占道经营、流动摊贩``.

(b) **History (相似历史工单).** Where past orders with the same terms went: the learned
    ``term × department`` counts (``term_department``), one per order and term, of the lead
    department of each order's final dispatch round (an approved return or a recall takes its
    count away again). Reason: ``相似历史工单 23 件派往该部门（含「占道经营」，如 20261123000042）``.

Why a **tf-idf weighted vote** and not naive Bayes: multinomial naive Bayes multiplies one
likelihood per term, so its posterior is nearly always 0.99… for someone (badly calibrated,
useless as a confidence), it is dominated by the prior of the busiest departments, and a term
seen once moves it as much as one seen a thousand times. Here every term of the order votes
for the departments its past orders went to, in proportion (``c(t,d) / (c(t) + k)``: the
pseudo-count ``k`` keeps a term seen once or twice from voting with full weight), and the
votes are weighted by the term's rarity over all past orders (``idf = ln(1 + N / (1 + c(t)))``:
a word in every order, like 小区, says little). The result is a share per department in [0, 1]
that reads as "this share of the order's informative history points here". Cost per order:
one look-up of at most ``MAX_TERMS`` terms (each row a department that term went to) plus the
departments' totals — bounded, independent of the number of past orders; learning is an
increment of at most ``MAX_TERMS + 1`` counters per order, so 60,000 orders a day are a few
hundred small updates a second at peak.

**Combination.** Responsibility gives each department ``R(d) = s_d² / Σ s²`` (squared BM25
scores: scale-free, because BM25 scores depend on the corpus and analyser, and sharper than a
plain proportion, since a second entry matching one generic word should not take a third of the
vote). History gives ``L(d)``, its vote normalised to sum to 1. History is trusted in
proportion to how much it knows about this order's informative terms (``support``: the
idf-weighted mean of ``c(t) / (c(t) + k)`` over the terms either source knows), at most
``history_weight``: ``score(d) = λ·L(d) + (1 − λ)·R(d)`` with ``λ = history_weight · support``.
A new city with no history ranks by 职能 alone; as dispatches are learned, history takes over
up to the cap, so the published responsibilities always keep a say. When no entry matches,
``score = λ·L(d)``: the unexplained rest stays unassigned, and the scores say so.

**Territory fit (属地).** A district, street or community government (a department with a
territory) is a candidate only for orders inside its territory (administrative codes are
prefixes of the codes under them); the center itself and inactive departments never are.
Such a department's suggestion says ``属地：龙马潭区``.

**Confidence** is the margin of the top score over the second (``s₁ − s₂``, in [0, 1]): two
departments with 0.45 and 0.40 are a coin toss whatever their absolute level. Dispatch may
dispatch automatically above a configured margin (off by default).

Plain Python: no nameko, no database session. The index and the counts are passed in.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Protocol

RESPONSIBILITY = "responsibility"  # the article type of 部门职能 entries
TOTAL = ""  # term_department's row for a department's number of counted orders
MAX_TERMS = 64  # terms of one order learned and looked up (bounded cost per order)
MAX_TERM_LENGTH = 64  # term_department.term's width
TERRITORIAL_KINDS = frozenset({"district", "street", "community"})
NEVER_SUGGESTED_KINDS = frozenset({"center"})


# -- inputs ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Department:
    """A department as routing needs it (dispatch's reference data)."""

    code: str
    name: str
    kind: str
    territory_code: str | None = None
    active: bool = True


@dataclass(frozen=True)
class Directory:
    """Departments by code and territory names by code (for ``属地：…``)."""

    departments: Mapping[str, Department]
    territory_names: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, departments: Iterable[Mapping[str, Any]],
                  territories: Iterable[Mapping[str, Any]] = ()) -> Directory:
        return cls({d["code"]: Department(d["code"], d.get("name") or d["code"], d["kind"],
                                          d.get("territory_code"), bool(d.get("active", True)))
                    for d in departments},
                   {t["code"]: t["name"] for t in territories})

    def territory(self, code: str) -> str | None:
        """The department's territory if it is a territorial government, else None."""
        dep = self.departments.get(code)
        if dep is None or dep.kind not in TERRITORIAL_KINDS:
            return None
        return dep.territory_code

    def eligible(self, code: str, order_territory: str | None) -> bool:
        """Whether ``code`` may be suggested for an order in ``order_territory`` (属地)."""
        dep = self.departments.get(code)
        if dep is None or not dep.active or dep.kind in NEVER_SUGGESTED_KINDS:
            return False
        own = self.territory(code)
        if own is None:
            return True
        return bool(order_territory) and str(order_territory).startswith(own)


@dataclass(frozen=True)
class EntryHit:
    """One 部门职能 entry that matched the order: BM25 score and the order's terms it contains."""

    article_id: int
    department_code: str
    title: str
    score: float
    matched_terms: tuple[str, ...]


@dataclass(frozen=True)
class Counts:
    """The learned counts for one order's terms: ``by_term[t][d]`` = how many counted orders
    with term ``t`` went to ``d``; ``totals[d]`` = how many counted orders went to ``d``."""

    by_term: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    totals: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, float]]) -> Counts:
        by_term: dict[str, dict[str, float]] = defaultdict(dict)
        totals: dict[str, float] = {}
        for term, dep, count in rows:
            if count <= 0:
                continue
            if term == TOTAL:
                totals[dep] = float(count)
            else:
                by_term[term][dep] = float(count)
        return cls(dict(by_term), totals)


@dataclass(frozen=True)
class PastOrder:
    """A counted past order (its terms) — a candidate example for a reason."""

    ticket_no: str
    department_code: str
    terms: frozenset[str]


@dataclass(frozen=True)
class RoutingSettings:
    """``KB_ROUTING`` in the configuration (see shared/default_config.yaml)."""

    limit: int = 5  # suggestions returned
    entries: int = 20  # 部门职能 entries asked of the index
    history_weight: float = 0.7  # the most history can weigh against responsibilities
    pseudo_count: float = 2.0  # k in c(t,d) / (c(t) + k)
    min_score: float = 0.02  # suggestions below this are noise, not shown

    @classmethod
    def from_config(cls, value: Any) -> RoutingSettings:
        value = value or {}
        if not isinstance(value, Mapping):
            raise ValueError(f"KB_ROUTING must be a mapping, not {value!r}")
        made = cls(limit=int(value.get("LIMIT", cls.limit)),
                   entries=int(value.get("ENTRIES", cls.entries)),
                   history_weight=float(value.get("HISTORY_WEIGHT", cls.history_weight)),
                   pseudo_count=float(value.get("PSEUDO_COUNT", cls.pseudo_count)),
                   min_score=float(value.get("MIN_SCORE", cls.min_score)))
        if not 0 <= made.history_weight <= 1:
            raise ValueError("KB_ROUTING.HISTORY_WEIGHT must be within [0, 1]")
        if made.limit < 1 or made.entries < 1 or made.pseudo_count <= 0:
            raise ValueError("KB_ROUTING: LIMIT and ENTRIES ≥ 1, PSEUDO_COUNT > 0")
        return made


class RankingIndex(Protocol):
    """What routing needs of the search module's ``Index``."""

    def rank(self, terms: Sequence[str], filters: Any, *, limit: int) -> Any: ...


# -- terms -----------------------------------------------------------------------------------

def order_terms(terms: Iterable[str]) -> list[str]:
    """The order's distinct terms as learned and looked up: first occurrence order, at most
    ``MAX_TERMS``, none empty or wider than the counter's column."""
    seen: dict[str, None] = {}
    for t in terms:
        t = (t or "").strip()
        if t and len(t) <= MAX_TERM_LENGTH and t not in seen:
            seen[t] = None
            if len(seen) >= MAX_TERMS:
                break
    return list(seen)


def count_delta(terms: Iterable[str], department_code: str,
                sign: int = 1) -> dict[tuple[str, str], float]:
    """The counter changes of counting (``sign`` 1) or uncounting (−1) one order for a
    department: each distinct term once, and the department's total (term '')."""
    delta = {(t, department_code): float(sign) for t in order_terms(terms)}
    delta[(TOTAL, department_code)] = float(sign)
    return delta


# -- learning: which department an order counts for --------------------------------------------

@dataclass(frozen=True)
class LeadState:
    """What knowledge knows of an order's dispatch: the lead of its latest round and whether
    the order is counted for it now."""

    lead_department: str | None = None
    lead_assignment_id: int | None = None
    round: int = 0
    counted: bool = False


@dataclass(frozen=True)
class Learning:
    """The state after a fact, and the counts to move: uncount one department, count one."""

    state: LeadState
    uncount: str | None = None
    count: str | None = None


def on_dispatched(state: LeadState, round_: int, lead: str,
                  lead_assignment_id: int | None) -> Learning:
    """A dispatch round (``ticket.dispatched``): the order counts once, for the lead of its
    latest round. A round older than the one known is stale (events of one order can arrive
    out of order from two producers) and changes nothing; a new round with another lead (a
    re-dispatch after an approved return or a recall, 转办) moves the count; 重办 to the same
    lead leaves it."""
    if round_ < state.round:
        return Learning(state)
    new = LeadState(lead, lead_assignment_id, round_, True)
    if state.counted and state.lead_department == lead:
        return Learning(new)
    return Learning(new, uncount=state.lead_department if state.counted else None, count=lead)


def on_return_approved(state: LeadState, assignment_id: int) -> Learning:
    """An approved return (退单, 职能不符/属地不符): the lead was wrong, its count goes. Only
    the lead assignment of the round knowledge counts matters: an assistant's return, or a
    return of an earlier round already moved by its re-dispatch, changes nothing (and a return
    that overtook its own dispatch is covered when the re-dispatch moves the count)."""
    if not state.counted or state.lead_assignment_id != assignment_id:
        return Learning(state)
    return Learning(replace(state, counted=False), uncount=state.lead_department)


def on_recalled(state: LeadState, round_: int) -> Learning:
    """撤回派单: the center withdrew the round (sent to the wrong department): uncount its lead."""
    if not state.counted or state.round != round_:
        return Learning(state)
    return Learning(replace(state, counted=False), uncount=state.lead_department)


# -- ranking ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Suggestion:
    department_code: str
    score: float
    responsibility: float = 0.0  # R(d)
    history: float = 0.0  # L(d)
    entries: tuple[EntryHit, ...] = ()  # this department's matching entries, best first
    history_term: str | None = None  # the term whose past orders point here most
    history_count: float = 0.0  # how many counted orders with that term went here
    territory: str | None = None  # the territory that makes it eligible (territorial only)


@dataclass(frozen=True)
class Ranking:
    suggestions: tuple[Suggestion, ...]
    confidence: float
    history_weight: float  # λ used

    @property
    def top(self) -> Suggestion | None:
        return self.suggestions[0] if self.suggestions else None


def entry_hits(index: RankingIndex, terms: Sequence[str], filters: Any, limit: int,
               entries: Mapping[int, tuple[str, str | None]]) -> list[EntryHit]:
    """``Index.rank`` over the 部门职能 entries, each hit with its owner and title
    (``entries``: article id → (title, owner department)); hits without an owner are dropped."""
    hits = []
    for article_id, score, matched in index.rank(list(terms), filters, limit=limit):
        title, owner = entries.get(article_id, (None, None))
        if owner and score > 0:
            hits.append(EntryHit(article_id, owner, title or "", float(score),
                                 tuple(matched or ())))
    return hits


def rank_departments(terms: Sequence[str], territory_code: str | None,
                     hits: Sequence[EntryHit], counts: Counts, directory: Directory,
                     settings: RoutingSettings = RoutingSettings(),
                     exclude: Iterable[str] = ()) -> Ranking:
    """Departments for an order, best first, at most ``settings.limit``, scores in [0, 1];
    ``exclude``: departments known to be wrong for it (the lead that returned it)."""
    terms = order_terms(terms)
    excluded = frozenset(exclude)

    def eligible(code: str) -> bool:
        return code not in excluded and directory.eligible(code, territory_code)

    # (a) responsibility: each department's best entry
    by_dep: dict[str, list[EntryHit]] = defaultdict(list)
    for h in sorted(hits, key=lambda h: -h.score):
        if eligible(h.department_code):
            by_dep[h.department_code].append(h)
    squares = {d: hs[0].score ** 2 for d, hs in by_dep.items()}
    total_sq = sum(squares.values())
    resp = {d: s / total_sq for d, s in squares.items()} if total_sq > 0 else {}

    # (b) history: an idf-weighted vote of the terms, shrunk towards "unknown" for rare terms
    k = settings.pseudo_count
    n_orders = sum(counts.totals.values())
    matched = {t for h in hits for t in h.matched_terms}
    votes: dict[str, float] = defaultdict(float)
    best_term: dict[str, tuple[float, str, float]] = {}
    known_weight = supported = 0.0
    for t in terms:
        per_dep = counts.by_term.get(t, {})
        df = sum(per_dep.values())
        if df <= 0 and t not in matched:
            continue  # neither source knows the term: it informs neither
        idf = math.log(1.0 + n_orders / (1.0 + df)) if n_orders > 0 else 1.0
        known_weight += idf
        local = {d: c for d, c in per_dep.items() if eligible(d)}
        c_t = sum(local.values())
        if c_t <= 0:
            continue
        supported += idf * c_t / (c_t + k)
        for d, c in local.items():
            v = idf * c / (c_t + k)
            votes[d] += v
            if v > best_term.get(d, (0.0, "", 0.0))[0]:
                best_term[d] = (v, t, c)
    vote_total = sum(votes.values())
    hist = {d: v / vote_total for d, v in votes.items()} if vote_total > 0 else {}
    support = supported / known_weight if known_weight > 0 else 0.0
    lam = settings.history_weight * support if hist else 0.0
    if not resp:
        scores = {d: lam * h for d, h in hist.items()}
    else:
        scores = {d: lam * hist.get(d, 0.0) + (1 - lam) * resp.get(d, 0.0)
                  for d in set(resp) | set(hist)}

    ranked = sorted(((s, d) for d, s in scores.items() if s >= settings.min_score),
                    key=lambda sd: (-sd[0], sd[1]))[: settings.limit]
    suggestions = tuple(Suggestion(
        department_code=d, score=round(min(1.0, s), 4), responsibility=resp.get(d, 0.0),
        history=hist.get(d, 0.0), entries=tuple(by_dep.get(d, ())),
        history_term=best_term[d][1] if d in best_term else None,
        history_count=best_term[d][2] if d in best_term else 0.0,
        territory=directory.territory(d)) for s, d in ranked)
    confidence = 0.0
    if suggestions:
        second = suggestions[1].score if len(suggestions) > 1 else 0.0
        confidence = round(suggestions[0].score - second, 4)
    return Ranking(suggestions, confidence, lam)


def best_example(terms: Iterable[str], candidates: Iterable[PastOrder]) -> str | None:
    """The past order sharing most of the order's terms (the first, i.e. newest, on a tie);
    None when none shares at least two (one shared word is not "similar")."""
    own = set(order_terms(terms))
    best, best_shared = None, 1
    for c in candidates:
        shared = len(own & c.terms)
        if shared > best_shared:
            best, best_shared = c.ticket_no, shared
    return best


def reasons(s: Suggestion, directory: Directory, example: str | None = None,
            max_terms: int = 5) -> list[str]:
    """What a dispatcher reads: the entries that matched and with which words, how many past
    orders went there, the territory — Chinese, each naming its evidence."""
    out = []
    for h in s.entries[:2]:
        words = "、".join(h.matched_terms[:max_terms])
        out.append(f"部门职能「{h.title}」命中：{words}" if words else f"部门职能「{h.title}」相关")
    if s.history_term is not None and s.history_count > 0:
        n = int(round(s.history_count))
        example_part = f"，如 {example}" if example else ""
        out.append(f"相似历史工单 {n} 件派往该部门（含「{s.history_term}」{example_part}）")
    if s.territory:
        out.append(f"属地：{directory.territory_names.get(s.territory, s.territory)}")
    return out


def responsibility_filters_kwargs(territory_code: str | None, on: date,
                                  category: str | None = None) -> dict[str, Any]:
    """The search filters of the responsibility look-up (for ``search.Filters(**…)``): 部门职能
    entries valid ``on`` that apply to the order's territory and category (entries without
    territories apply city-wide, without categories to every category)."""
    return {"article_type": RESPONSIBILITY, "territory_code": territory_code,
            "category": category, "on": on}
