"""The engine settings the services rely on, against the real PostgreSQL (no mocks)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import shared.database as database
from tests.conftest import PG_AVAILABLE, PG_BASE, REQUIRE_PG


@pytest.fixture
def pg() -> None:
    if not PG_AVAILABLE:
        if REQUIRE_PG:
            pytest.fail("PostgreSQL is required (HOTLINE_REQUIRE_PG=1) but not reachable")
        pytest.skip("PostgreSQL not reachable")


def test_a_statement_may_run_longer_than_the_connect_timeout(pg: None, monkeypatch: Any) -> None:
    # pg8000's own timeout stayed on the socket and cut every statement longer than it
    # (a 1,000,000-order report died that way); only connecting is bounded now.
    monkeypatch.setattr(database, "CONNECT_TIMEOUT", 0.2)
    engine = database.make_engine(f"{PG_BASE}/postgres")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 42 FROM pg_sleep(0.6)")).scalar() == 42
    finally:
        engine.dispose()


def test_an_unreachable_server_fails_fast_as_a_database_error(monkeypatch: Any) -> None:
    monkeypatch.setattr(database, "CONNECT_TIMEOUT", 1.0)
    engine = database.make_engine("postgresql+pg8000://postgres@127.0.0.1:1/nowhere")
    started = time.monotonic()
    try:
        with pytest.raises(DBAPIError) as caught, engine.connect():
            pass
    finally:
        engine.dispose()
    assert "127.0.0.1" in str(caught.value) and time.monotonic() - started < 5
