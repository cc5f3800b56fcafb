"""Integration layer: services run as nameko containers in this process.

Real: RabbitMQ (a fresh vhost per test), the databases (SQLite files, and PostgreSQL through
the ``backend`` parameter), migrations, the outbox relay, retries and the dead-letter queue.
Replaced: nothing. Only the services a test names are started (nameko's
``large_integration_test`` narrowing), so each test shows which services a behaviour needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from hotline import demo
from hotline.registry import all_service_classes, service_class
from shared.messaging import declare_topology


@pytest.fixture
def config(make_config: Any, migrated: dict[str, str]) -> dict[str, Any]:
    cfg = make_config(EVENT_MAX_RETRIES=2)
    declare_topology(cfg["AMQP_URI"], all_service_classes())
    return cfg


@pytest.fixture
def start(config: dict[str, Any], container_factory: Any) -> Any:
    def start(*names: str, **overrides: Any) -> dict[str, Any]:
        started = {}
        for name in names:
            container = container_factory(service_class(name), {**config, **overrides})
            container.start()
            started[name] = container
        start.started.update(started)  # type: ignore[attr-defined]
        return started
    start.started = {}  # type: ignore[attr-defined]
    return start


@pytest.fixture
def rpc(config: dict[str, Any]) -> Iterator[Any]:
    with ClusterRpcProxy({"AMQP_URI": config["AMQP_URI"]}, timeout=20) as proxy:
        yield proxy


def load_city(rpc: Any) -> None:
    """The demo city's territories, departments and routing catalogue (needs dispatch running)."""
    rpc.dispatch.load_reference({"territories": demo.TERRITORIES,
                                 "departments": demo.DEPARTMENTS, "rules": demo.RULES})


ORDER = {
    "category": "complaint", "phone": "+86 138-0013-8000", "caller_name": "李女士",
    "territory_code": "510502001001", "address": "白招牌社区",
    "content": "小区门口长期有流动摊贩占道经营，堵塞消防通道，请城管处理。",
}


def give_opinions(rpc: Any, ticket_no: str) -> None:
    """协办: every assistant of the order still owing its opinion signs and gives it, so the
    lead may reply (dispatch refuses the lead's reply until then)."""
    for a in rpc.dispatch.assignments_of(ticket_no):
        if a["role"] == "assist" and a["state"] in ("dispatched", "signed"):
            user = f"dept_{a['department_code']}"
            if a["state"] == "dispatched":
                rpc.dispatch.sign(a["id"], a["department_code"], user)
            rpc.dispatch.submit_opinion(a["id"], a["department_code"],
                                        {"opinion": "已配合处理"}, user)
