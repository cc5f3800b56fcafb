"""Storage for every service: engines, the unit of work, and the nameko dependency provider.

One database per service (ARCHITECTURE.md "Storage"): SQLite by default (a file per service
under ``DATA_DIR``, WAL, busy timeout), PostgreSQL by URL through pg8000, a pure-Python driver
whose sockets eventlet's monkey patching makes cooperative (psycopg2 would block the hub).

Each worker gets a :class:`UnitOfWork`: one transaction, rolled back unless the entrypoint
commits it. The unit of work is also where a service records the events its change implies
(the transactional outbox, :mod:`shared.outbox`) and claims the events it consumes (the inbox),
so state, outgoing events and the record of handled events commit together or not at all.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import eventlet.semaphore
from nameko.extensions import DependencyProvider
from sqlalchemy import MetaData, bindparam, create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from shared.config import database_url
from shared.errors import Conflict, Unavailable
from shared.events import Event, make_envelope
from shared.outbox import OutboxRelay, inbox_table, outbox_table, sequence_table
from shared.types import UtcDateTime

log = logging.getLogger(__name__)


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "sqlite"


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """Create an engine with the settings this project relies on.

    SQLite: WAL so readers never block the writer, a 5 s busy timeout for other processes,
    and ``BEGIN IMMEDIATE`` so a transaction takes the write lock up front instead of failing
    on a read→write upgrade. PostgreSQL: pre-ping so a restarted server is noticed.
    """
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        if sa_url.database and sa_url.database != ":memory:":
            Path(sa_url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 5, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    pg8000 = sa_url.get_driver_name() == "pg8000"
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                           pool_recycle=1800,
                           connect_args={"timeout": CONNECT_TIMEOUT} if pg8000 else {})
    if pg8000:
        @event.listens_for(engine, "connect")
        def _pg8000_setup(dbapi_conn: Any, _record: Any) -> None:
            _unbound_reads(dbapi_conn)
            dbapi_conn.register_in_adapter(_TIMESTAMPTZ_OID, _timestamptz_in)

    return engine


CONNECT_TIMEOUT = 5.0


def _unbound_reads(dbapi_conn: Any) -> None:
    """Keep pg8000's ``timeout`` for connecting only (:data:`CONNECT_TIMEOUT`).

    pg8000 leaves it on the socket for every later read, so a report query running longer
    than it failed half-way (the 1,000,000-order benchmark died that way). A server that is
    down is still noticed within the connect timeout; one that dies mid-query by TCP keepalive
    (pg8000 turns it on), and a caller waiting on RPC by its own RPC timeout. pg8000 offers no
    public setter, hence its socket attribute; tests/integration/test_database_engine.py
    catches a pg8000 that changes it.
    """
    sock = getattr(dbapi_conn, "_usock", None)
    if sock is not None:
        sock.settimeout(None)


_TIMESTAMPTZ_OID = 1184


def _timestamptz_in(data: str) -> Any:
    """pg8000 parses every ``timestamptz`` with ``strptime`` (≈ 6 µs); PostgreSQL's ISO output
    is what ``datetime.fromisoformat`` reads in ≈ 0.1 µs. Anything else (infinity, years past
    9999) goes to pg8000's own parser, unchanged."""
    try:
        return datetime.fromisoformat(data)
    except ValueError:
        from pg8000.converters import timestamptz_in
        return timestamptz_in(data)


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named by ``url`` if it does not exist (SQLite: no-op)."""
    sa_url = make_url(url)
    if sa_url.get_backend_name() != "postgresql":
        return
    admin = create_engine(sa_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                  {"n": sa_url.database}).scalar()
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{sa_url.database}"')
    finally:
        admin.dispose()


def add_messaging_tables(metadata: MetaData) -> None:
    """Attach the outbox, inbox and per-order sequence tables to a service's metadata."""
    outbox_table(metadata)
    inbox_table(metadata)
    sequence_table(metadata)


# Hand-written SQL, the same on SQLite (≥ 3.35) and PostgreSQL: SQLAlchemy cannot cache the
# compiled form of its dialect-specific ON CONFLICT constructs, and these run for every event.
_CLAIM = text(
    "INSERT INTO inbox (consumer, event_id, received_at) VALUES (:consumer, :event_id, :at) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
).bindparams(bindparam("at", type_=UtcDateTime()))
_NEXT_SEQUENCE = text(
    'INSERT INTO ticket_sequence (ticket_no, "last") VALUES (:ticket_no, 1) '
    'ON CONFLICT (ticket_no) DO UPDATE SET "last" = ticket_sequence."last" + 1 RETURNING "last"')

# The rows as one JSON document, one short statement with one parameter instead of thousands of
# bound values; each order's sequence reserved in one upsert (RETURNING the new last number).
_SEQUENCES = {
    "sqlite": text(
        'INSERT INTO ticket_sequence (ticket_no, "last") SELECT json_extract(value, \'$[0]\'), '
        "json_extract(value, '$[1]') FROM json_each(:rows) WHERE true "
        'ON CONFLICT (ticket_no) DO UPDATE SET "last" = ticket_sequence."last" + excluded."last" '
        'RETURNING ticket_no, "last"'),
    "postgresql": text(
        'INSERT INTO ticket_sequence (ticket_no, "last") SELECT r->>0, CAST(r->>1 AS INTEGER) '
        "FROM json_array_elements(CAST(:rows AS JSON)) AS x (r) "
        'ON CONFLICT (ticket_no) DO UPDATE SET "last" = ticket_sequence."last" + excluded."last" '
        'RETURNING ticket_no, "last"'),
}
# Outbox rows the same way (pg8000's executemany would be one round trip per row); their ids
# follow the order given, which is the relay's publishing order.
_OUTBOX = {
    "sqlite": text(
        "INSERT INTO outbox (event_id, type, version, ticket_no, payload, created_at, attempts) "
        "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), :version, "
        "json_extract(value, '$[2]'), json_extract(value, '$[3]'), :at, 0 "
        "FROM json_each(:rows) ORDER BY key"
    ).bindparams(bindparam("at", type_=UtcDateTime())),
    "postgresql": text(
        "INSERT INTO outbox (event_id, type, version, ticket_no, payload, created_at, attempts) "
        "SELECT r->>0, r->>1, :version, r->>2, r->3, :at, 0 "
        "FROM json_array_elements(CAST(:rows AS JSON)) WITH ORDINALITY AS x (r, ord) ORDER BY ord"
    ).bindparams(bindparam("at", type_=UtcDateTime())),
}

class UnitOfWork:
    """One worker's transaction, plus the outbox and inbox that ride in it.

    ``session`` opens lazily. On SQLite a per-process green lock is held from the first use of
    the session until commit or rollback: eventlet runs every worker on one OS thread, so a
    second writer that waited in SQLite's busy handler would block the hub the first writer
    needs to finish. Entrypoints therefore never do RPC or other network I/O while the session
    is open.
    """

    def __init__(self, db: Database, consumer: str | None = None,
                 trace_id: str | None = None):
        self._db = db
        self._session: Session | None = None
        self._emitted = 0
        self.consumer = consumer
        self.trace_id = trace_id

    @property
    def tables(self) -> Any:
        return self._db.tables

    @property
    def session(self) -> Session:
        if self._session is None:
            self._db.lock.acquire()
            try:
                self._session = self._db.sessionmaker()
            except Exception:
                self._db.lock.release()
                raise
        return self._session

    def snapshot(self) -> Session:
        """The session, for a read of several tables that must agree with each other.

        PostgreSQL's READ COMMITTED takes a new snapshot for every statement, so a commit
        landing between two reads shows half of it (an order's status before its clocks);
        this starts the transaction as REPEATABLE READ instead. SQLite already reads one
        snapshot per transaction. Call it first, before anything else uses the session.
        """
        fresh = self._session is None
        session = self.session
        if fresh and not is_sqlite(self._db.engine):
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        return session

    def emit(self, event_type: str, data: dict[str, Any], *, ticket_no: str | None = None,
             version: int = 1) -> dict[str, Any]:
        """Record an event in the outbox, in this transaction; the relay publishes it after commit."""
        sequence = None
        tables = self._db.tables
        if ticket_no:
            sequence = self._next_sequence(ticket_no)
        envelope = make_envelope(event_type, data, producer=self._db.service_name,
                                 ticket_no=ticket_no, sequence=sequence,
                                 trace_id=self.trace_id, version=version)
        self.session.execute(tables["outbox"].insert().values(
            event_id=envelope["event_id"], type=event_type, version=version,
            ticket_no=ticket_no, payload=envelope, created_at=_now()))
        self._emitted += 1
        return envelope

    def _next_sequence(self, ticket_no: str) -> int:
        return int(self.session.execute(_NEXT_SEQUENCE, {"ticket_no": ticket_no}).scalar_one())

    def emit_many(self, events: list[tuple[str, dict[str, Any], str | None]],
                  version: int = 1) -> list[dict[str, Any]]:
        """:meth:`emit` for many events at once, ``(type, data, ticket_no)`` each, in order.

        The same envelopes, sequences and outbox rows as one :meth:`emit` per event, in a few
        statements instead of two per event: one upsert of every order's sequence (each order's
        events get the next numbers in the order given) and one bulk outbox insert. For bulk
        work such as the deadline sweep.
        """
        counts: dict[str, int] = {}
        for _, _, ticket_no in events:
            if ticket_no:
                counts[ticket_no] = counts.get(ticket_no, 0) + 1
        first: dict[str, int] = {}
        dialect = self.session.get_bind().dialect.name
        if counts:
            for ticket_no, last in self.session.execute(
                    _SEQUENCES[dialect], {"rows": json.dumps(list(counts.items()))}):
                first[ticket_no] = int(last) - counts[ticket_no] + 1
        envelopes, rows, now = [], [], _now()
        for event_type, data, ticket_no in events:
            sequence = None
            if ticket_no:
                sequence, first[ticket_no] = first[ticket_no], first[ticket_no] + 1
            envelope = make_envelope(event_type, data, producer=self._db.service_name,
                                     ticket_no=ticket_no, sequence=sequence,
                                     trace_id=self.trace_id, version=version)
            envelopes.append(envelope)
            rows.append((envelope["event_id"], event_type, ticket_no, envelope))
        if rows:
            self.session.execute(_OUTBOX[dialect], {"version": version, "at": now,
                                                    "rows": json.dumps(rows)})
        self._emitted += len(rows)
        return envelopes

    def claim(self, event: Event) -> bool:
        """Record that this consumer handled ``event``; False if it already did (skip it).

        The inbox row commits with the handler's effect, so a redelivered event finds it and
        has no second effect (reliability rule 2).
        """
        if not self.consumer:
            raise RuntimeError("claim() is only for event handlers")
        inserted = self.session.execute(_CLAIM, {
            "consumer": self.consumer, "event_id": event.event_id, "at": _now()}).first()
        if inserted is None:
            log.info("duplicate event skipped", extra={"event_id": event.event_id,
                                                       "consumer": self.consumer})
            return False
        return True

    def commit(self) -> None:
        if self._session is None:
            return
        try:
            self._session.commit()
        finally:
            self._release()
        if self._emitted:
            self._emitted = 0
            self._db.relay_wake()

    def rollback(self) -> None:
        if self._session is None:
            return
        try:
            self._session.rollback()
        finally:
            self._release()
        self._emitted = 0

    def _release(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            try:
                session.close()
            finally:
                self._db.lock.release()


_SQLITE_LOCKS: dict[str, Any] = {}


def _sqlite_lock(url: str) -> Any:
    """One green lock per SQLite file per process, shared by every Database on that file
    (two containers of one service in a test process, a CLI beside a service)."""
    lock = _SQLITE_LOCKS.get(url)
    if lock is None:
        lock = _SQLITE_LOCKS[url] = eventlet.semaphore.Semaphore(1)
    return lock


class _NoLock:
    def acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass


class Database(DependencyProvider):
    """Injects a :class:`UnitOfWork` per worker and runs the service's outbox relay.

    Reads the service's database URL from ``DATABASES.<service>`` in ``setup()``.
    """

    def __init__(self, metadata: MetaData, *, relay: bool = True):
        self.metadata = metadata
        self.with_relay = relay
        self.uows: dict[Any, UnitOfWork] = {}

    # -- nameko lifecycle -------------------------------------------------------------
    def setup(self) -> None:
        config = self.container.config
        self.service_name = self.container.service_name
        self.engine = make_engine(database_url(config, self.service_name))
        self._init_common()
        if self.with_relay:
            self.relay: OutboxRelay | None = OutboxRelay(
                engine=self.engine, lock=self.lock, table=self.tables["outbox"],
                amqp_uri=config["AMQP_URI"],
                poll_seconds=float(config.get("OUTBOX_POLL_SECONDS", 1.0)))
        else:
            self.relay = None

    def _init_common(self) -> None:
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.lock = _sqlite_lock(str(self.engine.url)) if is_sqlite(self.engine) else _NoLock()
        self.tables = self.metadata.tables

    def start(self) -> None:
        if self.relay:
            self.relay.start()

    def stop(self) -> None:
        if self.relay:
            self.relay.stop()
        self.engine.dispose()

    def kill(self) -> None:
        if self.relay:
            self.relay.kill()
        self.engine.dispose()

    def get_dependency(self, worker_ctx: Any) -> UnitOfWork:
        entrypoint = worker_ctx.entrypoint
        consumer = f"{self.service_name}.{entrypoint.method_name}"
        uow = UnitOfWork(self, consumer=consumer, trace_id=worker_ctx.data.get("trace_id"))
        self.uows[worker_ctx] = uow
        return uow

    def worker_teardown(self, worker_ctx: Any) -> None:
        uow = self.uows.pop(worker_ctx, None)
        if uow is not None:
            uow.rollback()

    def relay_wake(self) -> None:
        if self.relay:
            self.relay.wake()

    # -- outside nameko (CLI, tests) -------------------------------------------------
    @classmethod
    def standalone(cls, metadata: MetaData, url: str, service_name: str) -> Database:
        """A Database usable without a container (CLI tools, tests); no relay."""
        db = cls(metadata, relay=False)
        db.service_name = service_name
        db.engine = make_engine(url)
        db._init_common()
        db.relay = None
        return db

    def unit_of_work(self, consumer: str | None = None) -> UnitOfWork:
        return UnitOfWork(self, consumer=consumer)


def translate_db_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator for entrypoints: a database that is down becomes :class:`Unavailable` (→ 503);
    a row changed by a concurrent transaction (optimistic lock) becomes :class:`Conflict` (→ 409)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StaleDataError:
            raise Conflict("数据已被他人修改，请刷新后重试 changed concurrently by another action; "
                           "reload and retry", {"action": fn.__name__, "state": "changed"}) from None
        except DBAPIError as exc:
            if exc.connection_invalidated or _is_connection_error(exc):
                raise Unavailable("数据库不可用 database unavailable",
                                  {"reason": str(exc.orig)[:200]}) from None
            raise

    return wrapper


def _is_connection_error(exc: DBAPIError) -> bool:
    text_ = str(exc.orig).lower()
    return any(s in text_ for s in ("connection refused", "could not connect", "unable to open",
                                    "network", "timed out", "database is locked"))


def _now():
    from shared.events import utcnow
    return utcnow()
