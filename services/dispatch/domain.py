"""Dispatch's business rules: routing (派单目录 matching) and the assignment state machine.

Plain Python: no nameko, no database session. Tested in ``tests/unit/test_dispatch_domain.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from shared.errors import Conflict

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
    if lead in cleaned:
        raise Conflict("主办单位不能同时为协办单位 the lead cannot also assist",
                       {"action": "dispatch", "department": lead})
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
