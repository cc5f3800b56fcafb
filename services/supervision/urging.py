"""Automatic urging (自动催办) and overdue marking (超期): which thresholds a clock has passed.

Plain Python: no nameko, no database session. Each assignment has two clocks, sign-for (签收)
and handling (办理); each clock has two thresholds, a warning at 80 % of its span and the
breach at its deadline (DOMAIN.md §4). A clock stops counting when its action is done (signed;
replied). Fractions are of calendar time between the start and the deadline: a deadline
counted in working days already skips nights and holidays, so 80 % of the calendar span is
when a department still has about a fifth of its time left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

WARNING_FRACTION = 0.8
CLOCKS = ("sign", "handle")
KINDS = ("warning", "breach")


def warn_at(start: datetime, due: datetime, fraction: float = WARNING_FRACTION) -> datetime:
    """The instant ``fraction`` of the way from ``start`` to ``due``."""
    if due <= start:
        return due
    return start + (due - start) * fraction


@dataclass(frozen=True)
class ClockView:
    started_at: datetime
    sign_due: datetime
    handle_due: datetime
    sign_warn_at: datetime
    handle_warn_at: datetime
    signed_at: datetime | None
    replied_at: datetime | None


@dataclass(frozen=True)
class Threshold:
    clock: str  # sign | handle
    kind: str  # warning | breach
    at: datetime


def thresholds(c: ClockView) -> list[Threshold]:
    """Every threshold of a clock that still counts, earliest first."""
    out = []
    if c.signed_at is None:
        out += [Threshold("sign", "warning", c.sign_warn_at), Threshold("sign", "breach", c.sign_due)]
    if c.replied_at is None:
        out += [Threshold("handle", "warning", c.handle_warn_at),
                Threshold("handle", "breach", c.handle_due)]
    return sorted(out, key=lambda t: t.at)


def passed(c: ClockView, now: datetime) -> list[Threshold]:
    """Thresholds reached by ``now`` (each urged once; the caller's storage enforces once)."""
    return [t for t in thresholds(c) if t.at <= now]


def next_check(c: ClockView, now: datetime) -> datetime | None:
    """When the sweep must look at this clock again; None when nothing is left to urge."""
    upcoming = [t.at for t in thresholds(c) if t.at > now]
    return min(upcoming) if upcoming else None


def auto_key(assignment_id: int, clock: str, kind: str) -> str:
    """The one-per-threshold key that makes automatic urges exactly-once across instances."""
    return f"{assignment_id}:{clock}:{kind}"
