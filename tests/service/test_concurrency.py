"""Two actions on one assignment at the same moment: one wins, the other gets 409, and only
one event is recorded. PostgreSQL only: SQLite serializes writers, so the race cannot occur."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hotline import demo
from services.dispatch import domain, reference
from services.dispatch.dependencies import DispatchSettings
from services.dispatch.service import DispatchService
from shared.database import Database
from shared.errors import Conflict
from shared.events import load_envelope, make_envelope
from shared.migrations import metadata_of
from tests.service.conftest import Worker, outbox


def test_concurrent_signatures_one_wins(database_urls: dict[str, str], backend: str,
                                        monkeypatch: Any, migrate: Any) -> None:
    if backend != "postgres":
        pytest.skip("SQLite serializes writers: no concurrent update to lose")
    migrate("dispatch")
    db = Database.standalone(metadata_of("dispatch"), database_urls["dispatch"], "dispatch")
    worker = Worker(DispatchService, db, consumer="dispatch.on_ticket_registered",
                    reference=lambda s: reference.load(s, reference.current_version(s)),
                    settings=DispatchSettings())
    worker.load_reference({"territories": demo.TERRITORIES, "departments": demo.DEPARTMENTS,
                           "rules": demo.RULES})
    no = "20261123000777"
    worker.on_ticket_registered(load_envelope(make_envelope("ticket.registered", {
        "ticket_no": no, "registered_at": datetime.now(UTC), "channel": "phone",
        "category": "complaint", "urgency": "normal", "title": "t", "content": "占道经营",
        "territory_code": "510502001001", "confidential": False},
        producer="intake", ticket_no=no, sequence=1)))
    lead = worker.assignments_of(no)[0]

    real_next_state = domain.next_state
    raced = {"done": False}

    def next_state_with_a_rival(action: str, state: str, role: str) -> str:
        if not raced["done"]:  # the rival signs and commits while we hold our stale copy
            raced["done"] = True
            Worker(DispatchService, db).sign(lead["id"], lead["department_code"], "rival")
        return real_next_state(action, state, role)

    monkeypatch.setattr(domain, "next_state", next_state_with_a_rival)
    with pytest.raises(Conflict):
        worker.sign(lead["id"], lead["department_code"], "me")
    assert worker.get_assignment(lead["id"])["signed_by"] == "rival"
    assert [e["type"] for e in outbox(db)].count("assignment.signed") == 1
    db.engine.dispose()
