"""Entrypoints called through ``entrypoint_hook`` on real containers (real vhost, SQLite)."""

from __future__ import annotations

from typing import Any

from nameko.testing.services import entrypoint_hook, entrypoint_waiter

from hotline.registry import all_service_classes
from services.dispatch.service import DispatchService
from services.gateway.service import GatewayService
from services.intake.service import IntakeService
from shared.messaging import declare_topology


def test_registration_hook_publishes_and_dispatch_consumes(
        make_config: Any, migrated: Any, container_factory: Any, backend: str) -> None:
    config = make_config()
    declare_topology(config["AMQP_URI"], all_service_classes())
    intake = container_factory(IntakeService, config)
    dispatch = container_factory(DispatchService, config)
    intake.start()
    dispatch.start()
    with entrypoint_waiter(dispatch, "on_ticket_registered", timeout=20) as result:
        with entrypoint_hook(intake, "register_ticket") as register:
            ticket = register({"category": "help", "phone": "13900001111",
                               "content": "求助：老人走失"}, "agent1")
    assert result.get() is None  # handled without error
    with entrypoint_hook(dispatch, "inbox") as inbox, entrypoint_hook(
            dispatch, "load_reference") as load:
        load({"departments": [{"code": "center", "name": "中心", "kind": "center"}]})
        assert inbox("center", {})["items"] == []  # no rule matched: pending, not assigned
    assert ticket["ticket_no"].isdigit()


def test_gateway_user_provisioning_hook(make_config: Any, migrated: Any,
                                        container_factory: Any, backend: str) -> None:
    container = container_factory(GatewayService, make_config())
    container.start()
    with entrypoint_hook(container, "load_users") as load_users:
        assert load_users([{"username": "u1", "role": "agent", "password": "pw-123456"}]) == 1
    import requests
    url = f"http://{container.config['WEB_SERVER_ADDRESS']}/api/v1/auth/token"
    ok = requests.post(url, json={"username": "u1", "password": "pw-123456"}, timeout=10)
    assert ok.status_code == 200 and ok.json()["role"] == "agent"
    bad = requests.post(url, json={"username": "u1"}, timeout=10)
    assert bad.status_code == 422 and "password" in bad.json()["error"]["fields"]
