"""Knowledge rules (资料库). Step 1: article types, publication, plain keyword matching.

Step 4 replaces the keyword match with Chinese segmentation and BM25 ranking.
"""

from __future__ import annotations

ARTICLE_TYPES = {
    "policy": "政策法规",
    "guide": "办事指南",
    "responsibility": "部门职能",
    "faq": "常见问答",
}

MAX_QUERY = 200


def query_terms(q: str) -> list[str]:
    """Split a query on white space; an over-long query is truncated, not refused."""
    q = (q or "").strip()[:MAX_QUERY]
    return [t for t in q.split() if t]


def score(title: str, body: str, terms: list[str]) -> int:
    """Title hits count three times body hits; 0 means no match (every term must appear)."""
    total = 0
    for t in terms:
        in_title, in_body = title.count(t), body.count(t)
        if not in_title and not in_body:
            return 0
        total += 3 * in_title + in_body
    return total


def snippet(body: str, terms: list[str], width: int = 60) -> str:
    pos = min((body.find(t) for t in terms if t in body), default=0)
    start = max(0, pos - width // 3)
    text = body[start:start + width]
    return ("…" if start else "") + text + ("…" if start + width < len(body) else "")
