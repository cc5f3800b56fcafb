"""Repeat calls (重复来电) across intake, dispatch and supervision over RabbitMQ, on SQLite and
PostgreSQL: supervision's ticket.closed takes an order off intake's open ledger, and a third
distinct caller raises exactly one hotspot, however often and however concurrently the link
command is sent."""

from __future__ import annotations

from typing import Any

import eventlet
from kombu import Connection, Queue
from sqlalchemy import func, select

from hotline.client import wait_for
from shared.database import Database
from shared.migrations import metadata_of
from shared.outbox import EVENTS_EXCHANGE
from tests.integration.conftest import ORDER, give_opinions, load_city

AGAIN = {"category": "complaint", "territory_code": ORDER["territory_code"],
         "phone": "13911112222",
         "content": "我们小区大门口天天有摆摊的小贩，把消防通道都堵了"}


def outbox_count(url: str, event_type: str, ticket_no: str) -> int:
    db = Database.standalone(metadata_of("intake"), url, "intake")
    uow = db.unit_of_work()
    try:
        table = db.tables["outbox"]
        return int(uow.session.scalar(select(func.count()).select_from(table).where(
            table.c.type == event_type, table.c.ticket_no == ticket_no)) or 0)
    finally:
        uow.rollback()
        db.engine.dispose()


class TestOpenLedger:
    def test_a_closed_order_stops_being_a_candidate(self, start: Any, rpc: Any,
                                                    backend: str) -> None:
        start("intake", "dispatch", "supervision")
        load_city(rpc)
        no = rpc.intake.register_ticket(ORDER, "agent1")["ticket_no"]
        found = rpc.intake.find_related(AGAIN)["items"]
        assert [(f["ticket_no"], f["reason"]) for f in found] == [(no, "similar_matter")]

        lead = next(a for a in wait_for(lambda: rpc.dispatch.assignments_of(no), what="dispatch")
                    if a["role"] == "lead")
        wait_for(lambda: rpc.supervision.get_state(no)["clocks"], what="clocks")
        rpc.dispatch.sign(lead["id"], lead["department_code"], "dept")
        wait_for(lambda: rpc.supervision.get_state(no)["status"] == "in_progress", what="signed")
        give_opinions(rpc, no)
        rpc.dispatch.reply(lead["id"], lead["department_code"], {"reply": "已清理占道摊点"}, "dept")
        wait_for(lambda: rpc.supervision.get_state(no)["status"] == "replied", what="replied")
        closed = rpc.supervision.record_callback(
            no, {"reached": True, "solved": True, "satisfaction": "satisfied"}, "supervisor1")
        assert closed["status"] == "closed"

        wait_for(lambda: rpc.intake.get_ticket(no)["open"] is False, what="intake sees closed")
        assert rpc.intake.find_related(AGAIN)["items"] == []
        assert rpc.intake.find_related({"phone": ORDER["phone"]})["items"] == []


class TestHotspot:
    def test_the_third_caller_raises_one_hotspot_under_repeats_and_concurrency(
            self, start: Any, rpc: Any, config: dict[str, Any], database_urls: dict[str, str],
            backend: str) -> None:
        start("intake")
        hotspots = Queue("test.hotspots", exchange=EVENTS_EXCHANGE,
                         routing_key="ticket.hotspot_raised", durable=False, auto_delete=False)
        with Connection(config["AMQP_URI"]) as conn:
            hotspots(conn.default_channel).declare()
        no = rpc.intake.register_ticket(ORDER, "agent1")["ticket_no"]

        # two new callers, each link command sent three times at once (a retrying console), and
        # a fourth caller right behind them
        calls = [{"phone": "13911112222", "content": "门口摆摊堵了消防通道", "call_id": "c-2"},
                 {"phone": "0830-2345678", "content": "小贩占道经营", "call_id": "c-3"}] * 3
        calls.append({"phone": "13600000004", "content": "又有人摆摊", "call_id": "c-4"})
        pending = [rpc.intake.link_call.call_async(no, c, "agent2") for c in calls]
        results = [p.result() for p in pending]

        assert len({r["link"]["id"] for r in results}) == 3  # c-2, c-3, c-4: one link each
        assert sum(r["hotspot_raised"] for r in results) == 1
        detail = rpc.intake.get_ticket(no)
        assert detail["callers"] == 4 and detail["hotspot"]["callers"] in (3, 4)
        assert outbox_count(database_urls["intake"], "ticket.linked", no) == 3
        assert outbox_count(database_urls["intake"], "ticket.hotspot_raised", no) == 1

        # one more repeat after the fact: still one hotspot
        again = rpc.intake.link_call(no, calls[0], "agent2")
        assert again["replayed"] is True and again["hotspot"] is True

        wait_for(lambda: rpc.intake.outbox_status(0)["pending"] == 0, what="relay")
        received = []
        with Connection(config["AMQP_URI"]) as conn:
            queue = hotspots(conn.default_channel)
            while (message := queue.get(no_ack=True)) is not None:
                received.append(message.payload)
                eventlet.sleep(0)
        assert [m["ticket_no"] for m in received] == [no]
        assert received[0]["data"]["category"] == ORDER["category"]
