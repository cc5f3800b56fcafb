"""How ``hotline bench lifecycle`` counts transitions: from supervision's history, by the
server's timestamps (the run itself is a benchmark, never a test)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench.lifecycle import _lead_state, transitions_per_s

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def history(*seconds: float) -> list[dict[str, str]]:
    return [{"at": (T0 + timedelta(seconds=s)).isoformat(), "to_status": "x"} for s in seconds]


def test_rate_over_the_window_and_its_middle() -> None:
    # 2 orders × 5 transitions over 10 s; 7 of them fall in the middle 80 % (1 s … 9 s)
    rate = transitions_per_s({"a": history(0, 2, 4, 6, 8), "b": history(0.5, 3, 5, 7, 10)})
    assert rate["transitions"] == 10 and rate["window_s"] == 10.0
    assert rate["per_s"] == 1.0
    assert rate["sustained_per_s"] == round(7 / 8, 2)


def test_too_few_transitions_give_no_rate() -> None:
    assert transitions_per_s({"a": history(1)})["per_s"] is None


def test_lead_state_is_dispatch_s_copy_of_the_lead_assignment() -> None:
    ticket = {"assignments": [{"role": "assist", "state": "signed"},
                              {"role": "lead", "state": "return_requested"}]}
    assert _lead_state(ticket) == "return_requested"
    assert _lead_state({"assignments": []}) is None
