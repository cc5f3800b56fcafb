"""Timers whose interval comes from the service's configuration (read in ``setup()``).

nameko's :class:`~nameko.timer.Timer` takes its interval when the decorator is applied, at
import time; the sweeps of several services want theirs from configuration (tests run them
every fraction of a second). A timer fires on every instance of a service (STYLE.md field
notes): what it runs must be safe concurrently (unique keys, conditional updates).
"""

from __future__ import annotations

from typing import Any

from nameko.timer import Timer


def configured_timer(key: str, default: float, *, eager: bool = False) -> Any:
    """A timer decorator firing every ``config[key]`` seconds (``default`` when unset)."""

    class ConfiguredTimer(Timer):
        def __init__(self, **kwargs: Any):
            super().__init__(interval=default, eager=eager, **kwargs)

        def setup(self) -> None:
            self.interval = float(self.container.config.get(key, default))
            super().setup()

    ConfiguredTimer.__name__ = ConfiguredTimer.__qualname__ = f"Timer[{key}]"
    return ConfiguredTimer.decorator


# the deadline sweeps of supervision and reporting (urges, 督办, objections)
sweep_timer = configured_timer("SWEEP_INTERVAL_SECONDS", 60)
