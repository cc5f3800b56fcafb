"""``UnitOfWork.snapshot``: a read of several tables sees one committed state, on SQLite and
PostgreSQL (whose default READ COMMITTED would show a commit landing between two reads)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from services.supervision.models import TicketState
from shared.database import Database
from shared.migrations import metadata_of


def test_a_commit_between_two_reads_is_not_seen(backend: str, migrated: dict[str, str]) -> None:
    db = Database.standalone(metadata_of("supervision"), migrated["supervision"], "supervision")
    try:
        reader = db.unit_of_work()
        session = reader.snapshot()
        before = session.scalar(select(func.count()).select_from(TicketState))
        reader_lock_free = backend != "sqlite"  # SQLite: one writer per process, the reader's
        if reader_lock_free:  # lock would block the writer below; its reads are one snapshot
            with db.engine.begin() as conn:
                conn.execute(TicketState.__table__.insert().values(
                    ticket_no="20261201000001", status="registered",
                    updated_at=datetime.now(UTC), version=1))
            again = session.scalar(select(func.count()).select_from(TicketState))
            assert again == before == 0  # the reader still sees its snapshot
        reader.rollback()
        fresh = db.unit_of_work()
        seen = fresh.snapshot().scalar(select(func.count()).select_from(TicketState))
        fresh.rollback()
        assert seen == (1 if reader_lock_free else 0)
    finally:
        db.engine.dispose()


def test_snapshot_is_the_same_session_for_the_rest_of_the_unit(migrated: dict[str, Any],
                                                                backend: str) -> None:
    db = Database.standalone(metadata_of("supervision"), migrated["supervision"], "supervision")
    try:
        uow = db.unit_of_work()
        assert uow.snapshot() is uow.session
        uow.rollback()
    finally:
        db.engine.dispose()
