"""KPI arithmetic (DOMAIN.md §5): rates always travel with their sample sizes.

Plain Python: no nameko, no database session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from shared.business_time import BUSINESS_TZ, business_day  # noqa: F401  (re-exported)

GROUP_BY = ("department", "category", "territory", "channel", "none")
MAX_RANGE_DAYS = 3 * 366


@dataclass(frozen=True)
class Rate:
    """A KPI rate with its sample: ``numerator / denominator``; None when nothing was measured."""

    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return round(self.numerator / self.denominator, 4) if self.denominator else None

    def as_dict(self) -> dict[str, object]:
        return {"rate": self.value, "numerator": self.numerator, "sample": self.denominator}


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """Business-day period [start, end] (both inclusive, Asia/Shanghai) as UTC instants [a, b)."""
    if end < start:
        raise ValueError("to must not be before from")
    if (end - start).days > MAX_RANGE_DAYS:
        raise ValueError("range longer than 3 years")
    a = datetime.combine(start, time.min, BUSINESS_TZ).astimezone(UTC)
    b = datetime.combine(end + timedelta(days=1), time.min, BUSINESS_TZ).astimezone(UTC)
    return a, b
