"""Property-based tests of the order lifecycle through the real services (issue 3).

Random sequences of the actions departments and the center take — sign, an assistant's
opinion (协办意见), reply (gated on the opinions), 下派 to a unit, return and its decision, a
reply racing a return request, extension and its decision, callbacks, close, urge, sweeps at
future instants, manual dispatch; by the right department and by a wrong one — are applied
over RPC exactly as the gateway would, to a few orders of intake, dispatch, supervision and reporting running as nameko
containers on a fresh vhost and migrated databases. After each action the test waits until the
system is quiescent and then checks the invariants of DOMAIN.md §3 against what supervision
and dispatch answer (``tests/lifecycle_model.py``):

- exactly one lead per dispatch round, never two active leads;
- only assistants give opinions, after signing; the lead replies only after every assistant of
  its round answered; a replied or closed order has no open clock, and no urge ever targets a
  replied, stopped or returned clock or a closed order;
- a return overtaken by the lead's reply is withdrawn, never left pending, and every reply
  dispatch accepted is a 'replied' transition in supervision;
- an extension of a stopped clock (returned, passed down, ended by the lead's reply) is refused,
  and a pending one is no longer decided once its clock stopped;
- the status is the last transition's; transitions chain; each has actor, time and reason;
- closed only after a reply or a resolution at intake;
- a handling deadline moves only by an approved extension, once;
- an action not allowed in the current state is a Conflict naming state and action, an action
  by another department is NotFound, and either changes nothing;
- nothing is dead-lettered.

Quiescent means: every service's outbox is empty, every queue of the vhost holds no message,
and every order shows what the model predicts. Queue depths are read exactly with a passive
``queue.declare`` (the management API's figures are refreshed only every 5 s, measured on this
broker, so they serve only the final check after the run, where their delay does not matter).

Reproducible: hypothesis is derandomized (the same sequences on every run and machine) and
keeps no example database; a failure prints the whole sequence of steps (and a
``@reproduce_failure`` blob). Debugging knobs: HOTLINE_PROPS_EXAMPLES (more sequences),
HOTLINE_PROPS_SHRINK=1 (shrink a failure to its shortest sequence; slow).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from hotline.client import wait_for
from shared.messaging import list_dead_letters
from tests import lifecycle_model as m
from tests.integration.conftest import load_city
from tests.lifecycle_machine import LifecycleMachine, QueueProbe, quiescent

SERVICES = ("intake", "dispatch", "supervision", "reporting", "knowledge")
# A failure is reported as found, the whole sequence of steps printed: shrinking re-runs many
# sequences against the real services (minutes, beyond the test's timeout). To get the
# shortest failing sequence, run with HOTLINE_PROPS_SHRINK=1 and -p no:timeout.
PHASES = (list(Phase) if os.environ.get("HOTLINE_PROPS_SHRINK") == "1"
          else [Phase.explicit, Phase.reuse, Phase.generate])
# per backend: (examples, steps per example). A step costs ≈ 0.25 s on SQLite and ≈ 0.5 s on
# PostgreSQL on 2 cores (each settle reads five services' outboxes, the queues and every order
# over RPC, twice): 12 × 35 and 4 × 25 keep the file near 2.5 minutes (it took 4 with 20 × 35
# once reporting and knowledge joined). HOTLINE_PROPS_EXAMPLES overrides the number of examples
# for a longer local run.
BUDGET = {"sqlite": (12, 35), "postgres": (4, 25)}


class RpcDriver:
    """The lifecycle actions as the gateway calls them, over nameko RPC."""

    def __init__(self, rpc: Any, amqp_uri: str, vhost: str):
        self.rpc = rpc
        self.probe = QueueProbe(amqp_uri, vhost)

    # -- actions ---------------------------------------------------------------------------------
    def register(self, kind: str) -> str:
        return str(self.rpc.intake.register_ticket(m.ORDER_KINDS[kind], "agent1")["ticket_no"])

    def sign(self, assignment_id: int, dept: str) -> Any:
        return self.rpc.dispatch.sign(assignment_id, dept, f"dept_{dept}")

    def opinion(self, assignment_id: int, dept: str) -> Any:
        return self.rpc.dispatch.submit_opinion(assignment_id, dept,
                                                {"opinion": "同意主办意见，已配合现场核查"},
                                                f"dept_{dept}")

    def pass_down(self, assignment_id: int, dept: str, unit: str) -> dict[str, Any]:
        return dict(self.rpc.dispatch.pass_down(assignment_id, dept, {"department_code": unit},
                                                f"dept_{dept}"))

    def reply(self, assignment_id: int, dept: str) -> Any:
        return self.rpc.dispatch.reply(assignment_id, dept, {"reply": "已现场处理并答复市民"},
                                       f"dept_{dept}")

    def request_return(self, assignment_id: int, dept: str) -> int:
        return int(self.rpc.supervision.request_return(
            assignment_id, dept, {"reason_code": "function", "basis": "不属本单位职能"},
            f"dept_{dept}")["id"])

    def decide_return(self, return_id: int, approve: bool) -> Any:
        return self.rpc.supervision.decide_return(return_id, {"approve": approve}, "dispatcher1")

    def request_extension(self, assignment_id: int, dept: str, days: int) -> int:
        return int(self.rpc.supervision.request_extension(
            assignment_id, dept, {"days": days, "reason": "需协调多个部门"}, f"dept_{dept}")["id"])

    def decide_extension(self, extension_id: int, approve: bool) -> dict[str, Any]:
        return dict(self.rpc.supervision.decide_extension(extension_id, {"approve": approve},
                                                          "supervisor1"))

    def callback(self, ticket_no: str, payload: dict[str, Any]) -> str:
        return str(self.rpc.supervision.record_callback(ticket_no, payload, "supervisor1")["outcome"])

    def close_order(self, ticket_no: str) -> Any:
        return self.rpc.supervision.close(ticket_no, {}, "supervisor1")

    def urge(self, ticket_no: str) -> Any:
        return self.rpc.supervision.urge(ticket_no, {"channel": "phone"}, "supervisor1")

    def sweep(self, now: str) -> Any:
        return self.rpc.supervision.sweep(now)

    def dispatch(self, ticket_no: str, lead: str, assists: list[str]) -> Any:
        return self.rpc.dispatch.dispatch(ticket_no, {"lead": lead, "assists": assists},
                                          "dispatcher1")

    # -- observation -----------------------------------------------------------------------------
    def observe(self, ticket_no: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        return self.rpc.supervision.get_state(ticket_no), self.rpc.dispatch.assignments_of(ticket_no)

    def quiescent(self) -> bool:
        return quiescent(self.rpc, SERVICES, self.probe)

    def dead_letters(self) -> int:
        return self.probe.dead_letters()


@pytest.mark.timeout(300)  # ~45 s per backend normally; room for a loaded machine
def test_lifecycle_invariants_hold_over_random_action_sequences(
        start: Any, rpc: Any, config: dict[str, Any], vhost: str, backend: str) -> None:
    start(*SERVICES)
    load_city(rpc)
    driver = RpcDriver(rpc, config["AMQP_URI"], vhost)
    examples, steps = BUDGET[backend]
    examples = int(os.environ.get("HOTLINE_PROPS_EXAMPLES", examples))

    class Machine(LifecycleMachine):
        tally: Counter[str] = Counter()

    Machine.driver = driver
    began = time.monotonic()
    try:
        run_state_machine_as_test(Machine, settings=settings(
            max_examples=examples, stateful_step_count=steps, deadline=None, derandomize=True,
            database=None, print_blob=True, phases=PHASES, suppress_health_check=list(HealthCheck)))
    finally:
        driver.probe.close()
    print(f"\n{backend}: {examples} examples × ≤{steps} steps in {time.monotonic() - began:.1f}s; "
          + ", ".join(f"{k} ×{v}" for k, v in sorted(Machine.tally.items())))

    # after the run, the management API agrees (its figures lag by up to 5 s): nothing queued,
    # nothing unacknowledged, and the dead-letter queue holds nothing
    wait_for(driver.probe.api_idle, timeout=30, what="every queue of the vhost empty (management API)")
    assert list_dead_letters(config["AMQP_URI"]) == []
