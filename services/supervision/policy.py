"""The SLA policy (时限标准): which clock each assignment gets, by category × urgency.

Defaults are DOMAIN.md §4; a city overrides any entry under ``SLA_POLICY`` in the
configuration file, never in code::

    SLA_POLICY:
      sign: {normal: "2wh", urgent: "30m", critical: "15m"}
      handle: {consultation: "2wd", complaint: "15wd", urgent: "24h", critical: "2h"}
      callback: "2wd"
      supervision_explanation: "2wd"   # 督办单: the department explains within
      escalate_after: "5wd"            # 督办单 still not replied this long after → 通报

Units: ``wd`` working days (counted from the next working day, 次日起算), ``wh`` working hours,
``h`` / ``m`` calendar hours / minutes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.calendar import WorkCalendar

DEFAULT_POLICY: dict[str, Any] = {
    "sign": {"normal": "2wh", "urgent": "30m", "critical": "15m"},
    "handle": {
        "consultation": "2wd",
        "help": "10wd",
        "suggestion": "10wd",
        "complaint": "15wd",
        "report": "15wd",
        "praise": "10wd",
        "other": "10wd",
        "urgent": "24h",
        "critical": "2h",
    },
    "return_window": "2wd",
    "extension_max": "10wd",
    "callback": "2wd",
    # 督办单 (DOMAIN.md §4 gives no explanation deadline; 2 working days like a callback)
    "supervision_explanation": "2wd",
    "escalate_after": "5wd",
}

_SPAN = re.compile(r"^\s*(\d+)\s*(wd|wh|h|m)\s*$")


@dataclass(frozen=True)
class Span:
    amount: int
    unit: str  # wd | wh | h | m

    @classmethod
    def parse(cls, text: str) -> Span:
        m = _SPAN.match(str(text))
        if not m or int(m.group(1)) <= 0:
            raise ValueError(f"invalid time limit {text!r}: use e.g. 2wd, 2wh, 24h, 30m")
        return cls(int(m.group(1)), m.group(2))

    def after(self, start: datetime, calendar: WorkCalendar) -> datetime:
        if self.unit == "wd":
            return calendar.add_working_days(start, self.amount)
        if self.unit == "wh":
            return calendar.add_working_hours(start, self.amount * 60)
        minutes = self.amount * 60 if self.unit == "h" else self.amount
        return calendar.add_calendar(start, timedelta(minutes=minutes))

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


@dataclass(frozen=True)
class Clocks:
    sign_due: datetime
    handle_due: datetime
    policy: str


class SlaPolicy:
    def __init__(self, overrides: Mapping[str, Any] | None = None):
        merged: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v)
                                  for k, v in DEFAULT_POLICY.items()}
        for key, value in (overrides or {}).items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
                merged[key].update(value)
            else:
                merged[key] = value
        self.sign = {k: Span.parse(v) for k, v in merged["sign"].items()}
        self.handle = {k: Span.parse(v) for k, v in merged["handle"].items()}
        self.callback = Span.parse(merged["callback"])
        self.return_window = Span.parse(merged["return_window"])
        self.extension_max = Span.parse(merged["extension_max"])
        self.supervision_explanation = Span.parse(merged["supervision_explanation"])
        self.escalate_after = Span.parse(merged["escalate_after"])

    def clocks(self, category: str, urgency: str, started_at: datetime,
               calendar: WorkCalendar) -> Clocks:
        """Sign and handling deadlines of an assignment dispatched at ``started_at``.

        Urgent and critical orders use their urgency's calendar-time limits; others the
        category's working-day limit. Both clocks start at dispatch (DOMAIN.md §3).
        """
        sign = self.sign.get(urgency) or self.sign["normal"]
        if urgency in ("urgent", "critical") and urgency in self.handle:
            handle, handle_key = self.handle[urgency], urgency
        else:
            handle = self.handle.get(category) or self.handle["other"]
            handle_key = category
        return Clocks(sign_due=sign.after(started_at, calendar),
                      handle_due=handle.after(started_at, calendar),
                      policy=f"sign:{urgency}={sign};handle:{handle_key}={handle}")

    def supervision_deadlines(self, opened_at: datetime,
                              calendar: WorkCalendar) -> tuple[datetime, datetime]:
        """督办单 opened at ``opened_at``: (explanation due, escalation instant)."""
        return (self.supervision_explanation.after(opened_at, calendar),
                self.escalate_after.after(opened_at, calendar))

    def callback_due(self, replied_at: datetime, calendar: WorkCalendar) -> datetime:
        return self.callback.after(replied_at, calendar)
