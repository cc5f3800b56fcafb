"""End-to-end layer: every service runs as its own OS process (``python -m hotline.runner``),
exactly as ``hotline up`` starts them, and tests drive the system over HTTP only.

Real: processes, RabbitMQ (a vhost per test module), SQLite files in a temporary data
directory, migrations, demo data. Replaced: nothing.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from hotline.client import HotlineClient
from hotline.processes import Cluster
from tests.conftest import AMQP_BASE, RabbitAdmin, free_port

PASSWORD = "demo12345"


class System:
    def __init__(self, url: str, env: dict[str, str], cluster: Cluster, vhost: str):
        self.url, self.env, self.cluster, self.vhost = url, env, cluster, vhost

    def login(self, username: str) -> HotlineClient:
        return HotlineClient.login(self.url, username, PASSWORD)

    def give_opinions(self, ticket_no: str) -> None:
        """协办: every assistant still owing its opinion signs and gives it, as its own
        department user, so the lead may reply."""
        for a in self.login("supervisor1").ticket(ticket_no)["assignments"]:
            if a["role"] == "assist" and a["state"] in ("dispatched", "signed"):
                dept = self.login(f"dept_{a['department_code']}")
                if a["state"] == "dispatched":
                    dept.sign(a["id"])
                dept.opinion(a["id"], "已配合处理。")


def start_system(tmp: Any, rabbit_admin: RabbitAdmin, extra_env: dict[str, str] | None = None
                 ) -> tuple[System, Any]:
    from hotline import commands
    from shared.config import load_config

    vhost = f"hotline-e2e-{uuid.uuid4().hex[:10]}"
    rabbit_admin.create(vhost)
    port = free_port()
    env = {**os.environ, "AMQP_URI": f"{AMQP_BASE}/{quote(vhost, safe='')}",
           "HOTLINE_DATA_DIR": str(tmp), "GATEWAY_ADDRESS": f"127.0.0.1:{port}",
           "HOTLINE_OUTBOX_POLL": "0.2", "HOTLINE_EVENT_RETRY_BASE_MS": "100",
           "HOTLINE_LOG_LEVEL": "INFO", **(extra_env or {})}
    config = load_config(env=env)
    commands.migrate(config)
    cluster = Cluster(env=env, log_dir=tmp / "logs")
    cluster.start()
    url = f"http://127.0.0.1:{port}"
    try:
        cluster.wait_healthy(url, timeout=90)
        commands.load_demo(config)
    except Exception:
        cluster.stop()
        rabbit_admin.delete(vhost)
        raise
    return System(url, env, cluster, vhost), config


@pytest.fixture(scope="module")
def system(tmp_path_factory: Any, rabbit_admin: RabbitAdmin) -> Iterator[System]:
    sys_, _ = start_system(tmp_path_factory.mktemp("e2e"), rabbit_admin)
    yield sys_
    sys_.cluster.stop()
    rabbit_admin.delete(sys_.vhost)
