"""Every service's migrations build exactly the schema its models describe, on both backends,
and can be rolled back."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from shared.database import make_engine
from shared.migrations import alembic_config, metadata_of, upgrade

SERVICES = ("intake", "dispatch", "supervision", "knowledge", "reporting", "gateway")


@pytest.mark.parametrize("service", SERVICES)
def test_migrated_schema_matches_the_models(service: str, database_urls: dict[str, str],
                                            backend: str) -> None:
    url = database_urls[service]
    upgrade(service, url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, metadata_of(service))
        assert diff == [], diff
        command.downgrade(alembic_config(service, url), "base")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def test_messaging_tables_exist_in_every_service(database_urls: dict[str, Any]) -> None:
    for service in SERVICES:
        upgrade(service, database_urls[service])
        engine = make_engine(database_urls[service])
        with engine.connect() as conn:
            assert {"outbox", "inbox", "ticket_sequence"} <= set(inspect(conn).get_table_names())
        engine.dispose()
