"""Service layer: one service's entrypoints, called through nameko's testing tools.

``worker_factory`` tests: the service's ``db`` dependency is a real unit of work on a migrated
SQLite file; the other dependencies (``log_context``, ``calendar``, ``config``) are nameko's
auto-generated mocks unless a test supplies a real one. No broker: events are checked where the
service records them, in its outbox table. Replaced at this layer's edge: the broker and the
dependency providers the test does not name.

``entrypoint_hook`` tests: the service runs in a real container on a fresh RabbitMQ vhost.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from shared.database import Database
from shared.migrations import metadata_of


@pytest.fixture
def store(tmp_path: Any, schema_templates: Any) -> Any:
    """``store(service)`` → a migrated SQLite Database for that service (no relay)."""
    made: list[Database] = []

    def make(service: str) -> Database:
        url = schema_templates.copy("sqlite", service,
                                    f"sqlite:///{tmp_path / (service + '.db')}")
        db = Database.standalone(metadata_of(service), url, service)
        made.append(db)
        return db

    yield make
    for db in made:
        db.engine.dispose()


def outbox(db: Database) -> list[dict[str, Any]]:
    table = db.tables["outbox"]
    with db.engine.connect() as conn:
        return [row.payload for row in conn.execute(select(table).order_by(table.c.id))]


class Worker:
    """A ``worker_factory`` worker per call, torn down as nameko would: whatever the entrypoint
    did not commit is rolled back (and SQLite's lock released) after the call."""

    def __init__(self, service_cls: type, db: Database, consumer: str | None = None,
                 **dependencies: Any):
        self.service_cls, self.db, self.consumer, self.dependencies = (
            service_cls, db, consumer, dependencies)

    def __getattr__(self, name: str) -> Any:
        from nameko.testing.services import worker_factory

        def call(*args: Any, **kwargs: Any) -> Any:
            uow = self.db.unit_of_work(consumer=self.consumer or f"test.{name}")
            worker = worker_factory(self.service_cls, db=uow, **self.dependencies)
            try:
                return getattr(worker, name)(*args, **kwargs)
            finally:
                uow.rollback()

        return call
