"""``hotline dept-sim`` (hotline/deptsim.py), the reference department system, as a real process
against the whole system: it receives a signed webhook, verifies it and signs and replies
through the inbound API with its department's API key.

Most tests send the webhooks themselves (built with ``shared.webhooks``, carrying the real
assignment ids), standing in for the hotline's deliverer, so they check the receiving end
alone; the last one configures a webhook endpoint and lets the hotline push (it is skipped
while the endpoint route is missing: the deliverer is built on another branch)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from hotline import deptsim
from hotline.client import HotlineClient, wait_for
from hotline.processes import start_dept_sim
from shared import webhooks
from tests.conftest import free_port
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e

# complaint at 白招牌社区 with the 施工扰民 keywords → 城管 leads alone (bench/flow.py TEMPLATES)
NOISE = {"channel": "phone", "category": "complaint", "urgency": "normal",
         "caller_name": "周女士", "phone": "13900005678", "territory_code": "510502001001",
         "address": "江阳区南城街道白招牌社区滨江路12号",
         "content": "滨江路东段工地连续多日夜间施工到凌晨两点，施工扰民，居民无法休息，请尽快处理。"}
# 市容秩序 keyword rule: 城管 leads, the order's street (南城街道) assists
STALLS = {**NOISE, "territory_code": "510502001002", "address": "水井沟社区",
          "content": "水井沟社区门口流动摊贩占道经营，堵塞人行道。"}


class DeptSim:
    """One ``hotline dept-sim`` process and what the test knows of it."""

    def __init__(self, url: str, proc: subprocess.Popen[bytes], secrets: dict[str, str],
                 log: Path):
        self.url, self.proc, self.secrets, self.log = url, proc, secrets, log
        self.seq: dict[str, int] = {}

    def status(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/_status", timeout=5).json()

    def post(self, body: bytes, headers: dict[str, str]) -> requests.Response:
        return requests.post(f"{self.url}/webhook", data=body, headers=headers, timeout=5)

    def entry(self, assignment: dict[str, Any], ticket_no: str, seq: int | None = None
              ) -> dict[str, Any]:
        code = assignment["department_code"]
        if seq is None:
            seq = self.seq[code] = self.seq.get(code, 0) + 1
        return {"delivery_id": seq, "seq": seq, "type": "assignment.dispatched",
                "occurred_at": "2026-12-01T08:00:00+00:00", "department_code": code,
                "ticket_no": ticket_no, "assignment_id": assignment["id"],
                "data": {"role": assignment["role"], "round": assignment["round"]}}

    def deliver(self, entry: dict[str, Any], secret: str | None = None) -> requests.Response:
        body = webhooks.encode_body(entry)
        headers = webhooks.signed_headers(secret or self.secrets[entry["department_code"]], body,
                                          event_type=entry["type"],
                                          delivery_id=entry["delivery_id"])
        return self.post(body, headers)


def api_key(admin: HotlineClient, code: str) -> str:
    made = admin.request("POST", "/api/v1/admin/api-keys",
                         json={"department_code": code, "name": f"dept-sim {code}"})
    return str(made["api_key"])


@pytest.fixture
def dept_sim(system: System, tmp_path: Path) -> Iterator[Any]:
    """Start a dept-sim for some departments: ``dept_sim("chengguan", …)``."""
    started: list[DeptSim] = []

    def start(*codes: str, extra: tuple[str, ...] = (), port: int | None = None,
              secrets: dict[str, str] | None = None) -> DeptSim:
        admin = system.login("admin")
        secrets = secrets or {code: f"whsec_{uuid.uuid4().hex}" for code in codes}
        port = port or free_port()
        log = tmp_path / f"dept-sim-{port}.log"
        args = ["--hotline-url", system.url, "--delay", "0", "--backoff-base", "0.2",
                "--backoff-max", "1", "--max-attempts", "40", *extra]
        for code in codes:
            args += ["--dept", f"{code}:{secrets[code]}:{api_key(admin, code)}"]
        proc = start_dept_sim(args, port, log, env=system.env)
        sim = DeptSim(f"http://127.0.0.1:{port}", proc, secrets, log)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.proc.terminate()
        try:
            assert sim.proc.wait(10) == 0, sim.log.read_text()  # a clean, graceful stop
        except subprocess.TimeoutExpired:
            sim.proc.kill()
            raise


def dispatched(system: System, payload: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    agent = system.login("agent1")
    no = agent.register({**payload, "content": f"{payload['content']}（{uuid.uuid4().hex[:6]}）"}
                        )["ticket_no"]
    made = wait_for(lambda: agent.ticket(no)["assignments"], what=f"dispatch of {no}")
    return no, made


def state_of(system: System, no: str, assignment_id: int) -> str:
    t = system.login("supervisor1").ticket(no)
    return next(a["state"] for a in t["assignments"] if a["id"] == assignment_id)


class TestDeptSim:
    def test_a_webhook_makes_the_department_system_sign_and_reply(
            self, system: System, dept_sim: Any) -> None:
        # with a progress note between sign and reply (where the progress route is missing,
        # its 404 is tolerated: the note is optional)
        sim = dept_sim("chengguan", extra=("--progress",))
        no, (lead,) = dispatched(system, NOISE)
        assert (lead["department_code"], lead["role"]) == ("chengguan", "lead")
        r = sim.deliver(sim.entry(lead, no))
        assert r.status_code == 200 and r.json() == {"ok": True, "seq": 1}
        supervisor = system.login("supervisor1")
        wait_for(lambda: supervisor.ticket(no)["status"] == "replied", what="replied via the API")
        done = system.login("dept_chengguan").assignment(lead["id"])
        assert (done["state"], done["reply"]) == ("replied", deptsim.REPLY_TEXT)
        assert done["signed_by"].startswith("apikey:") and done["replied_by"] == \
            done["signed_by"]  # through its API key, not a console user
        st = sim.status()
        assert st["acted"] == {"sign": 1, "progress": 1, "reply": 1}
        assert st["last_seq"] == {"chengguan": 1} and st["errors"] == 0

    def test_a_bad_signature_is_refused_and_nothing_is_done(
            self, system: System, dept_sim: Any) -> None:
        sim = dept_sim("chengguan")
        no, (lead,) = dispatched(system, NOISE)
        r = sim.deliver(sim.entry(lead, no), secret="whsec_not_the_departments")
        assert r.status_code == 401 and r.json()["error"]["reason"] == "mismatch"
        body = webhooks.encode_body(sim.entry(lead, no, seq=2))
        stale = webhooks.signed_headers(sim.secrets["chengguan"], body,
                                        event_type="assignment.dispatched", delivery_id=2,
                                        now=1_700_000_000)
        r = sim.post(body, stale)
        assert r.status_code == 401 and r.json()["error"]["reason"] == "stale"
        # a good delivery of another order afterwards is acted on; the refused one never was
        other, (lead2,) = dispatched(system, NOISE)
        assert sim.deliver(sim.entry(lead2, other, seq=3)).status_code == 200
        wait_for(lambda: state_of(system, other, lead2["id"]) == "replied", what="replied")
        assert state_of(system, no, lead["id"]) == "dispatched"
        st = sim.status()
        assert st["verification_failures"] == {"mismatch": 1, "stale": 1}
        assert st["acted"] == {"sign": 1, "reply": 1} and st["last_seq"] == {"chengguan": 3}

    def test_a_repeated_delivery_is_acknowledged_and_acted_on_once(
            self, system: System, dept_sim: Any) -> None:
        sim = dept_sim("chengguan")
        no, (lead,) = dispatched(system, NOISE)
        e = sim.entry(lead, no)
        assert sim.deliver(e).json() == {"ok": True, "seq": 1}
        assert sim.deliver(e).json() == {"ok": True, "duplicate": True, "seq": 1}
        wait_for(lambda: state_of(system, no, lead["id"]) == "replied", what="replied")
        # and after acting, a third copy (a retry after a lost answer) changes nothing
        assert sim.deliver(e).json()["duplicate"] is True
        st = sim.status()
        assert st["duplicates"] == 2 and st["acted"] == {"sign": 1, "reply": 1}
        assert st["received"] == {"assignment.dispatched": 3}

    def test_the_leads_reply_waits_for_the_assistants_opinion(
            self, system: System, dept_sim: Any) -> None:
        sim = dept_sim("chengguan", "jy_nancheng")
        no, made = dispatched(system, STALLS)
        lead = next(a for a in made if a["role"] == "lead")
        assist = next(a for a in made if a["role"] == "assist")
        assert (lead["department_code"], assist["department_code"]) == ("chengguan",
                                                                        "jy_nancheng")
        assert sim.deliver(sim.entry(lead, no)).status_code == 200
        # the lead signs, its reply is refused (协办 pending) and retried with backoff
        wait_for(lambda: sim.status()["retries"].get("assists_pending", 0) >= 1,
                 what="the lead's reply refused while the assistant is pending")
        assert state_of(system, no, lead["id"]) == "signed"
        assert sim.deliver(sim.entry(assist, no)).status_code == 200
        wait_for(lambda: state_of(system, no, lead["id"]) == "replied", timeout=30,
                 what="the lead's reply after the assistant's opinion")
        assert state_of(system, no, assist["id"]) == "opinion_submitted"
        st = sim.status()
        assert st["acted"] == {"sign": 2, "opinion": 1, "reply": 1}
        assert st["gave_up"] == 0 and st["last_seq"] == {"chengguan": 1, "jy_nancheng": 1}

    def test_the_hotline_pushes_and_the_department_system_answers(
            self, system: System, dept_sim: Any) -> None:
        admin = system.login("admin")
        port = free_port()
        r = admin.raw("POST", "/api/v1/admin/departments/chengguan/endpoints", json={
            "kind": "webhook", "url": f"http://127.0.0.1:{port}/webhooks/chengguan",
            "timeout_seconds": 5})
        assert r.status_code == 201, r.text
        endpoint = r.json()
        try:
            sim = dept_sim("chengguan", port=port, secrets={"chengguan": endpoint["secret"]})
            no, (lead,) = dispatched(system, NOISE)
            wait_for(lambda: state_of(system, no, lead["id"]) == "replied", timeout=30,
                     what="signed and replied after the hotline's own push")
            st = sim.status()
            assert st["received"].get("assignment.dispatched") == 1
            assert st["verification_failures"] == {} and st["duplicates"] == 0
            assert st["acted"] == {"sign": 1, "reply": 1}
        finally:
            admin.raw("DELETE", f"/api/v1/admin/endpoints/{endpoint['id']}")
