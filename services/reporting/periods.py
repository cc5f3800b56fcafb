"""Reporting periods (统计周期): day, half-month, month, assessment quarter, assessment year
and custom ranges, as inclusive business-day ranges (Asia/Shanghai).

The assessment year runs December → November (DOMAIN.md §5): assessment year 2026 is
2025-12-01 … 2026-11-30; Q1 Dec–Feb, Q2 Mar–May, Q3 Jun–Aug, Q4 Sep–Nov. The annual report
(年报) follows the assessment year so that its four quarters add up to it.

Plain Python: no nameko, no database session. Bad input raises :class:`PeriodError` naming
the field, which the schemas turn into a 422.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from shared.business_time import BUSINESS_TZ, business_day

KINDS = ("day", "half_month", "month", "quarter", "year", "custom")
KIND_NAMES = {"day": "日报", "half_month": "半月报", "month": "月报", "quarter": "季报",
              "year": "年报", "custom": "自定义"}
MAX_RANGE_DAYS = 3 * 366  # "more than 3 years" is refused


class PeriodError(ValueError):
    """A period that cannot be used; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Period:
    kind: str
    start: date  # inclusive
    end: date  # inclusive
    label: str  # Chinese, e.g. "2026年11月上半月", "2026年度第1季度"

    @property
    def key(self) -> str:
        """A stable identifier: ``2026-11-H1``, ``2026-11``, ``2026Q1``, ``2026``, …"""
        return period_key(self)

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as UTC instants [a, b)."""
        return period_bounds(self.start, self.end)

    def contains(self, at: datetime) -> bool:
        return self.start <= business_day(at) <= self.end

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "key": self.key, "from": self.start.isoformat(),
                "to": self.end.isoformat(), "label": self.label}


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """Business-day range [start, end] (both inclusive) as UTC instants [a, b)."""
    check_range(start, end)
    a = datetime.combine(start, time.min, BUSINESS_TZ).astimezone(UTC)
    b = datetime.combine(end + timedelta(days=1), time.min, BUSINESS_TZ).astimezone(UTC)
    return a, b


def check_range(start: date, end: date) -> None:
    if end < start:
        raise PeriodError("to", "结束日期早于开始日期 to is before from")
    if (end - start).days > MAX_RANGE_DAYS:
        raise PeriodError("to", "时间范围不能超过3年 range longer than 3 years")


def day_number(d: date) -> int:
    """A business day as the YYYYMMDD integer the aggregates use (0 means none)."""
    return d.year * 10000 + d.month * 100 + d.day


def assessment_year_of(d: date) -> int:
    """December belongs to the next assessment year."""
    return d.year + 1 if d.month == 12 else d.year


def quarter_of(d: date) -> tuple[int, int]:
    """(assessment year, quarter 1-4) of a day."""
    shifted = (d.month % 12)  # Dec → 0, Jan → 1, … Nov → 11
    return assessment_year_of(d), shifted // 3 + 1


def quarter(year: int, q: int) -> Period:
    if q not in (1, 2, 3, 4):
        raise PeriodError("quarter", "季度应为1至4 quarter must be 1-4")
    first_month = (q - 1) * 3  # months after the December that opens the year
    start = _add_months(date(year - 1, 12, 1), first_month)
    end = _add_months(start, 3) - timedelta(days=1)
    return Period("quarter", start, end, f"{year}年度第{q}季度")


def assessment_year(year: int) -> Period:
    return Period("year", date(year - 1, 12, 1), date(year, 11, 30), f"{year}年度")


def month(year: int, m: int) -> Period:
    last = calendar.monthrange(year, m)[1]
    return Period("month", date(year, m, 1), date(year, m, last), f"{year}年{m}月")


def half_month(year: int, m: int, half: int) -> Period:
    last = calendar.monthrange(year, m)[1]
    if half == 1:
        return Period("half_month", date(year, m, 1), date(year, m, 15), f"{year}年{m}月上半月")
    return Period("half_month", date(year, m, 16), date(year, m, last), f"{year}年{m}月下半月")


def day(d: date) -> Period:
    return Period("day", d, d, f"{d.year}年{d.month}月{d.day}日")


def custom(start: date, end: date) -> Period:
    check_range(start, end)
    return Period("custom", start, end, f"{start.isoformat()} 至 {end.isoformat()}")


def containing(kind: str, d: date) -> Period:
    """The period of ``kind`` that contains day ``d``."""
    if kind == "day":
        return day(d)
    if kind == "half_month":
        return half_month(d.year, d.month, 1 if d.day <= 15 else 2)
    if kind == "month":
        return month(d.year, d.month)
    if kind == "quarter":
        return quarter(*quarter_of(d))
    if kind == "year":
        return assessment_year(assessment_year_of(d))
    raise PeriodError("period", f"未知的周期 unknown period kind {kind}; valid: "
                      f"{', '.join(k for k in KINDS if k != 'custom')}")


_PATTERNS = (
    ("half_month", re.compile(r"^(\d{4})-(\d{2})-H([12])$")),
    ("month", re.compile(r"^(\d{4})-(\d{2})$")),
    ("quarter", re.compile(r"^(\d{4})Q([1-4])$")),
    ("year", re.compile(r"^(\d{4})$")),
    ("day", re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")),
)


def parse(key: str) -> Period:
    """A period from its key: ``2026-11-03``, ``2026-11-H1``, ``2026-11``, ``2026Q1`` (the
    assessment quarter), ``2026`` (the assessment year)."""
    for kind, pattern in _PATTERNS:
        m = pattern.match(key or "")
        if not m:
            continue
        n = [int(g) for g in m.groups()]
        try:
            if kind == "half_month":
                return half_month(n[0], n[1], n[2])
            if kind == "month":
                return month(n[0], n[1])
            if kind == "quarter":
                return quarter(n[0], n[1])
            if kind == "year":
                return assessment_year(n[0])
            return day(date(n[0], n[1], n[2]))
        except ValueError as exc:  # month 13, February 30th
            if isinstance(exc, PeriodError):
                raise
            raise PeriodError("period", f"日期无效 invalid period {key}") from exc
    raise PeriodError("period", f"无法识别的周期 unrecognised period {key!r}; use 2026-11-03, "
                      "2026-11-H1, 2026-11, 2026Q1 (assessment quarter) or 2026 (assessment "
                      "year)")


def period_key(p: Period) -> str:
    if p.kind == "day":
        return p.start.isoformat()
    if p.kind == "half_month":
        return f"{p.start:%Y-%m}-H{1 if p.start.day == 1 else 2}"
    if p.kind == "month":
        return f"{p.start:%Y-%m}"
    if p.kind == "quarter":
        y, q = quarter_of(p.start)
        return f"{y}Q{q}"
    if p.kind == "year":
        return str(assessment_year_of(p.start))
    return f"{p.start.isoformat()}..{p.end.isoformat()}"


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, 1)
