"""The deadline sweep with two supervision instances: each threshold is urged exactly once.

nameko's timer fires on every instance; the urge table's unique key is the claim. On
PostgreSQL the two instances sweep at the same moment; SQLite allows one writer at a time
(and one process per file in production), so there they sweep one after the other.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import eventlet
from nameko.testing.services import entrypoint_hook

from hotline.client import wait_for
from hotline.registry import service_class
from tests.integration.conftest import ORDER, load_city


def test_two_instances_urge_each_threshold_once(start: Any, rpc: Any, config: dict[str, Any],
                                                container_factory: Any, backend: str) -> None:
    start("intake", "dispatch", "supervision")
    second = container_factory(service_class("supervision"), config)
    second.start()
    load_city(rpc)
    numbers = [rpc.intake.register_ticket(ORDER, "agent1")["ticket_no"] for _ in range(3)]
    for no in numbers:
        wait_for(lambda no=no: rpc.supervision.get_state(no)["clocks"], what="clocks")
    later = (datetime.now(UTC) + timedelta(days=60)).isoformat()  # every threshold passed

    first = start.started["supervision"]
    results = []
    if backend == "postgres":
        pool = eventlet.GreenPool()
        for container in (first, second):
            pool.spawn(_sweep, container, later, results)
        pool.waitall()
    else:
        for container in (first, second):
            _sweep(container, later, results)
    assert sum(r["urges"] for r in results) == 3 * 2 * 4  # orders × (lead+assist) × thresholds
    for no in numbers:
        urges = rpc.supervision.get_state(no)["urges"]
        keys = [(u["assignment_id"], u["clock"], u["kind"]) for u in urges]
        assert len(keys) == len(set(keys)) == 8


def _sweep(container: Any, now: str, results: list[dict[str, int]]) -> None:
    with entrypoint_hook(container, "sweep") as sweep:
        results.append(sweep(now))
