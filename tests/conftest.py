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


def pg_admin(*statements: str) -> None:
    """Run statements on the server's ``postgres`` database outside a transaction (CREATE and
    DROP DATABASE); nothing to do without statements."""
    if not statements:
        return
    from sqlalchemy import create_engine
    admin = create_engine(f"{PG_BASE}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        admin.dispose()


class PgJanitor:
    """Drops the test databases in the background: a ``DROP DATABASE … WITH (FORCE)`` takes
    ≈ 0.4 s on this kind of machine, six per test, and nothing waits on it (every name is
    unique). Batches go to ``psql`` processes started without waiting; the session's end drops
    the rest and waits for them all. Without ``psql`` the drops are done in place."""

    BATCH = 24

    def __init__(self) -> None:
        self.pending: list[str] = []
        self.running: list[subprocess.Popen] = []
        self.psql = shutil.which("psql")

    def drop_later(self, names: list[str]) -> None:
        self.pending.extend(names)
        if len(self.pending) >= self.BATCH:
            self._flush(wait=False)

    def _statements(self, names: list[str]) -> list[str]:
        return [f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE);' for n in names]

    def _flush(self, wait: bool) -> None:
        names, self.pending = self.pending, []
        if not names:
            return
        if self.psql is None or wait:
            pg_admin(*self._statements(names))
            return
        from sqlalchemy.engine import make_url
        url = make_url(PG_BASE)
        env = {**os.environ, "PGPASSWORD": url.password or ""}
        args = [self.psql, "-q", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432),
                "-U", url.username or "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=0"]
        for statement in self._statements(names):
            args += ["-c", statement]
        self.running = [p for p in self.running if p.poll() is None]
        self.running.append(subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL))

    def finish(self) -> None:
        self._flush(wait=True)
        for process in self.running:
            process.wait(timeout=120)


@pytest.fixture(scope="session")
def pg_janitor() -> Iterator[PgJanitor]:
    janitor = PgJanitor()
    yield janitor
    janitor.finish()


@pytest.fixture
def database_urls(backend: str, tmp_path: Any, request: Any) -> Iterator[dict[str, str]]:
    """One fresh database per service, on the chosen backend; dropped afterwards."""
    if backend == "sqlite":
        yield {s: f"sqlite:///{tmp_path / (s + '.db')}" for s in SERVICES}
        return
    janitor = request.getfixturevalue("pg_janitor")
    prefix = f"hl_t_{uuid.uuid4().hex[:8]}"
    urls = {s: f"{PG_BASE}/{prefix}_{s}" for s in SERVICES}
    yield urls
    janitor.drop_later([f"{prefix}_{s}" for s in SERVICES])


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


class SchemaTemplates:
    """Each service's schema, migrated once per test run and backend, then copied for every test
    that needs a migrated database: a PostgreSQL ``CREATE DATABASE … TEMPLATE`` (≈ 0.1 s against
    ≈ 0.7 s for running the migrations), a file copy on SQLite. The migrations themselves are
    tested from empty databases in tests/integration/test_migrations.py."""

    def __init__(self, directory: Any) -> None:
        self.directory = directory
        self.run = uuid.uuid4().hex[:8]
        self.made: dict[tuple[str, str], str] = {}

    def template(self, backend: str, service: str) -> str:
        from shared.migrations import upgrade

        key = (backend, service)
        if key not in self.made:
            if backend == "sqlite":
                url = f"sqlite:///{self.directory / (service + '.db')}"
                upgrade(service, url)
                import sqlite3
                with sqlite3.connect(self.directory / (service + ".db")) as conn:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the copy is the .db alone
                conn.close()
                self.made[key] = str(self.directory / (service + ".db"))
            else:
                name = f"hl_tpl_{self.run}_{service}"
                upgrade(service, f"{PG_BASE}/{name}")  # its engines are disposed: no session
                self.made[key] = name
        return self.made[key]

    def copy(self, backend: str, service: str, url: str) -> str:
        """Make ``url`` (which must not exist yet) a migrated database of ``service``."""
        from sqlalchemy.engine import make_url

        template = self.template(backend, service)
        target = make_url(url).database
        if backend == "sqlite":
            shutil.copyfile(template, str(target))
            return url
        pg_admin(f'CREATE DATABASE "{target}" TEMPLATE "{template}"')
        return url

    def drop(self) -> None:
        pg_admin(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                   for (backend, _), name in self.made.items() if backend != "sqlite"))


@pytest.fixture(scope="session")
def schema_templates(tmp_path_factory: Any) -> Iterator[SchemaTemplates]:
    templates = SchemaTemplates(tmp_path_factory.mktemp("schema-templates"))
    yield templates
    templates.drop()


@pytest.fixture
def migrate(backend: str, database_urls: dict[str, str],
            schema_templates: SchemaTemplates) -> Any:
    """``migrate(service)`` → this test's database URL of that service, migrated to head."""

    def make(service: str) -> str:
        return schema_templates.copy(backend, service, database_urls[service])

    return make


@pytest.fixture
def migrated(migrate: Any, database_urls: dict[str, str], backend: str,
             schema_templates: SchemaTemplates) -> dict[str, str]:
    """Every service's database of this test, migrated (the templates made one by one — alembic
    is not safe in concurrent green threads — then copied side by side)."""
    import eventlet
    for service in database_urls:
        schema_templates.template(backend, service)
    pool = eventlet.GreenPool(len(database_urls))
    list(pool.imap(migrate, list(database_urls)))
    return database_urls


def pytest_report_header(config: Any) -> list[str]:
    return [f"hotline: RabbitMQ {AMQP_BASE.split('@')[-1]}, PostgreSQL "
            f"{'available' if PG_AVAILABLE else 'NOT available'}, "
            f"chromium {'found' if shutil.which('chromium') else 'absent'}"]
