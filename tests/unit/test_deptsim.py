"""The reference department system's plain parts (hotline/deptsim.py): configuration, the
de-duplication rule, verification answers, the backoff of refused replies, the time-ordered
queue. Replaced at the edge: the hotline's HTTP API (a recording fake :class:`FakeApi`) and the
clocks (the queue's monotonic clock and the receiver's wall clock are injected)."""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from hotline import deptsim
from hotline.client import ApiError
from hotline.deptsim import (
    Department,
    DeptSim,
    Job,
    Planned,
    Schedule,
    SeqTracker,
    Settings,
    backoff_delay,
    classify,
    departments_from_data,
    merge_departments,
    parse_dept,
    parse_down_until,
    steps_for,
)
from shared import webhooks

NOW = 1_800_000_000.0
SECRET = "whsec_test"


class Clock:
    def __init__(self, t: float = 100.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


class FakeApi:
    """Records calls; ``answers`` maps a path suffix to a list of exceptions to raise first."""

    def __init__(self, answers: dict[str, list[Exception]] | None = None,
                 detail: dict[str, Any] | None = None):
        self.calls: list[tuple[str, str, Any, dict[str, str] | None]] = []
        self.answers = answers or {}
        self.detail = detail or {}

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                **kw: Any) -> Any:
        self.calls.append((method, path, kw.get("json"), headers))
        for suffix, errors in self.answers.items():
            if path.endswith(suffix) and errors:
                raise errors.pop(0)
        return self.detail if method == "GET" else {"ok": True}

    def posts(self) -> list[str]:
        return [p.rsplit("/", 1)[1] for m, p, _, _ in self.calls if m == "POST"]


def entry(seq: int = 1, *, role: str | None = "lead", kind: str = "assignment.dispatched",
          dept: str = "CG", assignment_id: int = 7) -> dict[str, Any]:
    data: dict[str, Any] = {"category": "complaint", "title": "占道经营"}
    if role:
        data["role"] = role
    return {"delivery_id": 100 + seq, "seq": seq, "type": kind,
            "occurred_at": "2026-12-01T08:00:00+00:00", "department_code": dept,
            "ticket_no": "20261201000001", "assignment_id": assignment_id, "data": data}


def signed(e: dict[str, Any], secret: str = SECRET, now: float = NOW) -> tuple[bytes, dict[str, str]]:
    body = webhooks.encode_body(e)
    return body, webhooks.signed_headers(secret, body, event_type=e["type"],
                                         delivery_id=e["delivery_id"], now=now)


def make_sim(api: FakeApi | None = None, **settings: Any) -> tuple[DeptSim, FakeApi, Clock]:
    api = api or FakeApi()
    clock = Clock()
    sim = DeptSim("http://hotline.invalid", {"CG": Department("CG", SECRET, "hk_x_y")},
                  Settings(**{"delay": 2.0, **settings}), client_factory=lambda d: api,
                  clock=clock, wall=lambda: NOW, rng=random.Random(1))
    return sim, api, clock


def drain(sim: DeptSim, clock: Clock, max_rounds: int = 50) -> list[float]:
    """Run every queued item, advancing the fake clock to each one's time; the waits."""
    waits = []
    for _ in range(max_rounds):
        if not sim.schedule._heap:
            return waits
        due = sim.schedule._heap[0][0]
        waits.append(round(due - clock.t, 3))
        clock.t = max(clock.t, due)
        item = sim.schedule.take_due()
        assert item is not None
        sim.handle(item)
    raise AssertionError("queue did not drain")


class TestConfiguration:
    def test_dept_arguments(self) -> None:
        assert parse_dept("CG:s3cret:hk_abcd1234_xyz") == Department("CG", "s3cret",
                                                                      "hk_abcd1234_xyz")
        assert parse_dept("huanbao:s3cret") == Department("huanbao", "s3cret", None)
        for bad in ("CG", "CG::key", ":s:k", "CG:s:k:extra", ""):
            with pytest.raises(ValueError):
                parse_dept(bad)

    def test_department_file_forms(self, tmp_path: Any) -> None:
        items = [{"department_code": "CG", "secret": "a", "api_key": "hk_1"},
                 {"department_code": "HB", "secret": "b"}]
        expected = [Department("CG", "a", "hk_1"), Department("HB", "b", None)]
        assert departments_from_data(items) == expected
        assert departments_from_data({"departments": items}) == expected
        (tmp_path / "d.json").write_text(json.dumps(items))
        (tmp_path / "d.yaml").write_text("departments:\n  - {department_code: CG, secret: a, "
                                         "api_key: hk_1}\n  - {department_code: HB, secret: b}\n")
        assert deptsim.load_departments(tmp_path / "d.json") == expected
        assert deptsim.load_departments(tmp_path / "d.yaml") == expected
        with pytest.raises(ValueError, match="entry 1"):
            departments_from_data([items[0], {"department_code": "HB"}])
        with pytest.raises(ValueError):
            departments_from_data({"nope": 1})

    def test_a_department_configured_twice_is_refused(self) -> None:
        a, b = Department("CG", "a"), Department("CG", "b")
        with pytest.raises(ValueError, match="twice"):
            merge_departments([[a], [b]])
        assert merge_departments([[a], [Department("HB", "c")]]).keys() == {"CG", "HB"}

    def test_down_until_forms(self) -> None:
        assert parse_down_until(None) is None
        assert parse_down_until("+30", now=NOW) == NOW + 30
        assert parse_down_until("1800000100") == 1_800_000_100.0
        assert parse_down_until("2027-01-15T08:00:00+08:00") == \
            datetime(2027, 1, 15, 0, 0, tzinfo=UTC).timestamp()
        with pytest.raises(ValueError, match="offset"):
            parse_down_until("2027-01-15T08:00:00")


class TestPlainRules:
    def test_seq_dedupe_is_per_department_and_at_or_below_the_last(self) -> None:
        seen = SeqTracker()
        assert seen.accept("CG", 1) and seen.accept("CG", 3)
        assert not seen.accept("CG", 3) and not seen.accept("CG", 2)
        assert seen.accept("HB", 2)  # another department's sequence
        assert seen.accept("CG", 4)
        assert seen.last() == {"CG": 4, "HB": 2}

    def test_backoff_doubles_and_is_capped(self) -> None:
        assert [backoff_delay(n, 0.5, 5.0) for n in range(1, 7)] == [0.5, 1, 2, 4, 5, 5]

    def test_schedule_gives_jobs_in_time_order_only_when_due(self) -> None:
        clock = Clock(10.0)
        s = Schedule(clock)
        s.put("late", 5.0)
        s.put("soon", 1.0)
        s.put("now")
        assert s.take_due() == "now" and s.take_due() is None
        clock.t = 11.0
        assert s.take_due() == "soon" and s.take_due() is None and len(s) == 1
        clock.t = 20.0
        assert s.get(0.01) == "late"
        s.close()
        assert s.get(0.01) is None

    def test_steps_by_role(self) -> None:
        assert steps_for(entry(role="lead"), "lead", progress=False) == ["sign", "reply"]
        assert steps_for(entry(role="lead"), "lead", progress=True) == \
            ["sign", "progress", "reply"]
        assert steps_for(entry(role="assist"), "assist", progress=True) == ["sign", "opinion"]
        assert steps_for(entry(kind="assignment.urged"), "lead", progress=False) == []

    def test_how_refusals_are_treated(self) -> None:
        pending = {"error": {"code": "conflict", "action": "reply", "state": "assists_pending"}}
        assert classify("reply", 409, pending).kind == "retry"
        assert classify("sign", 409, {"error": {"state": "signed"}}).kind == "done"
        assert classify("reply", 409, {"error": {"state": "replied"}}).kind == "done"
        assert classify("opinion", 409, {"error": {"state": "opinion_submitted"}}).kind == "done"
        assert classify("reply", 409, {"error": {"state": "recalled"}}).kind == "give_up"
        assert classify("progress", 404, {"error": {"code": "not_found"}}).kind == "done"
        assert classify("reply", 404, {"error": {"code": "not_found"}}).kind == "give_up"
        assert classify("sign", 503, "down").kind == "retry"
        assert classify("sign", 401, {"error": {"code": "unauthorized"}}).kind == "give_up"


class TestReceiving:
    def test_a_signed_webhook_is_answered_at_once_and_acted_on_after_the_delay(self) -> None:
        sim, api, clock = make_sim()
        status, answer = sim.receive(*signed(entry(1)))
        assert (status, answer) == (200, {"ok": True, "seq": 1})
        assert api.calls == []  # nothing yet: the answer does not wait for the delay
        assert drain(sim, clock) == [2.0, 0.0]
        assert api.posts() == ["sign", "reply"]
        reply = api.calls[-1]
        assert reply[1] == "/api/v1/assignments/7/reply" and \
            reply[2] == {"reply": deptsim.REPLY_TEXT}
        assert reply[3] == {"Idempotency-Key": "deptsim-CG-1-reply"}
        st = sim.status()
        assert st["received"] == {"assignment.dispatched": 1} and st["last_seq"] == {"CG": 1}
        assert st["acted"] == {"sign": 1, "reply": 1} and st["errors"] == 0

    def test_bad_and_stale_signatures_are_refused_and_nothing_is_acted(self) -> None:
        sim, api, clock = make_sim()
        body, headers = signed(entry(1), secret="wrong")
        assert sim.receive(body, headers)[0] == 401
        body, headers = signed(entry(2), now=NOW - 301)
        status, answer = sim.receive(body, headers)
        assert status == 401 and answer["error"]["reason"] == "stale"
        body, headers = signed(entry(3))
        status, answer = sim.receive(body.replace(b'"seq":3', b'"seq":4'), headers)
        assert (status, answer["error"]["reason"]) == (401, "mismatch")
        status, answer = sim.receive(*signed(entry(5, dept="HB")))
        assert (status, answer["error"]["reason"]) == (401, "unknown_department")
        assert sim.receive(b"not json", {})[0] == 400
        assert drain(sim, clock) == [] and api.calls == []
        st = sim.status()
        assert st["verification_failures"] == {"mismatch": 2, "stale": 1,
                                               "unknown_department": 1}
        assert st["last_seq"] == {} and st["received"] == {}

    def test_the_path_department_must_match_the_body(self) -> None:
        sim, _, _ = make_sim()
        sim.departments["HB"] = Department("HB", SECRET, None)
        body, headers = signed(entry(1, dept="CG"))
        status, answer = sim.receive(body, headers, path_code="HB")
        assert (status, answer["error"]["reason"]) == (401, "mismatch")
        assert sim.receive(body, headers, path_code="CG")[0] == 200

    def test_a_repeat_is_acknowledged_and_acted_on_once(self) -> None:
        sim, api, clock = make_sim()
        first = signed(entry(1))
        assert sim.receive(*first) == (200, {"ok": True, "seq": 1})
        assert sim.receive(*first) == (200, {"ok": True, "duplicate": True, "seq": 1})
        assert sim.receive(*signed(entry(2, kind="assignment.deadlines_set")))[0] == 200
        assert sim.receive(*signed(entry(1)))[1]["duplicate"]  # below the last seen
        drain(sim, clock)
        assert api.posts() == ["sign", "reply"]
        assert sim.status()["duplicates"] == 2

    def test_down_and_injected_failures_do_not_consume_the_seq(self) -> None:
        sim, api, clock = make_sim(fail_rate=1.0)
        delivery = signed(entry(1))
        assert sim.receive(*delivery)[0] == 500
        sim.control({"fail_rate": 0, "down": True})
        assert sim.receive(*delivery)[0] == 503
        sim.control({"down": False})
        assert sim.receive(*delivery) == (200, {"ok": True, "seq": 1})  # the retry is new
        drain(sim, clock)
        assert api.posts() == ["sign", "reply"]
        st = sim.status()
        assert (st["injected_failures"], st["refused_down"]) == (1, 1)

    def test_a_held_webhook_is_answered_when_released(self) -> None:
        sim, api, clock = make_sim(delay=0)
        sim.control({"hold": True})
        answers: list[tuple[int, dict[str, Any]]] = []
        t = threading.Thread(target=lambda: answers.append(sim.receive(*signed(entry(1)))))
        t.start()
        deadline = time.monotonic() + 5
        while sim.status()["held"] < 1 and time.monotonic() < deadline:
            time.sleep(0.01)  # polling with a deadline: the thread has reached the hold
        assert sim.status()["holding"] and answers == []
        sim.control({"hold": False})
        t.join(5)
        assert answers == [(200, {"ok": True, "seq": 1})]
        drain(sim, clock)
        assert api.posts() == ["sign", "reply"]

    def test_a_hold_too_long_is_refused_and_the_seq_not_consumed(self) -> None:
        sim, _, _ = make_sim(hold_max=0.01)
        sim.control({"hold": True})
        status, answer = sim.receive(*signed(entry(1)))
        assert (status, answer["error"]["reason"]) == (503, "held")
        sim.control({"hold": False})
        assert sim.receive(*signed(entry(1)))[0] == 200
        assert sim.status()["hold_expired"] == 1

    def test_down_until_a_moment(self) -> None:
        sim, _, _ = make_sim(down_until=NOW + 1)
        assert sim.receive(*signed(entry(1)))[0] == 503
        sim.settings.down_until = NOW - 1
        assert sim.receive(*signed(entry(1)))[0] == 200

    def test_receive_only_departments_and_records(self) -> None:
        sim, api, clock = make_sim(act=False, record=True, delay=0)
        sim.receive(*signed(entry(1)))
        assert drain(sim, clock) == [] and api.calls == []
        (arrival,) = sim.arrivals
        assert arrival["seq"] == 1 and arrival["received_at"] == NOW \
            and arrival["occurred_at"] == "2026-12-01T08:00:00+00:00"


class TestActing:
    def test_an_assistant_signs_and_gives_its_opinion(self) -> None:
        sim, api, clock = make_sim(delay=0)
        sim.receive(*signed(entry(1, role="assist")))
        drain(sim, clock)
        assert api.posts() == ["sign", "opinion"]
        assert api.calls[-1][2] == {"opinion": deptsim.OPINION_TEXT}

    def test_a_reply_refused_while_assistants_are_pending_is_retried_with_backoff(self) -> None:
        pending = ApiError(409, {"error": {"code": "conflict", "state": "assists_pending"}})
        api = FakeApi({"/reply": [pending, pending, pending]})
        sim, api, clock = make_sim(api, delay=0, backoff_base=1.0, backoff_max=3.0)
        sim.receive(*signed(entry(1)))
        assert drain(sim, clock) == [0.0, 0.0, 1.0, 2.0, 3.0]
        assert api.posts() == ["sign", "reply", "reply", "reply", "reply"]
        st = sim.status()
        assert st["acted"] == {"sign": 1, "reply": 1} and st["retries"] == {"assists_pending": 3}
        assert st["gave_up"] == 0

    def test_retries_are_bounded_and_giving_up_is_counted(self) -> None:
        pending = ApiError(409, {"error": {"state": "assists_pending"}})
        api = FakeApi({"/reply": [pending] * 10})
        sim, api, clock = make_sim(api, delay=0, max_attempts=3)
        sim.receive(*signed(entry(1)))
        drain(sim, clock)
        assert api.posts() == ["sign", "reply", "reply", "reply"]
        st = sim.status()
        assert (st["gave_up"], st["errors"], st["acted"]) == (1, 1, {"sign": 1})

    def test_progress_is_optional_and_a_missing_route_tolerated(self) -> None:
        api = FakeApi({"/progress": [ApiError(404, {"error": {"code": "not_found"}})]})
        sim, api, clock = make_sim(api, delay=0, progress=True)
        sim.receive(*signed(entry(1)))
        drain(sim, clock)
        assert api.posts() == ["sign", "progress", "reply"]
        assert sim.status()["errors"] == 0

    def test_the_role_is_asked_for_when_the_body_lacks_it(self) -> None:
        api = FakeApi(detail={"id": 7, "role": "assist"})
        sim, api, clock = make_sim(api, delay=0)
        sim.receive(*signed(entry(1, role=None)))
        drain(sim, clock)
        assert [(m, p) for m, p, _, _ in api.calls][0] == ("GET", "/api/v1/assignments/7")
        assert api.posts() == ["sign", "opinion"]

    def test_reading_the_role_is_retried_while_the_hotline_is_unreachable(self) -> None:
        import requests

        api = FakeApi({"/assignments/7": [requests.ConnectionError(), ApiError(503, "down")]},
                      detail={"id": 7, "role": "lead"})
        sim, api, clock = make_sim(api, delay=0, backoff_base=1.0)
        sim.receive(*signed(entry(1, role=None)))
        assert drain(sim, clock) == [0.0, 1.0, 2.0, 0.0]
        assert api.posts() == ["sign", "reply"]
        api = FakeApi({"/assignments/7": [ApiError(404, {"error": {"code": "not_found"}})]})
        sim, api, clock = make_sim(api, delay=0)
        sim.receive(*signed(entry(1, role=None)))
        drain(sim, clock)
        assert api.posts() == [] and sim.status()["gave_up"] == 1

    def test_a_recall_drops_what_is_still_queued(self) -> None:
        sim, api, clock = make_sim(delay=5)
        sim.receive(*signed(entry(1)))
        sim.receive(*signed(entry(2, kind="assignment.recalled")))
        drain(sim, clock)
        assert api.calls == [] and sim.status()["dropped_recalled"] == 1

    def test_a_worker_survives_a_failing_job(self) -> None:
        sim, _, _ = make_sim(delay=0)
        sim.handle(Job("CG", 7, None, 1, ["nosuchstep"]))
        assert sim.status()["errors"] == 1
        assert isinstance(Planned(entry(1)).entry, dict)
