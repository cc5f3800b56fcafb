"""The reliability rules of ARCHITECTURE.md, each shown against the real broker and database:
redelivery has one effect, a committed event survives a crash before publishing, an event
published before its consumer ever started still arrives, broken messages are dead-lettered
while the consumer keeps running."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from kombu import Connection
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import func, select

from hotline.client import wait_for
from services.dispatch.models import TicketCopy
from services.dispatch.models import metadata as dispatch_metadata
from services.intake.models import Ticket
from services.intake.models import metadata as intake_metadata
from shared.database import Database
from shared.events import make_envelope
from shared.messaging import list_dead_letters, replay_dead_letters
from shared.outbox import EVENTS_EXCHANGE
from tests.integration.conftest import ORDER, load_city


def registered_event(ticket_no: str = "20261123999001") -> dict[str, Any]:
    now = datetime.now(UTC)
    return make_envelope("ticket.registered", {
        "ticket_no": ticket_no, "registered_at": now, "channel": "phone",
        "category": "complaint", "urgency": "normal", "title": "占道经营",
        "content": "流动摊贩占道经营", "phone": "13800138000", "territory_code": "510502001001",
        "confidential": False}, producer="intake", ticket_no=ticket_no, sequence=1)


def publish(amqp_uri: str, body: Any, routing_key: str) -> None:
    with Connection(amqp_uri) as conn:
        producer = conn.Producer()
        producer.publish(body, exchange=EVENTS_EXCHANGE, routing_key=routing_key,
                         serializer="json" if not isinstance(body, bytes) else None,
                         content_type=None if not isinstance(body, bytes) else "application/json",
                         content_encoding=None if not isinstance(body, bytes) else "utf-8",
                         declare=[EVENTS_EXCHANGE], retry=True)


def read(db: Database, stmt: Any) -> Any:
    """A read through a unit of work, which holds the process's SQLite lock like the services
    in this process do (a bare connection could wait in SQLite's busy handler and block them)."""
    uow = db.unit_of_work()
    try:
        return uow.session.scalar(stmt)
    finally:
        uow.rollback()


def outbox_rows(db: Database, event_type: str, ticket_no: str) -> int:
    table = db.tables["outbox"]
    return read(db, select(func.count()).select_from(table).where(
        table.c.type == event_type, table.c.ticket_no == ticket_no))


class TestIdempotentConsumers:
    def test_the_same_event_delivered_twice_has_one_effect(
            self, start: Any, rpc: Any, config: dict[str, Any], database_urls: dict[str, str],
            backend: str) -> None:
        containers = start("dispatch")
        load_city(rpc)
        event = registered_event()
        with entrypoint_waiter(containers["dispatch"], "on_ticket_registered", timeout=20,
                               callback=_nth_call(2)):
            publish(config["AMQP_URI"], event, "ticket.registered")
            publish(config["AMQP_URI"], event, "ticket.registered")
        db = Database.standalone(dispatch_metadata, database_urls["dispatch"], "dispatch")
        copies = read(db, select(func.count()).select_from(TicketCopy.__table__))
        assert copies == 1
        assert outbox_rows(db, "ticket.dispatched", event["ticket_no"]) == 1
        assert len(rpc.dispatch.assignments_of(event["ticket_no"])) == 2  # lead + street assist


class TestOutbox:
    def test_event_committed_before_a_crash_is_published_after_restart(
            self, start: Any, rpc: Any, database_urls: dict[str, str], backend: str) -> None:
        # intake committed an order and its event, then died before the relay published it:
        # exactly the state a crash between commit and publish leaves in the database.
        db = Database.standalone(intake_metadata, database_urls["intake"], "intake")
        event = registered_event("20261123999002")
        uow = db.unit_of_work()
        uow.session.add(Ticket(
            ticket_no=event["ticket_no"], registered_at=datetime.now(UTC), channel="phone",
            category="complaint", urgency="normal", title="占道经营", content="流动摊贩占道经营",
            phone="13800138000", territory_code="510502001001", confidential=False))
        uow.emit("ticket.registered", {**event["data"], "registered_at": datetime.now(UTC)},
                 ticket_no=event["ticket_no"])
        uow.commit()
        db.engine.dispose()

        start("dispatch")
        load_city(rpc)
        assert rpc.dispatch.assignments_of(event["ticket_no"]) == []
        start("intake")  # the restarted service's relay finds the pending row
        assignments = wait_for(lambda: rpc.dispatch.assignments_of(event["ticket_no"]),
                               what="the committed event to reach dispatch")
        assert assignments[0]["department_code"] == "chengguan"
        status = rpc.intake.outbox_status(0)
        assert status["pending"] == 0

    def test_event_published_before_its_consumer_ever_started_still_arrives(
            self, start: Any, rpc: Any, database_urls: dict[str, str], backend: str) -> None:
        # queues were declared by the migrate step (the config fixture), not by consumers
        start("intake")
        no = rpc.intake.register_ticket(ORDER, "agent1")["ticket_no"]
        wait_for(lambda: rpc.intake.outbox_status(0)["pending"] == 0, what="publish")
        start("dispatch")
        db = Database.standalone(dispatch_metadata, database_urls["dispatch"], "dispatch")

        def received() -> bool:
            return read(db, select(TicketCopy.ticket_no).where(TicketCopy.ticket_no == no)) == no

        wait_for(received, what="the late consumer to receive the event")
        db.engine.dispose()


class TestDeadLetters:
    def test_malformed_message_is_dead_lettered_and_the_consumer_keeps_running(
            self, start: Any, rpc: Any, config: dict[str, Any]) -> None:
        start("dispatch")
        load_city(rpc)
        publish(config["AMQP_URI"], b'{"not": "an envelope"', "ticket.registered")
        bad_type = registered_event("20261123999003")
        bad_type["data"].pop("content")
        publish(config["AMQP_URI"], bad_type, "ticket.registered")
        dead = wait_for(lambda: len(d := list_dead_letters(config["AMQP_URI"])) >= 2 and d,
                        what="two dead letters")
        reasons = sorted(d["reason"] for d in dead)
        assert all(r.startswith("malformed") for r in reasons)
        assert any("content" in r for r in reasons)  # names the failing field
        assert {d["queue"] for d in dead} == {"dispatch.on_ticket_registered"}

        good = registered_event("20261123999004")
        publish(config["AMQP_URI"], good, "ticket.registered")
        wait_for(lambda: rpc.dispatch.assignments_of(good["ticket_no"]), what="next good event")

    def test_failing_handler_is_retried_then_dead_lettered_and_can_be_replayed(
            self, start: Any, rpc: Any, config: dict[str, Any]) -> None:
        start("supervision")
        signed = make_envelope("assignment.signed", {
            "assignment_id": 424242, "ticket_no": "20261123999005", "department_code": "chengguan",
            "role": "lead", "signed_at": datetime.now(UTC), "actor": "x"},
            producer="dispatch", ticket_no="20261123999005", sequence=2)
        publish(config["AMQP_URI"], signed, "assignment.signed")
        dead = wait_for(lambda: list_dead_letters(config["AMQP_URI"]), what="dead letter")
        assert dead[0]["queue"] == "supervision.on_lifecycle_fact"
        assert "failed 3 times" in dead[0]["reason"] and "OutOfOrder" in dead[0]["reason"]
        assert dead[0]["event_id"] == signed["event_id"]
        # the operator replays it: it fails again (the clock still does not exist) and returns
        assert replay_dead_letters(config["AMQP_URI"]) == 1
        again = wait_for(lambda: list_dead_letters(config["AMQP_URI"]), timeout=30,
                         what="dead letter after replay")
        assert json.dumps(again[0]["body"], sort_keys=True) == json.dumps(signed, sort_keys=True)


def _nth_call(n: int) -> Any:
    calls = {"n": 0}

    def callback(worker_ctx: Any, result: Any, exc_info: Any) -> bool:
        calls["n"] += 1
        return calls["n"] >= n

    return callback
