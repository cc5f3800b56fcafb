"""``hotline bench sweep`` end to end on a tiny size: the data builder, the index scan, the full
sweep through the supervision service and the results file. Behaviour only, never timing
(ARCHITECTURE.md "Testing"): the figures a benchmark measures are not asserted here."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hotline.cli import main


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_sweep_benchmark_builds_sweeps_and_records_the_results(tmp_path: Any,
                                                               database: str) -> None:
    # batch 7: the 20 due clocks take several batches (transactions) of one sweep call
    code = main(["bench", "sweep", "--database", database, "--assignments", "200",
                 "--due-fraction", "0.1", "--batch", "7", "--output", str(tmp_path)])
    assert code == 0
    stem = f"sweep-{database}-n200-f0.1-b7"
    result = json.loads((tmp_path / f"{stem}.json").read_text("utf-8"))

    assert result["build"]["clocks"] == 200 and result["build"]["orders"] == 200
    assert result["find"]["due_found"] == 20
    assert result["process"]["clocks"] == 20 and result["process"]["urges"] == 20
    found = result["check"]["found"]
    assert result["check"]["ok"] is True
    # 每月催办 of open clocks started in earlier months (how many depends on today's date), at
    # most one each
    assert 0 <= found.pop("monthly_urges") <= 200
    assert found == {"still_due": 0, "new_urges": 20, "ticket_urged": 20, "ticket_overdue": 10,
                     "overdue_clocks": 10, "duplicate_keys": 0}
    # the last call found nothing due: the sweep ran until none was left
    assert result["process"]["calls_detail"][-1]["clocks"] == 0

    machine, versions = result["machine"], result["versions"]
    assert machine["cpu_count"] >= 1 and machine["cpu_model"] and machine["memory_total_mb"] > 0
    for name in ("python", "nameko", "SQLAlchemy", "sqlite", "rabbitmq"):
        assert versions[name], name
    assert ("postgresql" in versions) == (database == "postgres")
    assert result["target"]["target_s"] == (3.0 if database == "sqlite" else 1.0)
    assert result["target"]["met"] is None  # judged only at the reference size
    md = (tmp_path / f"{stem}.md").read_text("utf-8")
    assert "FIND" in md and "PROCESS" in md


def test_bad_sizes_are_refused_before_anything_runs(tmp_path: Any) -> None:
    assert main(["bench", "sweep", "--assignments", "0", "--output", str(tmp_path)]) == 2
    assert main(["bench", "sweep", "--due-fraction", "1.5", "--output", str(tmp_path)]) == 2
    assert list(tmp_path.iterdir()) == []
