"""The gateway's idempotency records (services/gateway/records.py) on both backends: claim,
replay, reuse for another request, abandon, a claim lost to a concurrent request, purge.

Real: the gateway's migrated database, SQLite and PostgreSQL. No broker is needed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from services.gateway import idempotency, records
from services.gateway.models import IdempotencyRecord
from shared.database import Database
from shared.events import utcnow
from shared.migrations import metadata_of

TTL, LEASE = timedelta(hours=24), timedelta(seconds=120)
FP = idempotency.fingerprint("POST", "/api/v1/assignments/7/reply", "", b'{"reply": "x"}')


@pytest.fixture
def db(database_urls: dict[str, str], migrate: Any) -> Any:
    migrate("gateway")
    made = Database.standalone(metadata_of("gateway"), database_urls["gateway"], "gateway")
    yield made
    made.engine.dispose()


def begin(db: Any, key: str = "k1", fp: str = FP, principal: str = "apikey:0123abcd",
          now: Any = None) -> tuple[str, Any]:
    return records.begin_idempotent(db.unit_of_work(), principal, key, fp, "POST",
                                    "/api/v1/assignments/7/reply", now or utcnow(), TTL, LEASE)


def count(db: Any) -> int:
    with db.sessionmaker() as s:
        return int(s.scalar(select(func.count()).select_from(IdempotencyRecord)))


def test_claim_then_in_flight_then_replay(db: Any) -> None:
    assert begin(db) == (idempotency.RUN, None)
    verdict, stored = begin(db)
    assert verdict == idempotency.IN_FLIGHT and stored.status is None
    response = {"body": {"reply": "已责令退出占道。", "nested": [1, {"a": None}]},
                "headers": {"Location": "/x"}}
    records.finish_idempotent(db.unit_of_work(), "apikey:0123abcd", "k1", 200, response)
    verdict, stored = begin(db)
    assert verdict == idempotency.REPLAY
    assert (stored.status, stored.response) == (200, response)
    other = idempotency.fingerprint("POST", "/api/v1/assignments/7/reply", "", b'{"reply": "y"}')
    assert begin(db, fp=other)[0] == idempotency.MISMATCH
    assert begin(db, principal="dept_chengguan")[0] == idempotency.RUN  # per principal


def test_an_abandoned_claim_runs_again(db: Any) -> None:
    begin(db)
    records.abandon_idempotent(db.unit_of_work(), "apikey:0123abcd", "k1")
    assert count(db) == 0
    assert begin(db)[0] == idempotency.RUN


def test_abandon_never_removes_a_finished_record(db: Any) -> None:
    begin(db)
    records.finish_idempotent(db.unit_of_work(), "apikey:0123abcd", "k1", 201, {"body": {}})
    records.abandon_idempotent(db.unit_of_work(), "apikey:0123abcd", "k1")
    assert begin(db)[0] == idempotency.REPLAY


def test_an_expired_record_is_taken_over(db: Any) -> None:
    begin(db, now=utcnow() - TTL - timedelta(minutes=1))
    records.finish_idempotent(db.unit_of_work(), "apikey:0123abcd", "k1", 200, {"body": {}})
    other = idempotency.fingerprint("POST", "/other", "", b"")
    assert begin(db, fp=other)[0] == idempotency.RUN
    assert begin(db, fp=other)[0] == idempotency.IN_FLIGHT
    assert count(db) == 1


def test_a_claim_lost_to_a_concurrent_request_is_in_flight(db: Any, backend: str,
                                                           monkeypatch: Any) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite transactions begin with the write lock (BEGIN IMMEDIATE): two "
                    "claims cannot interleave there")
    decide = idempotency.decide

    def racing(*args: Any) -> str:  # another gateway claims the key between read and write
        with db.engine.begin() as conn:
            conn.execute(insert(IdempotencyRecord).values(
                principal="apikey:0123abcd", key="k1", fingerprint=FP, method="POST",
                path="/p", status=None, response=None, created_at=utcnow()))
        return decide(*args)

    monkeypatch.setattr(idempotency, "decide", racing)
    assert begin(db) == (idempotency.IN_FLIGHT, None)
    assert count(db) == 1


def test_purge_deletes_only_expired_records(db: Any) -> None:
    now = utcnow()
    begin(db, key="old", now=now - timedelta(hours=30))
    begin(db, key="new", now=now - timedelta(hours=1))
    assert records.purge_idempotency(db.unit_of_work(), idempotency.expired_before(now, TTL)) == 1
    with db.sessionmaker() as s:
        assert list(s.scalars(select(IdempotencyRecord.key))) == ["new"]
