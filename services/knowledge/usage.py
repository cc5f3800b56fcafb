"""Use and monitoring of the knowledge base (资料库运行监控): the plain rules of the report.

No nameko, no database session: the entrypoint (``entrypoints/usage.py``) reads rows and
hands them here. What the report answers (DOMAIN.md §7):

- which entries were opened in the period (views, distinct users, last opened) — signed-in
  users' reads; the public's reads are counted apart (``public_views``);
- which entries resolved orders at intake (直接办结) in the period, with a sample of orders;
- searches with no result in the period, grouped by their normalised query (a gap in the
  knowledge base: what callers ask that nobody wrote down);
- entries never used: live (published, not archived) and neither opened nor cited by a
  resolution since their publication — over all time, not only the period;
- entries past their review date (``review_due`` before the report's day) — as of today;
- per owner department, the counts of the above.

The period is of business days (Asia/Shanghai): ``from`` and ``to`` inclusive, by default the
last 30 days ending today.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from shared.business_time import BUSINESS_TZ

DEFAULT_DAYS = 30
MAX_DAYS = 366
SAMPLE_TICKETS = 5
SAMPLE_QUERIES = 3


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def start(self) -> datetime:
        """The period's first instant, in UTC (00:00 business time of ``first``)."""
        return datetime.combine(self.first, time(), BUSINESS_TZ).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The instant after the period, in UTC (00:00 business time of the day after ``last``)."""
        return datetime.combine(self.last + timedelta(days=1), time(), BUSINESS_TZ).astimezone(UTC)

    def as_dict(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def period(first: date | None, last: date | None, today: date) -> tuple[Period | None,
                                                                          dict[str, list[str]]]:
    """The report's period and the errors of its bounds (field → messages): ``to`` defaults to
    today, ``from`` to 29 days before ``to``; ``from`` after ``to`` or a span of more than a
    year is refused naming ``from``."""
    last = last or today
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        return None, {"from": ["开始日期晚于结束日期 from is after to"]}
    if (last - first).days + 1 > MAX_DAYS:
        return None, {"from": [f"统计区间不能超过 {MAX_DAYS} 天 the period may not exceed "
                               f"{MAX_DAYS} days"]}
    return Period(first, last), {}


def normalise_query(text: str) -> str:
    """The form zero-result searches are grouped by: NFKC (full-width → half-width), case
    folded, white space collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text or "").casefold().split())


def group_gaps(rows: Iterable[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Zero-result searches (``normalized``, ``query``, ``at``) grouped by normalised query:
    most frequent first, then the most recent; a few of the raw queries as examples."""
    groups: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = normalise_query(row.get("normalized") or row.get("query") or "")
        if not key:
            continue
        group = groups.setdefault(key, {"query": key, "count": 0, "last_seen": None,
                                        "examples": []})
        group["count"] += 1
        if group["last_seen"] is None or row["at"] > group["last_seen"]:
            group["last_seen"] = row["at"]
        raw = (row.get("query") or "").strip()
        if raw and raw not in group["examples"] and len(group["examples"]) < SAMPLE_QUERIES:
            group["examples"].append(raw)
    ordered = sorted(groups.values(), key=lambda g: (-g["count"], -g["last_seen"].timestamp(),
                                                     g["query"]))
    return ordered[:limit]


def days_overdue(review_due: date, today: date) -> int:
    return (today - review_due).days


def by_department(live: Iterable[dict[str, Any]], opened: Iterable[dict[str, Any]],
                  resolved: Iterable[dict[str, Any]], never_used: Iterable[dict[str, Any]],
                  overdue: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per owner department (``None``: the center's own, unowned entries): live entries, views
    and resolutions in the period, entries never used, entries past review."""
    rows: dict[str | None, dict[str, Any]] = {}

    def row(code: str | None) -> dict[str, Any]:
        return rows.setdefault(code, {"department_code": code, "published": 0, "views": 0,
                                      "resolutions": 0, "never_used": 0, "review_overdue": 0})

    for a in live:
        row(a["department_code"])["published"] += 1
    for a in opened:
        row(a["department_code"])["views"] += a["views"]
    for a in resolved:
        row(a["department_code"])["resolutions"] += a["resolutions"]
    for a in never_used:
        row(a["department_code"])["never_used"] += 1
    for a in overdue:
        row(a["department_code"])["review_overdue"] += 1
    return sorted(rows.values(), key=lambda r: (r["department_code"] is None,
                                                r["department_code"] or ""))
