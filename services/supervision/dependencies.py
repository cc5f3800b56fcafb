"""Supervision's dependency providers: the working-day calendar with this city's overrides,
and the SLA policy read from configuration once per process."""

from __future__ import annotations

import logging
from typing import Any

from nameko.extensions import DependencyProvider
from sqlalchemy import select

from shared.calendar import WorkCalendar, working_hours
from shared.timers import sweep_timer  # noqa: F401  (re-exported: the sweeps import it here)

log = logging.getLogger(__name__)


def build_calendar(config: dict[str, Any], session: Any) -> WorkCalendar:
    from services.supervision.models import CalendarOverride

    overrides = {o.day: o.workday for o in session.scalars(select(CalendarOverride))}
    return WorkCalendar(overrides=overrides, working_hours=working_hours(config),
                        tz=config.get("TIMEZONE", "Asia/Shanghai"), logger=log)


class Calendar(DependencyProvider):
    """Injects a function ``calendar(session) -> WorkCalendar``; overrides are cached per
    process and reloaded when :meth:`invalidate` is called by whoever edits them."""

    def setup(self) -> None:
        self._cached: WorkCalendar | None = None

    def invalidate(self) -> None:
        self._cached = None

    def get_dependency(self, worker_ctx: Any) -> Any:
        def calendar(session: Any) -> WorkCalendar:
            if self._cached is None:
                self._cached = build_calendar(self.container.config, session)
            return self._cached
        return calendar


class Policy(DependencyProvider):
    """Injects the :class:`SlaPolicy` built from ``SLA_POLICY`` in ``setup()``, once."""

    def setup(self) -> None:
        from services.supervision.policy import SlaPolicy

        self.policy = SlaPolicy(self.container.config.get("SLA_POLICY"))

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self.policy


class InstructionPolicy(DependencyProvider):
    """Injects the leader instructions' :class:`DeadlinePolicy` built from
    ``INSTRUCTION_DEADLINES`` in ``setup()``, once: a bad entry stops the service at start."""

    def setup(self) -> None:
        from services.supervision.instructions import DeadlinePolicy

        self.policy = DeadlinePolicy(self.container.config.get("INSTRUCTION_DEADLINES"))

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self.policy
