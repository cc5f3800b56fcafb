"""Leader instructions (领导批示件) with real RabbitMQ and real databases (SQLite, PostgreSQL):
the whole life of an instruction, its yearly numbers under concurrent registrations, and the
overdue urge exactly once with two supervision instances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import eventlet
from nameko.testing.services import entrypoint_hook

from hotline.client import wait_for
from hotline.registry import service_class
from services.supervision import instructions
from shared.business_time import business_today

DEPT = {"role": "department", "via": "token"}
OFFICE = {"role": "supervisor", "department_code": None, "via": "token"}


def sheet(**overrides: Any) -> dict[str, Any]:
    return {"leader_name": "李市长", "leader_level": "mayor",
            "words": "请市综合执法局阅处，抓紧整治，十日内报结果。",
            "source_title": "群众反映滨江路夜市扰民", "source_doc_no": "督〔2026〕7号",
            "received_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "units": ["chengguan", "zhujian"], **overrides}


def test_register_feedback_approve_completed(start: Any, rpc: Any) -> None:
    start("supervision", "reporting")
    got = rpc.supervision.register_instruction(sheet(), "supervisor1")
    assert got["kind"] == "handle" and got["status"] == "open"
    no = got["id"]
    for code in ("chengguan", "zhujian"):
        fb = rpc.supervision.submit_instruction_feedback(
            no, {**DEPT, "department_code": code}, {"content": f"{code} 已整治完毕"}, f"dept_{code}")
        rpc.supervision.decide_instruction_feedback(no, fb["id"], {"approve": True}, "supervisor1")
    done = rpc.supervision.get_instruction(no, OFFICE)
    assert done["status"] == "completed"
    assert [u["status"] for u in done["units"]] == ["approved", "approved"]
    # the facts reach the event log through the outbox and the broker
    counts = wait_for(lambda: (c := rpc.reporting.event_counts()).get("instruction.completed")
                      and c, what="instruction events in reporting")
    assert counts["instruction.registered"] == 1
    assert counts["instruction.feedback_submitted"] == counts["instruction.feedback_decided"] == 2
    assert counts["instruction.completed"] == 1
    today = business_today().isoformat()
    rows = rpc.supervision.instruction_summary({"from": today, "to": today})["rows"]
    assert [(r["group"], r["on_time"], r["approved_first"]) for r in rows] == [
        ("chengguan", 1, 1), ("zhujian", 1, 1)]


def test_concurrent_registrations_get_distinct_numbers(start: Any, rpc: Any,
                                                       config: dict[str, Any],
                                                       container_factory: Any) -> None:
    """Six registrations in flight at once, competing for two supervision instances."""
    start("supervision")
    second = container_factory(service_class("supervision"), config)
    second.start()
    pending = [rpc.supervision.register_instruction.call_async(sheet(), f"supervisor{i}")
               for i in range(6)]
    results = [p.result() for p in pending]
    year = business_today().year
    assert sorted(r["seq"] for r in results) == [1, 2, 3, 4, 5, 6]
    assert {r["number"] for r in results} == {instructions.format_number(year, n)
                                              for n in range(1, 7)}
    listed = rpc.supervision.list_instructions({}, OFFICE)["items"]
    assert sorted(i["number"] for i in listed) == sorted(r["number"] for r in results)


def test_two_instances_urge_each_overdue_share_once(start: Any, rpc: Any, config: dict[str, Any],
                                                    container_factory: Any, backend: str) -> None:
    quiet = {"SWEEP_INTERVAL_SECONDS": 3600}  # only the sweeps below run in this test
    start("supervision", **quiet)
    second = container_factory(service_class("supervision"), {**config, **quiet})
    second.start()
    old = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    # a vice-mayor's: 10 working days from receipt (the mayor's count from dispatch)
    late = [rpc.supervision.register_instruction(
        sheet(leader_level="vice_mayor", received_at=old), "s")["id"]
            for _ in range(3)]
    rpc.supervision.register_instruction(sheet(), "s")  # not due yet
    rpc.supervision.register_instruction(
        sheet(leader_level="vice_mayor", words="已阅", received_at=old), "s")  # 阅件

    first = start.started["supervision"]
    results: list[dict[str, int]] = []
    now = datetime.now(UTC).isoformat()
    if backend == "postgres":
        pool = eventlet.GreenPool()
        for container in (first, second):
            pool.spawn(_sweep, container, now, results)
        pool.waitall()
    else:  # SQLite: one writer at a time, so the instances sweep one after the other
        for container in (first, second):
            _sweep(container, now, results)
    assert sum(r["urges"] for r in results) == 3 * 2
    for no in late:
        got = rpc.supervision.get_instruction(no, OFFICE)
        assert sorted(u["department_code"] for u in got["urges"]) == ["chengguan", "zhujian"]
        assert all(u["overdue"] for u in got["units"])
    _sweep(first, now, results)
    assert results[-1]["urges"] == 0
    overdue = rpc.supervision.list_instructions({"overdue": "true"}, OFFICE)["items"]
    assert sorted(i["id"] for i in overdue) == sorted(late)


def _sweep(container: Any, now: str, results: list[dict[str, int]]) -> None:
    with entrypoint_hook(container, "instruction_sweep") as sweep:
        results.append(sweep(now))
