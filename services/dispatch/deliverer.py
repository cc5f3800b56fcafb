"""Webhook delivery of the department feed (推送): one entry at a time per department, in ``seq``
order, signed per :mod:`shared.webhooks`, retried with backoff for the retry window, then
dead-lettered; every attempt recorded.

Running more than one dispatch instance: each department's deliveries are made by one
instance at a time, the holder of that department's lease — a row per department
(``feed_head``) claimed with a short expiry by one conditional UPDATE, renewed while it works,
released when done. Why a lease row rather than ``SELECT … FOR UPDATE SKIP LOCKED``: the
delivery must not hold a transaction (or, on SQLite, the process's write lock) open across an
HTTP call of up to 30 s, and SQLite has no row locks at all; a lease is the same on both
databases, survives the short transactions around each POST, and a crashed holder's lease just
expires (``DELIVERY_LEASE_SECONDS``, longer than any timeout). Inside one process a set of
departments being delivered keeps the background loop and a ``deliver_due`` RPC apart. Order
is kept because only the lease holder sends, and it sends a department's head entry before
the next; other departments are delivered concurrently (a green pool), so one that is down
blocks only itself.

The clock is injectable: :meth:`DeliveryRunner.deliver_due` takes ``now`` (the schedule's
instant); leases always use the wall clock (they are about live processes, not the schedule).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import eventlet
import requests
from eventlet.event import Event as GreenEvent
from nameko.extensions import DependencyProvider
from sqlalchemy import and_, func, or_, select, update

from services.dispatch import endpoints as rules
from services.dispatch.feed import body_of
from services.dispatch.models import Delivery, DeliveryAttempt, Endpoint, FeedEntry, FeedHead
from shared.database import Database
from shared.events import utcnow
from shared.webhooks import encode_body, signed_headers

log = logging.getLogger(__name__)

BATCH = 50  # pending deliveries of one department read per transaction
# Successful attempts are recorded together, up to this many or this long after the first of
# them (one transaction instead of one per delivery: the throughput target). A crash in
# between sends those again on restart — at least once; a department system drops a ``seq``
# it has seen (shared/webhooks.py). A failure is recorded at once, with those before it.
RECORD_BATCH = 25
RECORD_DELAY_SECONDS = 0.05


def _wall() -> datetime:
    return datetime.now(UTC)


class DeliveryRunner:
    """The delivery passes, over a :class:`shared.database.Database` (no nameko here)."""

    def __init__(self, db: Database, *, retry_hours: float = rules.DEFAULT_RETRY_HOURS,
                 lease_seconds: float = 60.0, concurrency: int = 16, linger: bool = False):
        self.db = db
        self.retry_hours = retry_hours
        self.lease_seconds = lease_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.pool = eventlet.GreenPool(concurrency)
        # linger: keep a department's lease between passes while deliveries keep coming (the
        # background loop releases it once idle) instead of two more writes per pass
        self.linger = linger
        self._held: dict[str, float] = {}  # department → until when our lease is surely ours
        self._used: dict[str, float] = {}  # department → when we last delivered (lingering)
        self._busy: set[str] = set()
        self._http: dict[int, requests.Session] = {}

    # -- passes ----------------------------------------------------------------------------
    def deliver_due(self, now: datetime | None = None) -> dict[str, int]:
        """Deliver everything due as of ``now`` (default: the current time, read afresh for
        each attempt), department by department in parallel; returns the counts."""
        totals = {"delivered": 0, "failed": 0, "dead": 0, "departments": 0}
        seen: set[str] = set()
        while True:
            due = [d for d in self.due_departments(now or utcnow()) if d not in seen]
            if not due:
                return totals
            threads = [self.pool.spawn(self.deliver_department, d, now) for d in due]
            more = False
            for code, gt in zip(due, threads, strict=True):
                counts = gt.wait()
                if counts is None:  # held elsewhere: not ours to deliver in this pass
                    seen.add(code)
                    continue
                totals["departments"] += 1
                for k in ("delivered", "failed", "dead"):
                    totals[k] += counts[k]
                if counts["failed"] or not counts["more"]:
                    seen.add(code)
                else:
                    more = True
            if not more and now is None:
                # the background loop: entries committed meanwhile woke it (it runs again at
                # once), so no second look is needed; a pass as of a fixed ``now`` looks again
                return totals

    def due_departments(self, now: datetime) -> list[str]:
        """Departments whose first pending delivery (lowest seq) is due by ``now``."""
        uow = self.db.unit_of_work()
        try:
            heads = (select(Delivery.department_code, func.min(Delivery.seq).label("seq"))
                     .where(Delivery.state == "pending").group_by(Delivery.department_code)
                     .subquery())
            rows = uow.session.scalars(
                select(Delivery.department_code)
                .join(heads, and_(Delivery.department_code == heads.c.department_code,
                                  Delivery.seq == heads.c.seq))
                .where(Delivery.state == "pending", Delivery.next_attempt_at <= now)
                .order_by(Delivery.department_code))
            return list(rows)
        finally:
            uow.rollback()

    def deliver_department(self, code: str, now: datetime | None) -> dict[str, Any] | None:
        """Deliver ``code``'s due entries in seq order, stopping at the first failure (the
        rest wait behind it); None when another instance (or green thread) holds it."""
        if code in self._busy:
            return None
        self._busy.add(code)
        try:
            held = self._held.get(code, 0.0) > time.monotonic()
            if not held and not self._claim(code):
                return None
            try:
                return self._deliver_claimed(code, now)
            finally:
                if self.linger:
                    self._used[code] = time.monotonic()
                else:
                    self._release(code)
        finally:
            self._busy.discard(code)

    def release_idle(self, idle_seconds: float = 0.0) -> None:
        """Release the leases kept (``linger``) by departments not delivered to for
        ``idle_seconds``, so another instance may take them over."""
        cutoff = time.monotonic() - idle_seconds
        for code, used in list(self._used.items()):
            if used <= cutoff and code not in self._busy:
                del self._used[code]
                self._release(code)

    def _deliver_claimed(self, code: str, fixed_now: datetime | None) -> dict[str, Any]:
        counts: dict[str, Any] = {"delivered": 0, "failed": 0, "dead": 0, "more": False}
        renewed = time.monotonic()
        results: list[tuple[dict[str, Any], dict[str, Any]]] = []
        first_unrecorded = 0.0

        recording: list[Any] = []  # the green thread recording the previous successes

        def settle() -> None:
            """Wait for the recording in flight (the next batch is read after it)."""
            while recording:
                for outcome in recording.pop().wait():
                    counts[outcome] += 1

        def flush(wait: bool = True) -> None:
            """Record the results so far; successes alone are recorded while the next POSTs
            go on (``wait=False``: the line does not stall on the database), one recording in
            flight at a time, in order."""
            settle()
            if results:
                batch_results = list(results)
                results.clear()
                recording.append(eventlet.spawn(self._record, batch_results))
            if wait:
                settle()

        try:
            for _ in range(20):  # at most 20 batches per claim; the pass comes back for more
                batch = self._next_batch(code, fixed_now or utcnow())
                if not batch:
                    return counts
                last_batch = len(batch) < BATCH
                for item in batch:
                    now = fixed_now or utcnow()
                    if item["next_attempt_at"] > now:
                        return counts
                    result = self._attempt(item, now)
                    if not results:
                        first_unrecorded = time.monotonic()
                    results.append((item, result))
                    if not result["ok"]:
                        flush()
                        if counts["failed"]:
                            return counts  # head-of-line: the rest wait behind it
                        continue  # dead-lettered: the next entry proceeds
                    if len(results) >= RECORD_BATCH or \
                            time.monotonic() - first_unrecorded > RECORD_DELAY_SECONDS:
                        flush(wait=False)
                    if time.monotonic() - renewed > self.lease_seconds / 3 or \
                            self._held.get(code, 0.0) <= time.monotonic():
                        flush()
                        if not self._claim(code):
                            return counts  # lost the lease (a long stall): the holder goes on
                        renewed = time.monotonic()
                flush()  # the next batch is read after this one is recorded
                if last_batch:
                    return counts
            counts["more"] = True
            return counts
        finally:
            flush()

    # -- one department's line -------------------------------------------------------------
    def _next_batch(self, code: str, now: datetime) -> list[dict[str, Any]]:
        uow = self.db.unit_of_work()
        try:
            session = uow.session
            rows = list(session.execute(
                select(Delivery, FeedEntry, Endpoint)
                .join(FeedEntry, FeedEntry.id == Delivery.feed_entry_id)
                .join(Endpoint, Endpoint.id == Delivery.endpoint_id)
                .where(Delivery.department_code == code, Delivery.state == "pending")
                .order_by(Delivery.seq).limit(BATCH)))
            items = []
            for d, entry, ep in rows:
                if not ep.active or ep.kind != "webhook":
                    ep = self._current_webhook(session, code, d.category)
                items.append({
                    "id": d.id, "seq": d.seq, "department_code": code,
                    "ticket_no": entry.ticket_no, "type": entry.type,
                    "created_at": d.created_at, "window_start": d.window_start,
                    "next_attempt_at": d.next_attempt_at, "attempts": d.attempts,
                    "body": encode_body(body_of(entry, d.id)),
                    "endpoint": None if ep is None else {
                        "id": ep.id, "url": ep.url, "secret": ep.secret,
                        "timeout": ep.timeout_seconds}})
            return items
        finally:
            uow.rollback()

    def _current_webhook(self, session: Any, code: str, category: str | None) -> Endpoint | None:
        """The department's endpoint was deactivated after the entry: its replacement, if it
        is a webhook too."""
        active = list(session.scalars(select(Endpoint).where(
            Endpoint.department_code == code, Endpoint.active.is_(True))))
        choice = rules.resolve_endpoint(
            [rules.EndpointChoice(e.id, e.department_code, e.category, e.kind) for e in active],
            code, category)
        if choice is None or choice.kind != "webhook":
            return None
        return next(e for e in active if e.id == choice.id)

    def _attempt(self, item: dict[str, Any], now: datetime) -> dict[str, Any]:
        """One POST (no database session open meanwhile); what happened, to record."""
        ep = item["endpoint"]
        status: int | None = None
        response = error = None
        started = time.monotonic()
        if ep is None:
            error = "部门已无 webhook 端点 the department no longer has a webhook endpoint"
        else:
            headers = signed_headers(ep["secret"], item["body"], event_type=item["type"],
                                     delivery_id=item["id"])
            try:
                r = self._session(ep["id"]).post(ep["url"], data=item["body"], headers=headers,
                                                 timeout=ep["timeout"], allow_redirects=False)
                status = r.status_code
                response = rules.excerpt(r.content[:4 * rules.EXCERPT_CHARS].decode(
                    "utf-8", errors="replace"))
            except requests.RequestException as exc:
                error = rules.excerpt(f"{type(exc).__name__}: {exc}")
        latency = int((time.monotonic() - started) * 1000)
        return {"at": now, "status": status, "latency": latency, "response": response,
                "error": error, "final": ep is None, "ok": rules.is_success(status)}

    def _record(self, results: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[str]:
        """Record attempts, their deliveries' new state and the events in one transaction
        with a few set-based statements (one read, one insert, one bulk update by primary
        key, one outbox insert); the outcome of each."""
        uow = self.db.unit_of_work()
        try:
            session = uow.session
            t = Delivery.__table__
            current = {row.id: row for row in session.execute(
                select(t.c.id, t.c.state, t.c.attempts, t.c.window_start, t.c.created_at,
                       t.c.endpoint_id, t.c.seq, t.c.department_code)
                .where(t.c.id.in_([item["id"] for item, _ in results])))}
            attempts, changes, events, outcomes = [], [], [], []
            for item, r in results:
                row = current.get(item["id"])
                if row is None or row.state != "pending":
                    outcomes.append("delivered")  # settled meanwhile (an operator): no effect
                    continue
                outcome, change, event = self._outcome(item, r, row)
                outcomes.append(outcome)
                attempts.append({"delivery_id": row.id, "at": r["at"],
                                 "status_code": r["status"], "latency_ms": r["latency"],
                                 "response": r["response"], "error": r["error"]})
                changes.append(change)
                if event is not None:
                    events.append(event)
            if attempts:
                session.execute(DeliveryAttempt.__table__.insert(), attempts)
                session.execute(update(Delivery), changes)
            if events:
                uow.emit_many(events)
            uow.commit()
            return outcomes
        finally:
            uow.rollback()

    def _outcome(self, item: dict[str, Any], r: dict[str, Any],
                 row: Any) -> tuple[str, dict[str, Any], tuple[str, dict[str, Any], str] | None]:
        """What one attempt makes of its delivery: the outcome, the row's changes, the event."""
        now, status = r["at"], r["status"]
        count = row.attempts + 1
        change: dict[str, Any] = {"id": row.id, "attempts": count, "last_status": status}
        common = {"delivery_id": row.id, "department_code": row.department_code,
                  "feed_seq": row.seq, "feed_type": item["type"],
                  "ticket_no": item["ticket_no"], "attempts": count,
                  "created_at": row.created_at, "at": now}
        if r["ok"]:
            endpoint_id = item["endpoint"]["id"] if item["endpoint"] else row.endpoint_id
            change.update(state="delivered", delivered_at=now, last_error=None,
                          endpoint_id=endpoint_id)
            return "delivered", change, ("delivery.delivered", {
                **common, "endpoint_id": endpoint_id, "status_code": status,
                "latency_ms": r["latency"]}, item["ticket_no"])
        error = (r["error"] or f"HTTP {status}: {r['response'] or ''}")[:500]
        change["last_error"] = error
        following = None if r["final"] else rules.after_failure(
            now, count, row.window_start, self.retry_hours)
        if following is not None:
            change["next_attempt_at"] = following
            return "failed", change, None
        change.update(state="dead", dead_at=now)
        log.warning("delivery dead-lettered", extra={
            "delivery_id": row.id, "department_code": row.department_code, "error": error})
        return "dead", change, ("delivery.dead_lettered", {
            **common, "endpoint_id": row.endpoint_id, "last_error": error}, item["ticket_no"])

    def _session(self, endpoint_id: int) -> requests.Session:
        """One HTTP session (keep-alive) per endpoint."""
        s = self._http.get(endpoint_id)
        if s is None:
            s = self._http[endpoint_id] = requests.Session()
            # no proxy / netrc lookup in the environment on every request (≈ 0.7 ms each);
            # a department's URL is reached directly
            s.trust_env = False
        return s

    # -- the lease ---------------------------------------------------------------------------
    def _claim(self, code: str) -> bool:
        wall = _wall()
        uow = self.db.unit_of_work()
        try:
            result = uow.session.execute(
                update(FeedHead).where(
                    FeedHead.department_code == code,
                    or_(FeedHead.lease_owner.is_(None), FeedHead.lease_until.is_(None),
                        FeedHead.lease_until < wall, FeedHead.lease_owner == self.owner))
                .values(lease_owner=self.owner,
                        lease_until=wall + timedelta(seconds=self.lease_seconds)))
            uow.commit()
            if result.rowcount:
                self._held[code] = time.monotonic() + self.lease_seconds / 2
                return True
            self._held.pop(code, None)
            return False
        finally:
            uow.rollback()

    def _release(self, code: str) -> None:
        self._held.pop(code, None)
        uow = self.db.unit_of_work()
        try:
            uow.session.execute(update(FeedHead).where(
                FeedHead.department_code == code, FeedHead.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None))
            uow.commit()
        except Exception:  # noqa: BLE001 - the lease expires anyway
            log.exception("releasing the delivery lease failed", extra={"department": code})
        finally:
            uow.rollback()

    def close(self) -> None:
        for s in self._http.values():
            s.close()
        self._http.clear()


class Deliverer(DependencyProvider):
    """Runs :class:`DeliveryRunner` in a green thread of each dispatch process: woken right
    after a commit that created deliveries (:meth:`wake`, in-process), and polling as a fallback
    every ``DELIVERY_POLL_SECONDS`` (1 s) for retries that come due and other instances'
    entries. ``DELIVERY_BACKGROUND: false`` turns the loop off (tests stepping the clock with
    the ``deliver_due`` RPC). Settings: ``DELIVERY_RETRY_HOURS`` (72), ``DELIVERY_LEASE_SECONDS``
    (60), ``DELIVERY_CONCURRENCY`` (16 departments at once)."""

    def setup(self) -> None:
        config = self.container.config
        self.retry_hours = float(config.get("DELIVERY_RETRY_HOURS") or rules.DEFAULT_RETRY_HOURS)
        self.poll_seconds = float(config.get("DELIVERY_POLL_SECONDS") or 1.0)
        self.lease_seconds = float(config.get("DELIVERY_LEASE_SECONDS") or 60.0)
        self.concurrency = int(config.get("DELIVERY_CONCURRENCY") or 16)
        # after a wake, wait this long so the commits of the next few ms share one pass
        self.coalesce = float(config.get("DELIVERY_COALESCE_SECONDS") or 0.05)
        background = config.get("DELIVERY_BACKGROUND", True)
        self.background = str(background).lower() not in ("false", "0", "no", "off")
        if self.retry_hours <= 0 or self.lease_seconds <= rules.MAX_TIMEOUT_SECONDS:
            raise ValueError("DELIVERY_RETRY_HOURS must be > 0 and DELIVERY_LEASE_SECONDS "
                             f"longer than the longest timeout ({rules.MAX_TIMEOUT_SECONDS}s)")
        self.runner: DeliveryRunner | None = None
        self._wake = GreenEvent()
        self._running = False
        self._gt: Any = None

    def start(self) -> None:
        db = next(d for d in self.container.dependencies if isinstance(d, Database))
        self.runner = DeliveryRunner(db, retry_hours=self.retry_hours,
                                     lease_seconds=self.lease_seconds,
                                     concurrency=self.concurrency, linger=self.background)
        if self.background:
            self._running = True
            self._gt = self.container.spawn_managed_thread(self._run)

    def stop(self) -> None:
        self._running = False
        self.wake()
        if self._gt is not None:
            try:
                self._gt.wait()
            except Exception:  # noqa: BLE001 - stopping anyway
                pass
        if self.runner is not None:
            try:
                self.runner.release_idle(0.0)
            except Exception:  # noqa: BLE001 - the leases expire anyway
                log.exception("releasing delivery leases at stop failed")
            self.runner.close()

    def kill(self) -> None:
        self._running = False
        if self._gt is not None:
            self._gt.kill()

    def wake(self) -> None:
        if not self._wake.ready():
            self._wake.send(True)

    def deliver_due(self, now: datetime | None = None) -> dict[str, int]:
        assert self.runner is not None, "the deliverer has not started"
        return self.runner.deliver_due(now)

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self

    def _run(self) -> None:
        backoff = 0.0
        while self._running:
            self._wake = GreenEvent()  # a wake during the pass makes the wait below return at once
            try:
                assert self.runner is not None
                counts = self.runner.deliver_due(None)
                backoff = 0.0
                busy = counts["delivered"] + counts["dead"] > 0
            except Exception:  # noqa: BLE001 - a database outage: keep going
                log.exception("delivery pass failed; retrying")
                backoff = min(max(backoff * 2, 0.5), 10.0)
                busy = False
            if busy:
                eventlet.sleep(0)
                continue
            woken = False
            with eventlet.Timeout(backoff or self.poll_seconds, False):
                woken = bool(self._wake.wait())
            if woken:
                eventlet.sleep(self.coalesce)
            elif self.runner is not None:
                try:  # idle for a poll interval: let other instances take our departments
                    self.runner.release_idle(self.poll_seconds)
                except Exception:  # noqa: BLE001 - retried at the next idle poll
                    log.exception("releasing idle delivery leases failed")
