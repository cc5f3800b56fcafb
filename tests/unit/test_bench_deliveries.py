"""How ``hotline bench deliveries`` measures (bench/deliveries.py): rates from the receiver's
arrival times, dispatch → delivered latencies from the entries' own times, completeness checks,
the targets, and the results files. Plain functions over arrival records like the ones
``hotline dept-sim --record`` serves (the run itself is a benchmark, never a test)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bench import BENCHMARKS
from bench.common import write_results
from bench.deliveries import (
    _options,
    burst_rate,
    dispatch_latencies_ms,
    evaluate_targets,
    markdown,
    missing,
    out_of_order,
    parse_ts,
    phase_summary,
    registration_latencies_ms,
    repeats,
    result_stem,
)

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
E0 = T0.timestamp()


def arrival(seq: int, at: float, *, kind: str = "assignment.dispatched", dept: str = "CG",
            ticket: str | None = None, occurred: float | None = None,
            dispatched: float | None = None) -> dict[str, Any]:
    iso = lambda s: None if s is None else (T0 + timedelta(seconds=s)).isoformat()  # noqa: E731
    return {"department_code": dept, "seq": seq, "type": kind,
            "ticket_no": ticket or f"T{seq}", "occurred_at": iso(occurred),
            "dispatched_at": iso(dispatched), "received_at": E0 + at}


def test_times_with_and_without_offset() -> None:
    assert parse_ts("2026-12-01T08:00:00+00:00") == E0
    assert parse_ts("2026-12-01T16:00:00+08:00") == E0
    assert parse_ts("2026-12-01T08:00:00") == E0  # naive: UTC
    assert parse_ts(None) is None and parse_ts("yesterday") is None and parse_ts(5) is None


def test_rate_overall_and_over_the_middle() -> None:
    # a slow start (the first retry after the outage), then 100 arrivals 5 ms apart
    times = [0.0, 1.0] + [2.0 + i * 0.005 for i in range(100)]
    r = burst_rate(times)
    assert r["n"] == 102 and r["window_s"] == pytest.approx(2.495)
    assert r["per_s"] == round(101 / 2.495, 1)
    assert r["middle_per_s"] == pytest.approx(200.0, rel=0.01)  # the stagger is left out
    assert burst_rate([1.0])["per_s"] is None and burst_rate([1.0, 1.0])["per_s"] is None


def test_dispatch_latency_prefers_dispatched_at_then_occurred_at() -> None:
    items = [arrival(1, 0.25, dispatched=0.0, occurred=0.1),
             arrival(2, 1.5, occurred=1.0),
             arrival(3, 2.0),
             arrival(4, 9.0, kind="assignment.deadlines_set", occurred=0.0)]
    lat, source = dispatch_latencies_ms(items)
    assert lat == pytest.approx([250.0, 500.0])
    assert source == {"dispatched_at": 1, "occurred_at": 1, "unmeasured": 1}


def test_registration_latency_by_ticket() -> None:
    items = [arrival(1, 0.3, ticket="A"), arrival(2, 0.9, ticket="B"),
             arrival(3, 1.0, ticket="C", kind="assignment.deadlines_set")]
    assert registration_latencies_ms(items, {"A": E0 + 0.1, "C": E0}) == pytest.approx([200.0])


def test_completeness_repeats_and_order_per_department() -> None:
    items = [arrival(1, 0.0, ticket="A"), arrival(2, 0.1, kind="assignment.deadlines_set"),
             arrival(1, 0.2, dept="HB", ticket="B"), arrival(4, 0.3, ticket="D"),
             arrival(3, 0.4, ticket="C"), arrival(4, 0.5, ticket="D")]
    assert missing(["A", "B", "C", "E"], items) == ["E"]
    assert repeats(items) == 1          # CG seq 4 twice
    assert out_of_order(items) == 1     # CG seq 3 after seq 4; HB's own sequence is separate


def test_phase_summary_per_department() -> None:
    items = [arrival(i, i * 0.01, ticket=f"A{i}") for i in range(1, 11)] + \
        [arrival(i, 5 + i * 0.02, dept="HB", ticket=f"B{i}") for i in range(1, 6)]
    s = phase_summary(items, [f"A{i}" for i in range(1, 11)] + ["B1", "X"])
    assert (s["orders"], s["entries"], s["missing"], s["repeats"]) == (12, 15, 1, 0)
    assert s["by_type"] == {"assignment.dispatched": 15}
    assert s["per_department"]["CG"]["per_s"] == 100.0
    assert s["per_department"]["HB"]["per_s"] == 50.0


def result(rate: float | None, p99: float | None) -> dict[str, Any]:
    return {"benchmark": "deliveries", "database": "sqlite", "timestamp": "2026-12-01T08:00:00",
            "machine": {"cpu_count": 2, "cpu_model": "test cpu", "memory_total_mb": 4096},
            "versions": {"python": "3.11", "nameko": "2.14", "SQLAlchemy": "2", "sqlite": "3"},
            "parameters": {"method": "the method note"},
            "throughput": {"orders": 400, "repeats": 0, "out_of_order": 0, "missing": 0,
                           "rate": {"n": 800, "window_s": 3.2, "per_s": rate,
                                    "middle_per_s": rate}},
            "latency": {"offered_per_s": 20.0, "duration_s": 30.0, "orders": 600,
                        "entries": 1200, "repeats": 0, "out_of_order": 0, "missing": 0,
                        "dispatch_to_delivered_ms": {"n": 600, "p50": 40.0, "p95": 90.0,
                                                     "p99": p99},
                        "registered_to_delivered_ms": {"n": 0}},
            "receiver": {"cpu_percent_of_one_core": 12.0, "verification_failures": {},
                         "duplicates": 0, "held": 6, "hold_expired": 0}}


def test_targets() -> None:
    t = evaluate_targets(result(250.0, 120.0))
    assert t["deliveries_per_s"]["met"] is True and t["p99_dispatch_to_delivered_ms"]["met"]
    t = evaluate_targets(result(150.0, 700.0))
    assert t["deliveries_per_s"]["met"] is False
    assert t["p99_dispatch_to_delivered_ms"]["met"] is False
    assert t["p99_dispatch_to_delivered_ms"]["measured_text"] == "700 ms"
    t = evaluate_targets({})
    assert t["deliveries_per_s"]["met"] is None and \
        t["deliveries_per_s"]["measured_text"] == "not measured"


def test_results_files(tmp_path: Any) -> None:
    r = result(250.0, 120.0)
    r["targets"] = evaluate_targets(r)
    md = markdown(r)
    assert md.startswith("#### `hotline bench deliveries` — SQLite 3 (2026-12-01, 2 cores")
    assert "| ≥ 200 | 250/s | yes |" in md and "at 20 orders/s × 30 s" in md
    assert "p50/p95/p99 40.0 / 90.0 / 120 ms" in md
    path = write_results(result_stem("sqlite"), r, md, tmp_path)
    assert path == tmp_path / "deliveries-sqlite.json"
    assert json.loads(path.read_text())["targets"]["deliveries_per_s"]["measured"] == 250.0
    assert (tmp_path / "deliveries-sqlite.md").read_text() == md
    assert "longer than the receiver's hold" not in md
    r["throughput"]["hold_expired"] = 2
    assert "longer than the receiver's hold" in markdown(r)


def test_stems_and_options() -> None:
    assert result_stem("postgres") == "deliveries-postgres"
    assert result_stem("sqlite", 30.0, None) == "deliveries-sqlite-r30-d30"
    assert _options({"rate": 30.0})["latency_rate"] == 30.0
    with pytest.raises(ValueError):
        _options({"rate": 0})
    with pytest.raises(ValueError):
        _options({"lifecycles": 5})
    assert BENCHMARKS["deliveries"] == "bench.deliveries"


def test_every_template_goes_to_its_own_department_alone() -> None:
    from bench.deliveries import templates_for
    from bench.flow import check_templates_offline

    templates = templates_for(8)
    check_templates_offline(templates)  # raises when the demo routing sends one elsewhere
    assert len({t["department"] for t in templates}) == 8
    assert [t["department"] for t in templates_for(2)] == ["chengguan", "huanbao"]
    with pytest.raises(ValueError):
        _options({"departments": 9})
