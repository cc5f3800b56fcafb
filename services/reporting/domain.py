"""KPI arithmetic (DOMAIN.md §5): rates always travel with their sample sizes.

Plain Python: no nameko, no database session. Periods are in ``periods.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.reporting.periods import MAX_RANGE_DAYS, period_bounds  # noqa: F401  (re-exported)
from shared.business_time import BUSINESS_TZ, business_day  # noqa: F401  (re-exported)

GROUP_BY = ("department", "category", "territory", "channel", "none")


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
