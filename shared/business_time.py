"""Business time: timestamps are stored in UTC, but days, periods and order numbers follow
the city's local calendar (ARCHITECTURE.md "Storage"), Asia/Shanghai for mainland cities."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


def business_day(at: datetime) -> date:
    """The local date of an instant (00:30 UTC+8 on the 24th is the 24th, not the 23rd)."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    return at.astimezone(BUSINESS_TZ).date()


def business_today() -> date:
    return business_day(datetime.now(UTC))
