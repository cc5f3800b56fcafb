"""Cross-service consistency report (ARCHITECTURE.md, reliability rule 6).

Asks each service by RPC (never reading another service's tables):
- every service's outbox: rows unsent for longer than the grace period;
- every order intake registered (in the window, older than the grace period) is known to
  supervision, and none is still only ``registered`` (it must be dispatched, waiting for a
  dispatcher, or resolved at intake);
- every order dispatch marked dispatched has assignments;
- the dead-letter queue is empty;
- no webhook delivery is dead-lettered (an operator replays it) or pending for over an hour.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hotline.registry import SERVICE_NAMES
from shared.messaging import list_dead_letters


def run(rpc: Any, config: dict[str, Any], since: datetime, grace: timedelta) -> dict[str, Any]:
    from shared.events import utcnow

    problems: list[str] = []
    outboxes = {}
    for name in SERVICE_NAMES:
        if name == "gateway":
            continue
        status = getattr(rpc, name).outbox_status(int(grace.total_seconds()))
        outboxes[name] = status
        if status["stale"]:
            problems.append(f"{name}: {status['stale']} outbox event(s) unsent for more than "
                            f"{int(grace.total_seconds())}s; errors: {status['errors']}")

    cutoff = utcnow() - grace
    registered: list[str] = []
    cursor = None
    while True:
        page = rpc.intake.list_tickets({"registered_from": since.isoformat(),
                                        "registered_to": cutoff.isoformat(),
                                        "cursor": cursor, "limit": 500})
        registered += [t["ticket_no"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    unknown, stuck = [], []
    for i in range(0, len(registered), 500):
        chunk = registered[i:i + 500]
        states = rpc.supervision.states_of(chunk)
        unknown += [no for no in chunk if no not in states]
        stuck += [no for no in chunk if states.get(no) == "registered"]
    if unknown:
        problems.append(f"{len(unknown)} order(s) registered in intake but unknown to "
                        f"supervision: {unknown[:20]}")
    if stuck:
        problems.append(f"{len(stuck)} order(s) neither dispatched, pending nor resolved: "
                        f"{stuck[:20]}")
    orphans = rpc.dispatch.dispatched_without_assignments()
    if orphans:
        problems.append(f"{len(orphans)} dispatched order(s) without assignments: {orphans[:20]}")
    deliveries = rpc.dispatch.delivery_problems(3600)
    if deliveries["dead"]:
        problems.append(f"{deliveries['dead']} webhook delivery(ies) dead-lettered, waiting for "
                        f"an operator's replay: {deliveries['dead_ids']}")
    if deliveries["stale_pending"]:
        problems.append(f"{deliveries['stale_pending']} webhook delivery(ies) pending for over "
                        f"an hour: {deliveries['stale_pending_ids']}")
    dead = list_dead_letters(config["AMQP_URI"], limit=100)
    if dead:
        problems.append(f"{len(dead)} message(s) in the dead-letter queue (hotline dlq list)")
    return {"ok": not problems, "problems": problems, "checked_orders": len(registered),
            "outboxes": outboxes, "window_start": since.isoformat(),
            "deliveries": deliveries}
