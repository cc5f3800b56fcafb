"""A dependency that is down gives a prompt 503 from the gateway, and nothing half-written."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from hotline import demo
from hotline.client import HotlineClient
from tests.conftest import RabbitAdmin
from tests.e2e.conftest import start_system

pytestmark = pytest.mark.e2e


def test_broker_down_gives_503_promptly(tmp_path: Any, rabbit_admin: RabbitAdmin) -> None:
    system, _ = start_system(tmp_path, rabbit_admin, {"HOTLINE_RPC_TIMEOUT": "5"})
    try:
        agent = system.login("agent1")
        assert agent.raw("GET", "/api/v1/tickets").status_code == 200
        rabbit_admin.delete(system.vhost)  # the broker is gone for every service
        started = time.monotonic()
        r = agent.raw("POST", "/api/v1/tickets", json={
            "category": "help", "phone": "13800138000", "content": "路灯不亮"})
        elapsed = time.monotonic() - started
        print(f"503 after {elapsed * 1000:.0f} ms")
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "unavailable"
        # bounded by the RPC timeout at worst, far below it when the connection is refused
        assert elapsed < 5.5
        health = requests.get(f"{system.url}/health", timeout=10)
        assert health.status_code == 503 and health.json()["components"]["broker"] == "unavailable"
    finally:
        system.cluster.stop()


def test_database_down_gives_503_and_nothing_is_registered(
        tmp_path: Any, rabbit_admin: RabbitAdmin, make_config: Any, migrated: Any,
        container_factory: Any, backend: str) -> None:
    from nameko.standalone.rpc import ClusterRpcProxy

    from hotline.registry import service_class
    from services.intake.models import Ticket, metadata
    from shared.database import Database

    if backend != "sqlite":
        pytest.skip("one backend is enough: the outage is the point")
    config = make_config()
    intake_url = config["DATABASES"]["intake"]
    down = {**config, "DATABASES": {**config["DATABASES"],
                                    "intake": "postgresql+pg8000://postgres@127.0.0.1:1/nowhere"}}
    for name, cfg in (("gateway", config), ("dispatch", config), ("intake", down)):
        container_factory(service_class(name), cfg).start()
    with ClusterRpcProxy({"AMQP_URI": config["AMQP_URI"]}, timeout=10) as rpc:
        rpc.gateway.load_users(demo.users([]))
    url = f"http://{config['WEB_SERVER_ADDRESS']}"
    agent = HotlineClient.login(url, "agent1", demo.DEMO_PASSWORD)
    r = agent.raw("POST", "/api/v1/tickets", json={
        "category": "help", "phone": "13800138000", "content": "路灯不亮"})
    assert r.status_code == 503, r.text
    assert "数据库" in r.json()["error"]["message"]
    db = Database.standalone(metadata, intake_url, "intake")
    with db.engine.connect() as conn:
        assert conn.execute(Ticket.__table__.select()).first() is None
