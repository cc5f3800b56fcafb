"""Root test configuration and the fixtures every layer shares.

eventlet must monkey-patch before anything imports sockets or threads (nameko ≥ 2.14 no
longer does it from its pytest plugin; STYLE.md field notes), so it is the first thing here.

Real components: RabbitMQ at ``HOTLINE_TEST_AMQP`` (default 127.0.0.1:5672, guest/guest) with a
fresh vhost per test made through the management API (``rabbitmqctl`` as a fallback);
PostgreSQL at ``HOTLINE_TEST_PG`` (default 127.0.0.1:5432, user postgres, trust) with fresh
databases per test; SQLite files in a per-test temporary directory. Nothing is mocked here.
"""

import eventlet

import hotline  # noqa: F401  (first: silences eventlet's deprecation banner)

eventlet.monkey_patch()  # noqa: E402

import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import quote  # noqa: E402

import pytest  # noqa: E402
import requests  # noqa: E402

AMQP_BASE = os.environ.get("HOTLINE_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672")
RABBIT_API = os.environ.get("HOTLINE_TEST_RABBIT_API", "http://guest:guest@127.0.0.1:15672/api")
PG_BASE = os.environ.get("HOTLINE_TEST_PG", "postgresql+pg8000://postgres@127.0.0.1:5432")
SERVICES = ("intake", "dispatch", "supervision", "knowledge", "reporting", "gateway")


class RabbitAdmin:
    """Creates and deletes vhosts: management API when enabled, else ``rabbitmqctl``."""

    def __init__(self) -> None:
        try:
            self.api = requests.get(f"{RABBIT_API}/overview", timeout=2).ok
        except requests.RequestException:
            self.api = False

    def create(self, vhost: str) -> None:
        if self.api:
            requests.put(f"{RABBIT_API}/vhosts/{quote(vhost, safe='')}", timeout=10).raise_for_status()
            requests.put(f"{RABBIT_API}/permissions/{quote(vhost, safe='')}/guest", timeout=10,
                         json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
        else:
            subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True)
            subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest",
                            ".*", ".*", ".*"], check=True)

    def delete(self, vhost: str) -> None:
        if self.api:
            requests.delete(f"{RABBIT_API}/vhosts/{quote(vhost, safe='')}", timeout=10)
        else:
            subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False)


@pytest.fixture(scope="session")
def rabbit_admin() -> RabbitAdmin:
    return RabbitAdmin()


@pytest.fixture
def vhost(rabbit_admin: RabbitAdmin) -> Iterator[str]:
    name = f"hotline-test-{uuid.uuid4().hex[:10]}"
    rabbit_admin.create(name)
    yield name
    rabbit_admin.delete(name)


@pytest.fixture
def amqp_uri(vhost: str) -> str:
    return f"{AMQP_BASE}/{quote(vhost, safe='')}"


def _pg_available() -> bool:
    from sqlalchemy import create_engine, text
    try:
        engine = create_engine(f"{PG_BASE}/postgres", connect_args={"timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


PG_AVAILABLE = _pg_available()
REQUIRE_PG = os.environ.get("HOTLINE_REQUIRE_PG") == "1"


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: Any) -> str:
    """Run a test once on SQLite and once on PostgreSQL (the same contract on both)."""
    if request.param == "postgres" and not PG_AVAILABLE:
        if REQUIRE_PG:
            pytest.fail("PostgreSQL is required (HOTLINE_REQUIRE_PG=1) but not reachable")
        pytest.skip("PostgreSQL not reachable")
    return request.param


@pytest.fixture
def database_urls(backend: str, tmp_path: Any) -> Iterator[dict[str, str]]:
    """One fresh database per service, on the chosen backend; dropped afterwards."""
    if backend == "sqlite":
        yield {s: f"sqlite:///{tmp_path / (s + '.db')}" for s in SERVICES}
        return
    prefix = f"hl_t_{uuid.uuid4().hex[:8]}"
    urls = {s: f"{PG_BASE}/{prefix}_{s}" for s in SERVICES}
    yield urls
    from sqlalchemy import create_engine
    admin = create_engine(f"{PG_BASE}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for s in SERVICES:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{prefix}_{s}" WITH (FORCE)')
    admin.dispose()


def free_port() -> int:
    from hotline.processes import free_port as pick
    return pick()


@pytest.fixture
def make_config(amqp_uri: str, database_urls: dict[str, str], tmp_path: Any) -> Any:
    """Build a service config as ``hotline`` would, pointed at this test's vhost and databases."""
    from shared.config import load_config

    def make(**overrides: Any) -> dict[str, Any]:
        env = {"AMQP_URI": amqp_uri, "HOTLINE_DATA_DIR": str(tmp_path),
               "GATEWAY_ADDRESS": f"127.0.0.1:{free_port()}",
               "HOTLINE_EVENT_RETRY_BASE_MS": "50", "HOTLINE_OUTBOX_POLL": "0.2",
               "HOTLINE_RPC_TIMEOUT": "10"}
        env.update({f"{s.upper()}_DATABASE_URL": u for s, u in database_urls.items()})
        config = load_config(env=env)
        config.update(overrides)
        return config

    return make


@pytest.fixture
def migrated(database_urls: dict[str, str]) -> dict[str, str]:
    from shared.migrations import upgrade
    for service, url in database_urls.items():
        upgrade(service, url)
    return database_urls


def pytest_report_header(config: Any) -> list[str]:
    return [f"hotline: RabbitMQ {AMQP_BASE.split('@')[-1]}, PostgreSQL "
            f"{'available' if PG_AVAILABLE else 'NOT available'}, "
            f"chromium {'found' if shutil.which('chromium') else 'absent'}"]
