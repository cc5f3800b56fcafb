"""``hotline reconcile``: the services agree after normal work, and disagreements are named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hotline.client import wait_for
from hotline.reconcile import run
from tests.integration.conftest import ORDER, load_city
from tests.integration.test_reliability import publish


def test_consistent_system_then_a_dead_letter_is_reported(start: Any, rpc: Any,
                                                         config: dict[str, Any]) -> None:
    start("intake", "dispatch", "supervision", "knowledge", "reporting")
    load_city(rpc)
    numbers = [rpc.intake.register_ticket(ORDER, "agent1")["ticket_no"] for _ in range(3)]
    for no in numbers:
        wait_for(lambda no=no: rpc.supervision.get_state(no)["status"] == "dispatched",
                 what="dispatch")
    since = datetime.now(UTC) - timedelta(hours=1)

    report = run(rpc, config, since=since, grace=timedelta(0))
    assert report["ok"], report["problems"]
    assert report["checked_orders"] == 3
    assert all(o["pending"] == 0 for o in report["outboxes"].values())

    publish(config["AMQP_URI"], {"event_id": "x" * 10, "type": "ticket.teleported"}, "ticket.teleported")
    def disagreement() -> Any:
        r = run(rpc, config, since=since, grace=timedelta(0))
        return None if r["ok"] else r

    report = wait_for(disagreement, what="reconcile to notice")
    assert any("dead-letter" in p for p in report["problems"])
