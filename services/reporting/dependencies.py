"""Reporting's dependency providers: the working-day calendar (for the assessment objections'
5-working-day clocks) and the objection sweep's timer.

The calendar: reporting has no calendar-override table of its own and does not call
supervision for one (an objection must be accepted while supervision is down). It uses the
``chinesecalendar`` data (official holidays and 调休 make-up days) plus the overrides in its
configuration, ``CALENDAR_OVERRIDES: {"2027-01-01": false, "2027-02-06": true}`` — the same
date → working-day mapping supervision keeps in its table; a year neither knows falls back to
weekends-only with a logged warning (shared/calendar.py). The deadline is computed once, when
the objection is submitted, and stored (``due_at``): a later change of the calendar does not
move it.
"""

from __future__ import annotations

import logging
from datetime import date, time
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.timer import Timer

from shared.calendar import WorkCalendar

log = logging.getLogger(__name__)


def build_calendar(config: dict[str, Any]) -> WorkCalendar:
    spans = config.get("WORKING_HOURS") or [["08:30", "12:00"], ["13:30", "17:30"]]
    hours = tuple((time.fromisoformat(a), time.fromisoformat(b)) for a, b in spans)
    raw = config.get("CALENDAR_OVERRIDES") or {}
    overrides = {date.fromisoformat(str(day)): bool(workday) for day, workday in raw.items()}
    return WorkCalendar(overrides=overrides, working_hours=hours,
                        tz=config.get("TIMEZONE", "Asia/Shanghai"), logger=log)


class Calendar(DependencyProvider):
    """Injects the :class:`WorkCalendar` built from the configuration in ``setup()``, once (a
    bad override stops the service at start)."""

    def setup(self) -> None:
        self.calendar = build_calendar(self.container.config)

    def get_dependency(self, worker_ctx: Any) -> WorkCalendar:
        return self.calendar


class SweepTimer(Timer):
    """nameko's timer with its interval from ``SWEEP_INTERVAL_SECONDS`` (default 60). It fires
    on every instance; the sweep claims each objection with a conditional update."""

    def __init__(self, **kwargs: Any):
        super().__init__(interval=60, **kwargs)

    def setup(self) -> None:
        self.interval = float(self.container.config.get("SWEEP_INTERVAL_SECONDS", 60))
        super().setup()


sweep_timer = SweepTimer.decorator
