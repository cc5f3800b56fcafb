"""The transactional outbox and its relay; the inbox table (reliability rules 1 and 2).

A service writes its state change and the events it implies in one transaction (the
``outbox`` table). The relay publishes pending rows in order to the ``hotline.events`` topic
exchange, with publisher confirms and ``mandatory`` (an event no queue is bound for is an
error, not a silent drop), then marks them published. A crash between commit and publish
loses nothing: the row is still pending when the service comes back. A crash between publish
and marking publishes the event again; consumers are idempotent (the ``inbox`` table).

With several instances of a service on PostgreSQL, each relay claims rows with
``FOR UPDATE SKIP LOCKED``, so a row is normally published by one instance.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import eventlet
from eventlet.event import Event as GreenEvent
from kombu import Exchange
from nameko.amqp.publish import Publisher, UndeliverableMessage
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
    update,
)
from sqlalchemy.engine import Engine

from shared.types import UtcDateTime

log = logging.getLogger(__name__)

EVENTS_EXCHANGE = Exchange("hotline.events", type="topic", durable=True)


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox", metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
               autoincrement=True),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("type", String(80), nullable=False),
        Column("version", Integer, nullable=False),
        Column("ticket_no", String(32), index=True),
        Column("payload", JSON, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("published_at", UtcDateTime(), index=True),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text),
    )


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox", metadata,
        Column("consumer", String(120), primary_key=True),
        Column("event_id", String(64), primary_key=True),
        Column("received_at", UtcDateTime(), nullable=False),
    )


def sequence_table(metadata: MetaData) -> Table:
    return Table(
        "ticket_sequence", metadata,
        Column("ticket_no", String(32), primary_key=True),
        Column("last", Integer, nullable=False),
    )


class OutboxRelay:
    """Publishes pending outbox rows; woken after each commit that emitted, and polls too."""

    batch_size = 200

    def __init__(self, *, engine: Engine, lock: Any, table: Table, amqp_uri: str,
                 poll_seconds: float = 1.0):
        self.engine = engine
        self.lock = lock
        self.table = table
        self.poll_seconds = poll_seconds
        self.publisher = Publisher(amqp_uri, use_confirms=True, mandatory=True,
                                   serializer="json", declare=[EVENTS_EXCHANGE],
                                   retry=True, retry_policy={"max_retries": 1})
        self._wake = GreenEvent()
        self._running = False
        self._gt: Any = None
        self.backoff = 0.0

    def start(self) -> None:
        self._running = True
        self._gt = eventlet.spawn(self._run)

    def stop(self) -> None:
        self._running = False
        self.wake()
        if self._gt is not None:
            try:
                self._gt.wait()
            except Exception:  # pragma: no cover - stopping anyway
                pass

    def kill(self) -> None:
        self._running = False
        if self._gt is not None:
            self._gt.kill()

    def wake(self) -> None:
        if not self._wake.ready():
            self._wake.send(True)

    def _run(self) -> None:
        while self._running:
            try:
                sent = self.publish_pending()
            except Exception:
                log.exception("outbox relay failed; retrying")
                sent = 0
                self.backoff = min(max(self.backoff * 2, 0.5), 10.0)
            if sent >= self.batch_size:
                eventlet.sleep(0)  # more to do: yield, then go on
                continue
            with eventlet.Timeout(self.backoff or self.poll_seconds, False):
                self._wake.wait()
            self._wake = GreenEvent()

    def publish_pending(self) -> int:
        """Publish one batch of pending rows in order; returns how many were published."""
        if self.engine.dialect.name == "postgresql":
            return self._publish_locked()
        rows = self._pending()
        published, failure = self._publish_rows(rows)
        self._mark(published, failure)
        return len(published)

    def _pending(self) -> list[Any]:
        # SQLite transactions take the write lock (BEGIN IMMEDIATE), so even this read holds
        # the process's green lock: waiting in SQLite's busy handler would block the hub.
        self.lock.acquire()
        try:
            with self.engine.connect() as conn:
                return self._select_pending(conn)
        finally:
            self.lock.release()

    def _select_pending(self, conn: Any, lock_rows: bool = False) -> list[Any]:
        t = self.table
        stmt = (select(t.c.id, t.c.event_id, t.c.type, t.c.payload)
                .where(t.c.published_at.is_(None)).order_by(t.c.id).limit(self.batch_size))
        if lock_rows:
            stmt = stmt.with_for_update(skip_locked=True)
        return list(conn.execute(stmt))

    def _publish_locked(self) -> int:
        with self.engine.begin() as conn:
            rows = self._select_pending(conn, lock_rows=True)
            published, failure = self._publish_rows(rows)
            self._apply_marks(conn, published, failure)
        return len(published)

    def _publish_rows(self, rows: list[Any]) -> tuple[list[int], tuple[int, str] | None]:
        published: list[int] = []
        for row in rows:
            payload = row.payload
            try:
                self.publisher.publish(
                    payload, exchange=EVENTS_EXCHANGE, routing_key=row.type,
                    message_id=row.event_id,
                    headers={"nameko.trace_id": payload.get("trace_id") or ""})
            except UndeliverableMessage:
                return published, (row.id, f"no queue is bound for {row.type}")
            except Exception as exc:  # broker down: keep the row pending, in order
                return published, (row.id, f"{type(exc).__name__}: {exc}"[:500])
            published.append(row.id)
            if len(published) % 50 == 0:
                eventlet.sleep(0)  # let other greenthreads breathe (nameko#477)
        return published, None

    def _mark(self, published: list[int], failure: tuple[int, str] | None) -> None:
        if not published and failure is None:
            return
        self.lock.acquire()
        try:
            with self.engine.begin() as conn:
                self._apply_marks(conn, published, failure)
        finally:
            self.lock.release()

    def _apply_marks(self, conn: Any, published: list[int],
                     failure: tuple[int, str] | None) -> None:
        now = datetime.now(UTC)
        if published:
            conn.execute(update(self.table).where(self.table.c.id.in_(published))
                         .values(published_at=now, attempts=self.table.c.attempts + 1))
            self.backoff = 0.0
        if failure is not None:
            row_id, error = failure
            conn.execute(update(self.table).where(self.table.c.id == row_id)
                         .values(attempts=self.table.c.attempts + 1, last_error=error))
            log.warning("outbox publish failed", extra={"outbox_id": row_id, "error": error})
            self.backoff = min(max(self.backoff * 2, 0.5), 10.0)
