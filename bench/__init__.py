"""Benchmarks, run by ``hotline bench NAME`` (ARCHITECTURE.md "Testing": never timed assertions
in tests). Each benchmark is a module with ``run(config, **options) -> int`` that starts its own
isolated system (a fresh RabbitMQ vhost, a temporary data directory), measures, writes
``bench/results/<name>-….json`` and a markdown table, and stops everything it started.

Known benchmarks:

- ``flow``: orders registered over HTTP, routed by dispatch, signed by a simulated department
  (:mod:`bench.flow`), with the raw nameko event round-trip rate on the same broker as the
  ceiling.
- ``sweep``: the deadline sweep (催办/超期) over a large number of open assignments on a freshly
  migrated supervision database (:mod:`bench.sweep`): the index scan alone, then the full sweep.
- ``lifecycle``: whole lifecycles (register → dispatch → sign → reply → callback → closed, with
  extension and return branches) driven over HTTP by concurrent clients; transitions per
  second (:mod:`bench.lifecycle`).
- ``deliveries``: webhook deliveries to department systems, received by ``hotline dept-sim``:
  deliveries per second draining a backlog, and dispatch → delivered latency at 20 orders/s
  (:mod:`bench.deliveries`).
- ``knowledge``: the knowledge base's search: recall@5 and MRR of labelled queries over the demo
  corpus, search latency over 10,000 articles in process and through the knowledge service,
  index build and restart time, the index's RSS (:mod:`bench.knowledge`).
- ``reporting``: KPI reports over a generated year of 1,000,000 orders on SQLite and PostgreSQL:
  one month and all time by department from the KPI cube, the same by a plain GROUP BY over the
  facts (they must agree), the cube's build, and the rebuild from the event log in events per
  second (:mod:`bench.reporting`, data from :mod:`bench.reporting_data`).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

BENCHMARKS: dict[str, str] = {
    "flow": "bench.flow",
    "sweep": "bench.sweep",
    "lifecycle": "bench.lifecycle",
    "deliveries": "bench.deliveries",
    "knowledge": "bench.knowledge",
    "reporting": "bench.reporting",
}


def run_benchmark(name: str, config: dict[str, Any], **options: Any) -> int:
    """Run the benchmark called ``name``; returns a process exit code (2: unknown name)."""
    module_name = BENCHMARKS.get(name)
    if module_name is None:
        print(f"unknown benchmark {name!r}; known benchmarks: {', '.join(sorted(BENCHMARKS))}",
              file=sys.stderr)
        return 2
    module = importlib.import_module(module_name)
    return int(module.run(config, **options) or 0)
