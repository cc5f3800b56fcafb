"""Reporting's dependency providers: the working-day calendar (for the assessment objections'
5-working-day clocks), the hotspots' tokenizer and the objection sweep's timer.

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
from datetime import date
from typing import Any

from nameko.extensions import DependencyProvider

from services.reporting import hotspots
from shared.calendar import WorkCalendar, working_hours
from shared.timers import sweep_timer  # noqa: F401  (re-exported: the sweep imports it here)

log = logging.getLogger(__name__)


def build_calendar(config: dict[str, Any]) -> WorkCalendar:
    raw = config.get("CALENDAR_OVERRIDES") or {}
    overrides = {date.fromisoformat(str(day)): bool(workday) for day, workday in raw.items()}
    return WorkCalendar(overrides=overrides, working_hours=working_hours(config),
                        tz=config.get("TIMEZONE", "Asia/Shanghai"), logger=log)


class Calendar(DependencyProvider):
    """Injects the :class:`WorkCalendar` built from the configuration in ``setup()``, once (a
    bad override stops the service at start)."""

    def setup(self) -> None:
        self.calendar = build_calendar(self.container.config)

    def get_dependency(self, worker_ctx: Any) -> WorkCalendar:
        return self.calendar


class HotspotTokenizer(DependencyProvider):
    """Loads the hotspots' tokenizer (jieba's dictionary, ≈2 s) in ``setup()``, once, so the
    first call event and a rebuild (``hotline reporting rebuild``) do not wait for it."""

    def setup(self) -> None:
        self.tokenizer = hotspots.tokenizer()

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self.tokenizer
