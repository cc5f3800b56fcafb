"""shared/timers.py: a timer's interval comes from the service's configuration in setup().
Real nameko Timer classes; the container is a stand-in holding only ``config`` (edge)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from shared.timers import configured_timer, sweep_timer


def _timer(decorator: Any, config: dict[str, Any]) -> Any:
    timer_cls = decorator.__self__  # the Timer subclass behind ``.decorator``
    timer = timer_cls()
    timer.container = SimpleNamespace(config=config)
    timer.setup()
    return timer


def test_the_interval_is_read_from_configuration_with_a_default() -> None:
    assert _timer(sweep_timer, {"SWEEP_INTERVAL_SECONDS": "0.25"}).interval == 0.25
    assert _timer(sweep_timer, {}).interval == 60.0


def test_each_configured_timer_has_its_own_key_and_eagerness() -> None:
    poll = configured_timer("POLL_SECONDS", 0.5, eager=True)
    t = _timer(poll, {"SWEEP_INTERVAL_SECONDS": 9})
    assert (t.interval, t.eager) == (0.5, True)
    assert _timer(poll, {"POLL_SECONDS": 2}).interval == 2.0
