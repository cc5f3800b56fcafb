"""Property-based lifecycle tests over HTTP: the same random action sequences and invariants
as ``tests/integration/test_lifecycle_properties.py`` (``tests/lifecycle_machine.py``), driven
through the gateway with every service running as its own process, and observed only through
``GET /api/v1/tickets/<no>``. Every refused action must be a 4xx — 409 naming action and
state, 404 for another department's assignment, 422 naming the field — never a 500.

Quiescence is watched beside HTTP (which does not expose it): every service's outbox over RPC
on the system's vhost and every queue's exact depth. ``sweep`` has no HTTP route: here it is a
no-op (the supervision timer sweeps at the current time on its own).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from nameko.standalone.rpc import ClusterRpcProxy

from hotline.client import ApiError, HotlineClient, wait_for
from shared.errors import Conflict, Invalid, NotFound
from shared.messaging import list_dead_letters
from tests import lifecycle_model as m
from tests.e2e.conftest import System
from tests.lifecycle_machine import LifecycleMachine, QueueProbe, quiescent

pytestmark = pytest.mark.e2e

SERVICES = ("intake", "dispatch", "supervision", "reporting", "knowledge")
EXAMPLES, STEPS = int(os.environ.get("HOTLINE_PROPS_EXAMPLES", 4)), 30  # ~30 s in all


class HttpDriver:
    """The lifecycle actions as each role takes them over HTTP; refusals become the shared
    error types after checking the status and the error body."""

    def __init__(self, system: System, rpc: Any):
        self.system, self.rpc = system, rpc
        self.clients: dict[str, HotlineClient] = {}
        self.probe = QueueProbe(system.env["AMQP_URI"], system.vhost)
        self.statuses: Counter[int] = Counter()

    def as_(self, username: str) -> HotlineClient:
        if username not in self.clients:
            self.clients[username] = self.system.login(username)
        return self.clients[username]

    def call(self, username: str, method: str, path: str, json: Any = None) -> Any:
        r = self.as_(username).raw(method, path, json=json)
        self.statuses[r.status_code] += 1
        body = r.json() if r.content else None
        if r.status_code < 400:
            return body
        assert 400 <= r.status_code < 500, f"{method} {path}: HTTP {r.status_code} {r.text}"
        error = body["error"]
        assert error["message"], body
        if r.status_code == 409:
            assert error.get("action") and "state" in error, f"409 without action/state: {body}"
            raise Conflict(error["message"], {"action": error["action"], "state": error["state"]})
        if r.status_code == 404:
            raise NotFound(error["message"], {})
        if r.status_code == 422:
            assert error.get("fields"), f"422 without fields: {body}"
            raise Invalid(error["message"], {"fields": error["fields"]})
        raise ApiError(r.status_code, body)  # 400 / 401 / 403: not a lifecycle refusal

    # -- actions ---------------------------------------------------------------------------------
    def register(self, kind: str) -> str:
        return str(self.call("agent1", "POST", "/api/v1/tickets", m.ORDER_KINDS[kind])["ticket_no"])

    def sign(self, assignment_id: int, dept: str) -> Any:
        return self.call(f"dept_{dept}", "POST", f"/api/v1/assignments/{assignment_id}/sign")

    def opinion(self, assignment_id: int, dept: str) -> Any:
        return self.call(f"dept_{dept}", "POST", f"/api/v1/assignments/{assignment_id}/opinion",
                         {"opinion": "同意主办意见，已配合现场核查"})

    def pass_down(self, assignment_id: int, dept: str, unit: str) -> dict[str, Any]:
        return dict(self.call(f"dept_{dept}", "POST",
                              f"/api/v1/assignments/{assignment_id}/pass-down",
                              {"department_code": unit}))

    def reply(self, assignment_id: int, dept: str) -> Any:
        return self.call(f"dept_{dept}", "POST", f"/api/v1/assignments/{assignment_id}/reply",
                         {"reply": "已现场处理并答复市民"})

    def request_return(self, assignment_id: int, dept: str) -> int:
        return int(self.call(f"dept_{dept}", "POST", f"/api/v1/assignments/{assignment_id}/return",
                             {"reason_code": "territory", "basis": "不属本辖区"})["id"])

    def decide_return(self, return_id: int, approve: bool) -> Any:
        return self.call("dispatcher1", "POST", f"/api/v1/returns/{return_id}/decision",
                         {"approve": approve})

    def request_extension(self, assignment_id: int, dept: str, days: int) -> int:
        return int(self.call(f"dept_{dept}", "POST",
                             f"/api/v1/assignments/{assignment_id}/extension",
                             {"days": days, "reason": "需协调多个部门"})["id"])

    def decide_extension(self, extension_id: int, approve: bool) -> dict[str, Any]:
        return dict(self.call("supervisor1", "POST", f"/api/v1/extensions/{extension_id}/decision",
                              {"approve": approve}))

    def callback(self, ticket_no: str, payload: dict[str, Any]) -> str:
        return str(self.call("supervisor1", "POST", f"/api/v1/tickets/{ticket_no}/callback",
                             payload)["outcome"])

    def close_order(self, ticket_no: str) -> Any:
        return self.call("supervisor1", "POST", f"/api/v1/tickets/{ticket_no}/close", {})

    def urge(self, ticket_no: str) -> Any:
        return self.call("supervisor1", "POST", f"/api/v1/tickets/{ticket_no}/urge",
                         {"channel": "notice"})

    def sweep(self, now: str) -> None:
        return None  # no HTTP route: the supervision timer sweeps by itself

    def dispatch(self, ticket_no: str, lead: str, assists: list[str]) -> Any:
        return self.call("dispatcher1", "POST", f"/api/v1/tickets/{ticket_no}/dispatch",
                         {"lead": lead, "assists": assists})

    # -- observation: GET /api/v1/tickets/<no> only ---------------------------------------------
    def observe(self, ticket_no: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        detail = self.as_("supervisor1").ticket(ticket_no)
        assignments = [{k: v for k, v in a.items() if k != "clock"} for a in detail["assignments"]]
        clocks = [a["clock"] for a in detail["assignments"] if a["clock"] is not None]
        return {**detail["lifecycle"], "status": detail["status"], "clocks": clocks}, assignments

    def quiescent(self) -> bool:
        return quiescent(self.rpc, SERVICES, self.probe)

    def dead_letters(self) -> int:
        return self.probe.dead_letters()


@pytest.mark.timeout(300)
def test_lifecycle_invariants_hold_over_random_http_sequences(system: System) -> None:
    with ClusterRpcProxy({"AMQP_URI": system.env["AMQP_URI"]}, timeout=20) as rpc:
        driver = HttpDriver(system, rpc)

        class Machine(LifecycleMachine):
            tally: Counter[str] = Counter()

        Machine.driver = driver
        began = time.monotonic()
        try:
            run_state_machine_as_test(Machine, settings=settings(
                max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
                derandomize=True, database=None, print_blob=True,
                phases=[Phase.explicit, Phase.reuse, Phase.generate],  # report as found
                suppress_health_check=list(HealthCheck)))
        finally:
            driver.probe.close()
        print(f"\nhttp: {EXAMPLES} examples × ≤{STEPS} steps in {time.monotonic() - began:.1f}s; "
              f"HTTP statuses {dict(driver.statuses)}; "
              + ", ".join(f"{k} ×{v}" for k, v in sorted(Machine.tally.items())))
        assert 500 not in driver.statuses and driver.statuses[409] > 0
        assert driver.statuses[200] + driver.statuses[201] > 0
        wait_for(driver.probe.api_idle, timeout=30, what="every queue empty (management API)")
        assert list_dead_letters(system.env["AMQP_URI"]) == []
