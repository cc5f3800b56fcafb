"""Dispatch's business rules: routing (派单目录 matching) and the assignment state machine.

Plain Python: no nameko, no database session. Tested in ``tests/unit/test_dispatch_domain.py``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.errors import Conflict, Invalid

TERRITORY_LEADS = {"@district": "district", "@street": "street", "@community": "community"}


@dataclass(frozen=True)
class Rule:
    id: int
    category: str | None
    keywords: tuple[str, ...]
    territory_code: str | None
    lead: str
    assists: tuple[str, ...] = ()
    priority: int = 0


@dataclass(frozen=True)
class OrderFacts:
    category: str
    title: str
    content: str
    territory_code: str | None


@dataclass
class RoutingDecision:
    lead: str
    assists: list[str]
    rule_id: int | None
    reasons: list[str] = field(default_factory=list)


def territory_chain(code: str | None, parents: Mapping[str, str | None]) -> list[str]:
    """The territory and its ancestors, nearest first (community → street → district → city)."""
    chain: list[str] = []
    while code and code not in chain:
        chain.append(code)
        code = parents.get(code)
    return chain


def keyword_hits(rule: Rule, order: OrderFacts) -> list[str]:
    text = f"{order.title}\n{order.content}"
    return [k for k in rule.keywords if k and k in text]


def _score(rule: Rule, order: OrderFacts, chain: Sequence[str]) -> tuple[int, ...] | None:
    """Specificity of a matching rule, or None if it does not match.

    A rule matches when each of its conditions holds: same category (or any), at least one
    keyword in the title or content (or no keywords), the order's territory inside the rule's
    (or any). The most specific rule wins: keyword matches first, then the nearest territory,
    then a named category, then priority; the lowest id breaks ties so routing is deterministic.
    """
    if rule.category and rule.category != order.category:
        return None
    hits = keyword_hits(rule, order)
    if rule.keywords and not hits:
        return None
    depth = 0
    if rule.territory_code:
        if rule.territory_code not in chain:
            return None
        depth = len(chain) - chain.index(rule.territory_code)
    return (len(hits), depth, 1 if rule.category else 0, rule.priority, -rule.id)


def route(order: OrderFacts, rules: Iterable[Rule], parents: Mapping[str, str | None],
          territory_level: Mapping[str, str], government_of: Mapping[str, str]) -> RoutingDecision | None:
    """Pick the lead (主办) and assisting (协办) departments for an order, with the reasons.

    ``government_of`` maps a territory code to the department governing it (for ``@district``
    leads); ``territory_level`` maps a territory code to its level.
    """
    chain = territory_chain(order.territory_code, parents)
    scored = [(s, r) for r in rules if (s := _score(r, order, chain)) is not None]
    for score, rule in sorted(scored, key=lambda sr: sr[0], reverse=True):
        lead = _resolve(rule.lead, chain, territory_level, government_of)
        if lead is None:
            continue  # a @district rule for an order with no known district: try the next rule
        assists = [a for a in (_resolve(x, chain, territory_level, government_of)
                               for x in rule.assists) if a and a != lead]
        reasons = [f"派单目录规则 #{rule.id}"]
        if rule.category:
            reasons.append(f"类别 {rule.category}")
        if score[0]:
            reasons.append("关键词 " + "、".join(keyword_hits(rule, order)))
        if rule.territory_code:
            reasons.append(f"属地 {rule.territory_code}")
        return RoutingDecision(lead=lead, assists=list(dict.fromkeys(assists)),
                               rule_id=rule.id, reasons=reasons)
    return None


def _resolve(target: str, chain: Sequence[str], level: Mapping[str, str],
             government_of: Mapping[str, str]) -> str | None:
    wanted = TERRITORY_LEADS.get(target)
    if wanted is None:
        return target
    for code in chain:
        if level.get(code) == wanted and code in government_of:
            return government_of[code]
    return None


def check_dispatch(lead: str, assists: Sequence[str]) -> list[str]:
    """Exactly one lead; assistants distinct and different from the lead (DOMAIN.md §3)."""
    if not lead:
        raise ValueError("lead")
    cleaned = list(dict.fromkeys(a for a in assists if a))
    if lead in cleaned:  # bad input, not a state: nothing about the order forbids it
        raise Invalid.fields({"assists": [f"主办单位不能同时为协办单位 the lead {lead} cannot "
                                          "also assist"]})
    return cleaned


# -- assignment state machine ----------------------------------------------------------------

ASSIGNMENT_TRANSITIONS: dict[str, dict[str, str]] = {
    "sign": {"dispatched": "signed"},
    "reply": {"signed": "replied"},
}

ACTION_NAMES = {"sign": "签收 sign", "reply": "答复 reply"}
STATE_NAMES = {"dispatched": "待签收 dispatched", "signed": "已签收 signed",
               "replied": "已答复 replied", "return_requested": "退单待审 return requested",
               "returned": "已退单 returned"}


def next_state(action: str, state: str, role: str) -> str:
    """The assignment's state after ``action``; :class:`Conflict` names state and action."""
    if action == "reply" and role != "lead":
        raise Conflict("只有主办单位可以答复 only the lead department replies",
                       {"action": action, "state": state, "role": role})
    target = ASSIGNMENT_TRANSITIONS[action].get(state)
    if target is None:
        raise Conflict(f"当前状态「{STATE_NAMES.get(state, state)}」不能{ACTION_NAMES[action]}",
                       {"action": action, "state": state})
    return target


# -- Step 2: opinions (协办意见), pass-down (下派), the reply gate ----------------------------------

ASSIGNMENT_TRANSITIONS["opinion"] = {"signed": "opinion_submitted"}
ASSIGNMENT_TRANSITIONS["pass_down"] = {"dispatched": "passed_down", "signed": "passed_down"}
ACTION_NAMES.update({"opinion": "提交协办意见 submit an opinion", "pass_down": "下派 pass down"})
STATE_NAMES.update({"opinion_submitted": "已提交协办意见 opinion submitted",
                    "passed_down": "已下派 passed down"})

# States in which an assignment no longer waits for anything of its department.
FINISHED_STATES = frozenset({"replied", "opinion_submitted", "passed_down", "returned",
                             "recalled"})
STATE_NAMES["recalled"] = "已撤回 recalled"  # 撤回派单: the center withdrew the round


def check_opinion(state: str, role: str) -> str:
    """协办意见: only an assisting department, after signing, once."""
    if role != "assist":
        raise Conflict("只有协办单位提交协办意见 only an assisting department submits an opinion",
                       {"action": "opinion", "state": state, "role": role})
    return next_state("opinion", state, role)


@dataclass(frozen=True)
class AssistStatus:
    """What the reply gate knows of one assistant of the lead's round."""

    assignment_id: int
    department_code: str
    state: str
    handle_due: datetime | None  # None until ``assignment.clocks_started`` reached dispatch


def pending_assists(assists: Iterable[AssistStatus], now: datetime) -> list[AssistStatus]:
    """The assistants the lead still waits for before its consolidated reply (DOMAIN.md §3).

    An assistant is done when it gave its opinion (or its assignment ended: passed down — its
    successor then counts — or returned), or when its handling deadline has passed: a late
    assistant cannot hold the citizen's answer hostage. Until dispatch has learnt the deadline
    the assistant counts as pending.
    """
    return [a for a in assists
            if a.state not in FINISHED_STATES and (a.handle_due is None or now < a.handle_due)]


def check_reply_gate(assists: Iterable[AssistStatus], now: datetime) -> None:
    """:class:`Conflict` (state ``assists_pending``) naming the assistants still awaited."""
    waiting = pending_assists(assists, now)
    if waiting:
        names = "、".join(a.department_code for a in waiting)
        raise Conflict(f"协办单位尚未提交意见，暂不能答复：{names} "
                       f"assisting departments have not given their opinion yet",
                       {"action": "reply", "state": "assists_pending",
                        "pending": [{"assignment_id": a.assignment_id,
                                     "department_code": a.department_code,
                                     "handle_due": a.handle_due.isoformat()
                                     if a.handle_due else None} for a in waiting]})


@dataclass(frozen=True)
class Unit:
    """A department as the pass-down rules see it."""

    code: str
    kind: str
    parent_code: str | None
    active: bool = True


PASSING_KINDS = frozenset({"district", "street"})


def check_pass_down(assignment_state: str, role: str, passer: Unit, target: Unit | None,
                    return_pending: bool, round_departments: Iterable[str]) -> str:
    """下派: a district or street government passes its assignment to one of its own units.

    Returns the old assignment's next state (``passed_down``). Wrong target → :class:`Invalid`
    naming ``department_code``; wrong state (replied, returned, a return pending) → Conflict.
    """
    if return_pending:
        raise Conflict("退单审定期间不能下派 cannot pass down while a return is pending",
                       {"action": "pass_down", "state": "return_requested"})
    state = next_state("pass_down", assignment_state, role)
    problem = None
    if passer.kind not in PASSING_KINDS:
        problem = "只有区、街道可以下派 only district and street governments pass down"
    elif target is None or not target.active:
        problem = "未知部门 unknown department"
    elif target.parent_code != passer.code:
        problem = f"{target.code} 不是 {passer.code} 的下属单位 is not one of its own units"
    elif target.code in set(round_departments):
        problem = f"{target.code} 已承办本轮工单 already has an assignment in this round"
    if problem:
        raise Invalid.fields({"department_code": [problem]})
    return state


# -- Step 2: 问题工单 (orders transferred or re-handled too often) -------------------------------

def problem_reason(transfers: int, reopens: int, threshold: int,
                   already_flagged: bool) -> str | None:
    """The reason to flag the order as 问题工单 now, or None (not yet, or flagged before).

    Transfers (re-dispatched after an approved return) and re-handlings (重办) count together:
    either way the citizen's matter went round again (DOMAIN.md §3).
    """
    if already_flagged or transfers + reopens < threshold:
        return None
    return (f"转办{transfers}次、重办{reopens}次，达到{threshold}次 "
            f"transferred {transfers}, re-handled {reopens} times (threshold {threshold})")


# -- Step 2: 预审 (which orders wait for a dispatcher) --------------------------------------------

REVIEW_MODES = ("unmatched", "fallback", "all")


@dataclass(frozen=True)
class ReviewPolicy:
    """``DISPATCH_REVIEW``: which routed orders wait for a dispatcher (预审).

    - ``unmatched`` (default): a matched rule dispatches at once; only orders no rule matched wait;
    - ``fallback``: orders matched only by a catch-all rule (no keywords, e.g. 投诉按属地派单)
      wait too, so a dispatcher confirms the weak suggestions;
    - ``all``: every order waits with its suggestion.
    Per category (``by_category``) a city can be stricter for, say, 举报.
    """

    default: str = "unmatched"
    by_category: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, value: Any) -> ReviewPolicy:
        """From ``"all"`` or ``{"default": "unmatched", "by_category": {"report": "all"}}``."""
        if value is None or value == "":
            return cls()
        if isinstance(value, str):
            value = {"default": value}
        if not isinstance(value, Mapping):
            raise ValueError(f"DISPATCH_REVIEW must be a mode or a mapping, not {value!r}")
        default = value.get("default") or "unmatched"
        by_category = dict(value.get("by_category") or {})
        for where, mode in [("default", default), *by_category.items()]:
            if mode not in REVIEW_MODES:
                raise ValueError(f"DISPATCH_REVIEW {where}: {mode!r} is not one of "
                                 f"{', '.join(REVIEW_MODES)}")
        return cls(default=default, by_category=by_category)

    def mode_for(self, category: str) -> str:
        return self.by_category.get(category, self.default)

    def needs_review(self, category: str, decision: RoutingDecision | None,
                     rule: Rule | None) -> bool:
        """Whether the order waits for a dispatcher instead of being dispatched at once."""
        if decision is None:
            return True
        mode = self.mode_for(category)
        if mode == "all":
            return True
        if mode == "fallback":
            return rule is None or not rule.keywords
        return False


@dataclass(frozen=True)
class KbAutoDispatch:
    """``DISPATCH_KB_AUTO``: whether an order no rule matched is dispatched at once to the
    knowledge base's top suggestion (派单辅助) instead of waiting for a dispatcher.

    Off by default: the suggestion is evidence for a dispatcher, not a rule the city approved.
    A city that trusts it sets ``ENABLED`` and the thresholds: the top score (the share of the
    evidence for that department) and the confidence (its margin over the second) must both
    reach theirs — a strong but contested top still waits.
    """

    enabled: bool = False
    min_confidence: float = 0.5
    min_score: float = 0.6

    @classmethod
    def from_config(cls, value: Any) -> KbAutoDispatch:
        value = value or {}
        if not isinstance(value, Mapping):
            raise ValueError(f"DISPATCH_KB_AUTO must be a mapping, not {value!r}")
        enabled = value.get("ENABLED", False)
        if isinstance(enabled, str):
            enabled = enabled.strip().lower() in ("1", "true", "yes", "on")
        made = cls(enabled=bool(enabled),
                   min_confidence=float(value.get("MIN_CONFIDENCE", cls.min_confidence)),
                   min_score=float(value.get("MIN_SCORE", cls.min_score)))
        if not (0 <= made.min_confidence <= 1 and 0 <= made.min_score <= 1):
            raise ValueError("DISPATCH_KB_AUTO thresholds must be within [0, 1]")
        return made

    def allows(self, score: float, confidence: float | None) -> bool:
        return (self.enabled and confidence is not None and confidence >= self.min_confidence
                and score >= self.min_score)


# -- Step 2: the routing catalogue's revisions (派单目录版本) -------------------------------------

RULE_FIELDS = ("category", "keywords", "territory_code", "lead", "assists", "priority", "active",
               "note")


def rule_diff(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> dict[str, Any]:
    """Field → ``{"before": …, "after": …}`` for every field of a rule that changed."""
    old = before or {}
    return {f: {"before": old.get(f), "after": after.get(f)} for f in RULE_FIELDS
            if f in after and (before is None or old.get(f) != after.get(f))}


def revision_action(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> str:
    if before is None:
        return "create"
    if before.get("active") and not after.get("active"):
        return "deactivate"
    if not before.get("active") and after.get("active"):
        return "activate"
    return "update"


def check_rule_targets(rule: Mapping[str, Any], departments: Collection[str],
                       territories: Collection[str], categories: Collection[str]) -> None:
    """A catalogue line names only known things: :class:`Invalid` naming each bad field.

    ``lead`` and ``assists`` are active department codes or ``@district`` / ``@street`` /
    ``@community`` (the order's own territorial government, 属地派单).
    """
    errors: dict[str, list[str]] = {}

    def known(code: str) -> bool:
        return code in TERRITORY_LEADS or code in departments

    if rule.get("category") and rule["category"] not in categories:
        errors["category"] = [f"未知类别 unknown category {rule['category']}"]
    if rule.get("territory_code") and rule["territory_code"] not in territories:
        errors["territory_code"] = [f"未知属地 unknown territory {rule['territory_code']}"]
    if not known(rule["lead"]):
        errors["lead"] = [f"未知部门 unknown department {rule['lead']}"]
    bad = [a for a in rule.get("assists") or () if not known(a)]
    if bad:
        errors["assists"] = [f"未知部门 unknown department {', '.join(bad)}"]
    elif rule["lead"] in (rule.get("assists") or ()):
        errors["assists"] = ["主办单位不能同时为协办单位 the lead cannot also assist"]
    if errors:
        raise Invalid.fields(errors)
