"""Working-day calendar (工作日历) for deadline arithmetic (DOMAIN.md §4).

Mainland China calendar with make-up working days (调休): a weekend can be a working day
and a weekday a holiday. Holiday data comes from the ``chinesecalendar`` package; an
editable override table wins over it. For a year the package does not know (and no
override for the date) the calendar falls back to weekends-only (Mon–Fri working) and logs
one WARNING per year — it never crashes.

Conventions:
* every public ``datetime`` argument must be timezone-aware (``ValueError`` naming the
  argument otherwise); every returned ``datetime`` is timezone-aware in UTC;
* business logic (which day, which working period) happens in the calendar's local
  timezone (default ``Asia/Shanghai``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar  # type: ignore[import-untyped]
from chinese_calendar import constants as _cc_constants

__all__ = ["DEFAULT_WORKING_HOURS", "WorkCalendar", "known_years", "working_hours"]

DEFAULT_WORKING_HOURS: tuple[tuple[time, time], ...] = (
    (time(8, 30), time(12, 0)),
    (time(13, 30), time(17, 30)),
)

# Safety net against calendars without any working day (e.g. absurd overrides).
_MAX_SCAN_DAYS = 3660

_KNOWN_DATES: set[date] = set(_cc_constants.holidays) | set(_cc_constants.workdays)
_KNOWN_YEARS: range = range(
    min(d.year for d in _KNOWN_DATES), max(d.year for d in _KNOWN_DATES) + 1
)


def working_hours(config: Mapping[str, object]) -> tuple[tuple[time, time], ...]:
    """The working-hour spans of a service's configuration (``WORKING_HOURS: [["08:30",
    "12:00"], …]``; :data:`DEFAULT_WORKING_HOURS` when absent)."""
    spans = config.get("WORKING_HOURS")
    if not spans:
        return DEFAULT_WORKING_HOURS
    return tuple((time.fromisoformat(a), time.fromisoformat(b))
                 for a, b in spans)  # type: ignore[attr-defined]


def known_years() -> range:
    """Years for which ``chinesecalendar`` has official holiday/调休 data (e.g. 2004–2026)."""
    return _KNOWN_YEARS


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value!r}")


class WorkCalendar:
    """Working-day / working-hour calendar.

    :param overrides: date → ``True`` (working day, e.g. a 调休 make-up day) or ``False``
        (holiday). Overrides win over the package and are the way to enter holiday data
        for years the package does not know yet.
    :param working_hours: ordered, non-overlapping (start, end) local periods of a working
        day (default 08:30–12:00, 13:30–17:30).
    :param tz: IANA name of the local timezone the rules apply in.
    :param logger: logger for the fallback warning (default: this module's logger).
    """

    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        working_hours: Sequence[tuple[time, time]] = DEFAULT_WORKING_HOURS,
        tz: str = "Asia/Shanghai",
        logger: logging.Logger | None = None,
    ) -> None:
        periods = tuple((s, e) for s, e in working_hours)
        if not periods:
            raise ValueError("working_hours must contain at least one period")
        previous_end: time | None = None
        for start, end in periods:
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("working_hours must be naive local times")
            if not start < end or (previous_end is not None and start < previous_end):
                raise ValueError("working_hours must be ordered, non-empty, non-overlapping")
            previous_end = end
        self._overrides: dict[date, bool] = {
            (k.date() if isinstance(k, datetime) else k): bool(v)
            for k, v in (overrides or {}).items()
        }
        self._periods = periods
        self._tz = ZoneInfo(tz)
        self._log = logger or logging.getLogger(__name__)
        self._warned_years: set[int] = set()

    @property
    def tz(self) -> ZoneInfo:
        """The local timezone business rules are evaluated in."""
        return self._tz

    # -- days ------------------------------------------------------------------------
    def is_holiday_fallback(self, year: int) -> bool:
        """True when ``year`` is unknown to the package, i.e. dates of that year without an
        override are decided by the weekends-only fallback."""
        return year not in _KNOWN_YEARS

    def is_workday(self, d: date) -> bool:
        """Whether ``d`` (a local calendar date) is a working day (工作日).

        Order: override → package data (incl. 调休) → weekends-only fallback (WARNING
        logged once per year per calendar instance).
        """
        if isinstance(d, datetime):
            raise TypeError("is_workday takes a date, not a datetime")
        if d in self._overrides:
            return self._overrides[d]
        if not self.is_holiday_fallback(d.year):
            try:
                return bool(chinese_calendar.is_workday(d))
            except NotImplementedError:  # package range narrower than its constants
                pass
        if d.year not in self._warned_years:
            self._warned_years.add(d.year)
            self._log.warning(
                "No holiday data for %d in chinesecalendar (known %d-%d): falling back to "
                "weekends-only (Mon-Fri working). Add overrides for %d holidays/调休.",
                d.year,
                _KNOWN_YEARS.start,
                _KNOWN_YEARS.stop - 1,
                d.year,
            )
        return d.weekday() < 5

    def next_workday(self, d: date) -> date:
        """First working day strictly after ``d``."""
        for offset in range(1, _MAX_SCAN_DAYS + 1):
            candidate = d + timedelta(days=offset)
            if self.is_workday(candidate):
                return candidate
        raise RuntimeError(f"no working day within {_MAX_SCAN_DAYS} days after {d}")

    def working_days_between(self, start: date, end: date) -> int:
        """Number of working days in the half-open interval (start, end]; 0 if end <= start."""
        count = 0
        d = start + timedelta(days=1)
        while d <= end:
            count += self.is_workday(d)
            d += timedelta(days=1)
        return count

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """Deadline of a day-based limit (N个工作日), counted from the next working day
        (次日起算): the result is the END of the ``days``-th working day strictly after
        the local date of ``start``, i.e. local midnight of the following calendar day,
        returned in UTC. Example: Monday 10:00 + 2 → Thursday 00:00 local.

        :raises ValueError: ``start`` naive or ``days`` < 1.
        """
        _require_aware(start, "start")
        if days < 1:
            raise ValueError(f"days must be >= 1, got {days}")
        d = start.astimezone(self._tz).date()
        for _ in range(days):
            d = self.next_workday(d)
        return self._local_to_utc(datetime.combine(d + timedelta(days=1), time(0)))

    # -- hours -----------------------------------------------------------------------
    def add_working_hours(self, start: datetime, minutes: int) -> datetime:
        """Deadline of an hour-based limit counted in working time (工作时间): only minutes
        inside ``working_hours`` on working days count. A start outside working hours
        begins at the next working period. A deadline that exactly exhausts a period ends
        at that period's end (e.g. 11:00 + 60 min → 12:00, not 13:30). ``minutes == 0``
        returns ``start`` unchanged (in UTC).

        :raises ValueError: ``start`` naive or ``minutes`` < 0.
        """
        _require_aware(start, "start")
        if minutes < 0:
            raise ValueError(f"minutes must be >= 0, got {minutes}")
        if minutes == 0:
            return start.astimezone(UTC)
        remaining = timedelta(minutes=minutes)
        cursor = start.astimezone(self._tz).replace(tzinfo=None)  # local wall clock
        for _ in range(_MAX_SCAN_DAYS):
            day = cursor.date()
            if self.is_workday(day):
                for p_start, p_end in self._periods:
                    period_end = datetime.combine(day, p_end)
                    if cursor >= period_end:
                        continue
                    begin = max(cursor, datetime.combine(day, p_start))
                    available = period_end - begin
                    if remaining <= available:
                        return self._local_to_utc(begin + remaining)
                    remaining -= available
                    cursor = period_end
            cursor = datetime.combine(day + timedelta(days=1), time(0))
        raise RuntimeError(f"no working time within {_MAX_SCAN_DAYS} days after {start}")

    def add_calendar(self, start: datetime, delta: timedelta) -> datetime:
        """``start + delta`` in absolute (elapsed) time, for clocks counted in calendar
        hours (紧急/特急). Returned in UTC."""
        _require_aware(start, "start")
        return start.astimezone(UTC) + delta

    @staticmethod
    def elapsed_fraction(start: datetime, due: datetime, now: datetime) -> float:
        """Fraction of a clock consumed at ``now``: (now - start) / (due - start) in
        calendar (elapsed) time, clamped below at 0.0 and NOT clamped above (> 1.0 means
        overdue/超期). Used for the 80 % urge (催办) warning.

        Calendar time is chosen on purpose: it is monotonic in ``now``, needs no calendar
        look-ups, and works identically for working-day, working-hour and calendar
        clocks. For working-time clocks it can differ from a working-time fraction by a
        few hours in either direction (nights, weekends and holidays count here).

        :raises ValueError: a naive argument, or ``due`` not after ``start``.
        """
        _require_aware(start, "start")
        _require_aware(due, "due")
        _require_aware(now, "now")
        total = (due - start).total_seconds()
        if total <= 0:
            raise ValueError("due must be later than start")
        return max(0.0, (now - start).total_seconds() / total)

    # -- helpers -------------------------------------------------------------------------
    def _local_to_utc(self, local_naive: datetime) -> datetime:
        return local_naive.replace(tzinfo=self._tz).astimezone(UTC)
