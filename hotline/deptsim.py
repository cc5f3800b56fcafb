"""``hotline dept-sim``: a reference department system (部门自有系统, DOMAIN.md §6).

A small HTTP server that receives the hotline's webhooks (wire format: :mod:`shared.webhooks`),
checks each signature, drops what it has already seen, and after a delay acts through the
inbound API with the department's API key, as a department's own system would:

- ``assignment.dispatched`` as lead (主办) → sign (签收), optionally a progress note (办理进展),
  then reply (答复). A reply refused with 409 ``assists_pending`` (协办单位尚未提交意见) is
  retried with exponential backoff, a bounded number of times, each retry logged; giving up is
  logged and counted (``gave_up`` in ``/_status``), never silent.
- ``assignment.dispatched`` as assistant (协办) → sign, then an opinion (协办意见).
- ``assignment.recalled`` (撤回) → whatever is still queued for that assignment is dropped.
- every other type is counted and acknowledged.

One process serves several departments (``--dept CODE:SECRET[:API_KEY]``, repeatable, or a
JSON/YAML file); without an API key a department only receives (a counting receiver for the
benchmark). Webhooks are answered at once: acting happens on worker threads from a time-ordered
queue, so the answer never waits for ``--delay``.

Routes::

    POST /webhook             the department is the body's department_code
    POST /webhooks/<code>     the department is the path's; the body must say the same
    GET  /_status             counts (JSON) for tests and the benchmark
    GET  /_arrivals?since=N   arrival records (with --record): seq, type, occurred_at, received_at
    POST /_control            {"down": bool, "hold": bool, "fail_rate": float, "delay": float}
    GET  /health

Answers: 200 delivered (also a duplicate, ``"duplicate": true``: a retry after a lost answer),
401 ``{"error": {"reason": missing|malformed|stale|mismatch|unknown_department}}``, 400 a body
that is not a feed entry, 500 an injected failure (``--fail-rate``), 503 while down
(``--down-until``, ``/_control``). While ``hold`` is set webhooks are not answered until it is
cleared (at most ``--hold-max`` seconds, then 503): the benchmark builds a backlog this way
without sending the hotline into retry backoff.

Plain parts (configuration, the de-duplication rule, the backoff, the queue, the actor) are
separate from the HTTP layer and unit tested in ``tests/unit/test_deptsim.py``.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import requests

from hotline.client import ApiError
from shared import webhooks

log = logging.getLogger("hotline.deptsim")

REPLY_TEXT = "经核查，已安排工作人员到现场处理，问题已解决，并已向市民说明处理结果。"
OPINION_TEXT = "我单位已配合主办单位到现场核查处理，意见：同意主办单位处理方案。"
PROGRESS_TEXT = "已受理，正在安排人员到现场核查。"


# -- configuration -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Department:
    """One department system served by this process: its webhook secret and its API key
    (None: receive only, never act)."""

    code: str
    secret: str
    api_key: str | None = None


def parse_dept(text: str) -> Department:
    """``CODE:SECRET`` or ``CODE:SECRET:API_KEY`` (the key may not hold ':'; the secret may
    not either — the hotline's secrets and keys are URL-safe)."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.strip() for p in parts):
        raise ValueError(f"--dept wants CODE:SECRET[:API_KEY], got {text!r}")
    code, secret = parts[0].strip(), parts[1].strip()
    return Department(code, secret, parts[2].strip() if len(parts) == 3 else None)


def departments_from_data(data: Any) -> list[Department]:
    """A file's contents: a list of ``{department_code, secret, api_key?}``, or
    ``{"departments": [...]}``."""
    items = data.get("departments") if isinstance(data, Mapping) else data
    if not isinstance(items, list):
        raise ValueError("department file: a list of {department_code, secret, api_key}")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or not item.get("department_code") \
                or not item.get("secret"):
            raise ValueError(f"department file, entry {i}: department_code and secret required")
        out.append(Department(str(item["department_code"]), str(item["secret"]),
                              str(item["api_key"]) if item.get("api_key") else None))
    return out


def load_departments(path: str | Path) -> list[Department]:
    text = Path(path).read_text("utf-8")
    if str(path).endswith((".yaml", ".yml")):
        import yaml
        return departments_from_data(yaml.safe_load(text))
    return departments_from_data(json.loads(text))


def merge_departments(groups: Iterable[Iterable[Department]]) -> dict[str, Department]:
    """By code; a code given twice is an error (which secret would be right?)."""
    out: dict[str, Department] = {}
    for dept in itertools.chain.from_iterable(groups):
        if dept.code in out:
            raise ValueError(f"department {dept.code} configured twice")
        out[dept.code] = dept
    return out


@dataclass
class Settings:
    delay: float = 2.0           # seconds between receipt and the first action
    act: bool = True             # False: receive, verify, count only
    progress: bool = False       # post a progress note after signing
    fail_rate: float = 0.0       # fraction of webhooks answered 500 (failure injection)
    down_until: float | None = None  # Unix time; 503 before it
    down: bool = False           # 503 while set (POST /_control)
    record: bool = False         # keep arrival records for GET /_arrivals
    hold_max: float = 25.0       # s a held webhook waits for release (POST /_control hold)
    max_attempts: int = 20       # per action, then give up (logged, counted): ~7 min
    backoff_base: float = 0.5    # seconds; doubles per attempt
    backoff_max: float = 30.0
    window: int = webhooks.REPLAY_WINDOW_SECONDS


def parse_down_until(text: str | None, now: float | None = None) -> float | None:
    """``--down-until``: Unix seconds, ``+N`` seconds from now, or an ISO datetime with offset."""
    if text is None or text == "":
        return None
    current = time.time() if now is None else now
    if text.startswith("+"):
        return current + float(text[1:])
    try:
        return float(text)
    except ValueError:
        pass
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("--down-until: give the UTC offset, e.g. 2026-12-01T10:00:00+00:00")
    return moment.timestamp()


# -- the plain rules ---------------------------------------------------------------------------

class SeqTracker:
    """Per department, the highest ``seq`` acted on: an entry at or below it is a repeat (a
    retry after a lost answer, shared/webhooks.py) and is acknowledged, not acted on again."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}
        self._lock = threading.Lock()

    def accept(self, department: str, seq: int) -> bool:
        with self._lock:
            if seq <= self._last.get(department, 0):
                return False
            self._last[department] = seq
            return True

    def last(self) -> dict[str, int]:
        with self._lock:
            return dict(self._last)


def backoff_delay(attempt: int, base: float, maximum: float) -> float:
    """Seconds before retry number ``attempt`` (1 = the first retry): base·2^(attempt-1),
    capped at ``maximum``."""
    return float(min(maximum, base * (2 ** max(0, attempt - 1))))


class Schedule:
    """A time-ordered queue of jobs for the worker threads; ``clock`` is injectable."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._heap: list[tuple[float, int, Any]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._closed = False

    def put(self, job: Any, delay: float = 0.0) -> None:
        with self._cond:
            heapq.heappush(self._heap, (self.clock() + max(0.0, delay), next(self._counter), job))
            self._cond.notify()

    def take_due(self) -> Any | None:
        """The earliest job whose time has come, or None (does not wait)."""
        with self._cond:
            if self._heap and self._heap[0][0] <= self.clock():
                return heapq.heappop(self._heap)[2]
            return None

    def get(self, max_wait: float = 0.5) -> Any | None:
        """Wait up to ``max_wait`` seconds for a due job (None: nothing due, or closed)."""
        with self._cond:
            if self._closed:
                return None
            if self._heap:
                wait = self._heap[0][0] - self.clock()
                if wait <= 0:
                    return heapq.heappop(self._heap)[2]
                self._cond.wait(min(wait, max_wait))
            else:
                self._cond.wait(max_wait)
            if not self._closed and self._heap and self._heap[0][0] <= self.clock():
                return heapq.heappop(self._heap)[2]
            return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._heap)


@dataclass
class Job:
    """What is left to do for one received entry: ``steps`` in order (``sign``, ``progress``,
    ``reply``, ``opinion``); ``attempt`` counts tries of the first step."""

    department: str
    assignment_id: int
    ticket_no: str | None
    seq: int
    steps: list[str]
    attempt: int = 1


def steps_for(entry: Mapping[str, Any], role: str | None, progress: bool) -> list[str]:
    """What a department system does about one feed entry."""
    if entry.get("type") != "assignment.dispatched" or role not in ("lead", "assist"):
        return []
    if role == "assist":
        return ["sign", "opinion"]
    return ["sign", *(["progress"] if progress else []), "reply"]


@dataclass
class Planned:
    """A received ``assignment.dispatched`` whose steps a worker decides after the delay;
    ``attempt`` counts tries at reading the role when the body lacks it."""

    entry: dict[str, Any]
    attempt: int = 1


class RoleUnknown(Exception):
    def __init__(self, reason: str, retry: bool):
        super().__init__(reason)
        self.retry = retry


class Api(Protocol):
    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                **kw: Any) -> Any: ...


@dataclass
class Outcome:
    """The result of one step: ``done`` (go on), ``retry`` (after ``delay``), ``give_up``."""

    kind: str
    reason: str = ""


def perform(api: Api, job: Job, step: str) -> Outcome:
    """One inbound API call for ``step`` of ``job``, with an idempotency key so a repeated call
    after a lost answer has one effect; the answer sorted into done / retry / give up."""
    aid = job.assignment_id
    key = {"Idempotency-Key": f"deptsim-{job.department}-{job.seq}-{step}"}
    calls: dict[str, tuple[str, dict[str, Any] | None]] = {
        "sign": (f"/api/v1/assignments/{aid}/sign", None),
        "progress": (f"/api/v1/assignments/{aid}/progress", {"note": PROGRESS_TEXT}),
        "reply": (f"/api/v1/assignments/{aid}/reply", {"reply": REPLY_TEXT}),
        "opinion": (f"/api/v1/assignments/{aid}/opinion", {"opinion": OPINION_TEXT}),
    }
    path, body = calls[step]
    try:
        api.request("POST", path, headers=key, json=body)
        return Outcome("done")
    except ApiError as exc:
        return classify(step, exc.status, exc.body)
    except requests.RequestException as exc:
        return Outcome("retry", f"hotline unreachable: {type(exc).__name__}")


def classify(step: str, status: int, body: Any) -> Outcome:
    """How a department system treats a refused call."""
    error = body.get("error", {}) if isinstance(body, Mapping) else {}
    state = error.get("state") if isinstance(error, Mapping) else None
    if status == 409 and step == "reply" and state == "assists_pending":
        return Outcome("retry", "assists_pending")
    if status == 409 and step == "sign" and state and state != "dispatched":
        return Outcome("done", f"already {state}")  # signed before (our earlier try)
    if status == 409 and step in ("reply", "opinion") and \
            state in ("replied", "opinion_submitted"):
        return Outcome("done", f"already {state}")
    if status == 404 and step == "progress":
        return Outcome("done", "progress route not available")  # optional step
    if status >= 500 or status == 429:
        return Outcome("retry", f"HTTP {status}")
    return Outcome("give_up", f"HTTP {status}: {error.get('code') or body}")


# -- the department system ------------------------------------------------------------------

@dataclass
class Stats:
    received: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    verification_failures: Counter[str] = field(default_factory=Counter)
    injected_failures: int = 0
    refused_down: int = 0
    held: int = 0
    hold_expired: int = 0
    bad_requests: int = 0
    acted: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    gave_up: int = 0
    dropped_recalled: int = 0


class DeptSim:
    """The receiver and the actor; :meth:`wsgi` is the WSGI application."""

    def __init__(self, hotline_url: str | None, departments: Mapping[str, Department],
                 settings: Settings | None = None,
                 client_factory: Callable[[Department], Api] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, rng: random.Random | None = None):
        self.url = hotline_url
        self.departments = dict(departments)
        self.settings = settings or Settings()
        self.seen = SeqTracker()
        self.schedule = Schedule(clock)
        self.stats = Stats()
        self.wall = wall
        self.rng = rng or random.Random()
        self.arrivals: list[dict[str, Any]] = []
        self.recalled: set[int] = set()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._client_factory = client_factory or self._default_client
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._released = threading.Event()  # set: webhooks are answered (not held)
        self._released.set()

    # -- acting ------------------------------------------------------------------------------
    def _default_client(self, dept: Department) -> Api:
        from hotline.client import HotlineClient
        assert self.url is not None
        return HotlineClient(self.url, api_key=dept.api_key, timeout=10.0)

    def client(self, code: str) -> Api:
        """One client per department per worker thread (a requests session is not shared)."""
        cache = self._local.__dict__.setdefault("clients", {})
        if code not in cache:
            cache[code] = self._client_factory(self.departments[code])
        return cache[code]

    def can_act(self, code: str) -> bool:
        return self.settings.act and bool(self.departments[code].api_key) and bool(self.url)

    def role_of(self, entry: Mapping[str, Any]) -> str | None:
        """The body's role, else the hotline's (a body without it); raises
        :class:`RoleUnknown` (``retry`` when the hotline may answer later)."""
        data = entry.get("data") or {}
        role = data.get("role") if isinstance(data, Mapping) else None
        if role:
            return str(role)
        try:
            detail = self.client(entry["department_code"]).request(
                "GET", f"/api/v1/assignments/{entry['assignment_id']}")
        except ApiError as exc:
            raise RoleUnknown(f"HTTP {exc.status}", exc.status >= 500 or exc.status == 429) \
                from None
        except requests.RequestException as exc:
            raise RoleUnknown(f"hotline unreachable: {type(exc).__name__}", True) from None
        return detail.get("role") if isinstance(detail, Mapping) else None

    def work_once(self, job: Job) -> Job | None:
        """Do the next step of ``job``; returns the job to reschedule (None: finished or given
        up). Retry delays are ``job.attempt``'s backoff."""
        if job.assignment_id in self.recalled:
            log.info("deptsim: %s assignment %s recalled; dropping %s", job.department,
                     job.assignment_id, job.steps)
            self._count("dropped_recalled")
            return None
        step = job.steps[0]
        outcome = perform(self.client(job.department), job, step)
        if outcome.kind == "done":
            with self._lock:
                self.stats.acted[step] += 1
            log.info("deptsim: %s %s assignment %s (ticket %s)%s", job.department, step,
                     job.assignment_id, job.ticket_no,
                     f" — {outcome.reason}" if outcome.reason else "")
            rest = job.steps[1:]
            return Job(job.department, job.assignment_id, job.ticket_no, job.seq, rest) \
                if rest else None
        if outcome.kind == "retry" and job.attempt < self.settings.max_attempts:
            with self._lock:
                self.stats.retries[outcome.reason.split(":")[0]] += 1
            job.attempt += 1
            log.warning("deptsim: %s %s assignment %s refused (%s); retry %d/%d in %.1fs",
                        job.department, step, job.assignment_id, outcome.reason,
                        job.attempt - 1, self.settings.max_attempts - 1, self.retry_delay(job))
            return job
        log.error("deptsim: %s gave up %s of assignment %s (ticket %s) after %d attempt(s): %s",
                  job.department, step, job.assignment_id, job.ticket_no, job.attempt,
                  outcome.reason)
        with self._lock:
            self.stats.gave_up += 1
            self.stats.errors += 1
        return None

    def retry_delay(self, job: Job) -> float:
        return backoff_delay(job.attempt - 1, self.settings.backoff_base, self.settings.backoff_max)

    def run_job(self, job: Job) -> None:
        try:
            again = self.work_once(job)
        except Exception:  # noqa: BLE001 - a worker must survive any one job
            log.exception("deptsim: job for assignment %s failed", job.assignment_id)
            self._count("errors")
            return
        if again is not None:
            self.schedule.put(again, self.retry_delay(again) if again.attempt > 1 else 0.0)

    def handle(self, item: Job | Planned) -> None:
        """A worker's turn: decide the steps of a received entry, or do a job's next step."""
        if isinstance(item, Planned):
            try:
                role = self.role_of(item.entry)
            except RoleUnknown as exc:
                aid = item.entry.get("assignment_id")
                if exc.retry and item.attempt < self.settings.max_attempts:
                    item.attempt += 1
                    delay = backoff_delay(item.attempt - 1, self.settings.backoff_base,
                                          self.settings.backoff_max)
                    log.warning("deptsim: role of assignment %s not read (%s); retry in %.1fs",
                                aid, exc, delay)
                    self.schedule.put(item, delay)
                    return
                log.error("deptsim: gave up assignment %s: its role is unknown (%s)", aid, exc)
                with self._lock:
                    self.stats.gave_up += 1
                    self.stats.errors += 1
                return
            steps = steps_for(item.entry, role, self.settings.progress)
            if not steps:
                return
            item = Job(item.entry["department_code"], int(item.entry["assignment_id"]),
                       item.entry.get("ticket_no"), int(item.entry["seq"]), steps)
        self.run_job(item)

    def _worker(self) -> None:
        while not self._stopping.is_set():
            item = self.schedule.get(0.5)
            if item is not None:
                self.handle(item)

    def start(self, workers: int = 4) -> None:
        for i in range(workers):
            t = threading.Thread(target=self._worker, name=f"deptsim-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._released.set()
        self.schedule.close()
        for t in self._threads:
            t.join(timeout)
        left = len(self.schedule)
        if left:
            log.warning("deptsim: stopping with %d queued action(s) not done", left)

    # -- receiving ---------------------------------------------------------------------------
    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self.stats, name, getattr(self.stats, name) + 1)

    def is_down(self) -> bool:
        s = self.settings
        return s.down or (s.down_until is not None and self.wall() < s.down_until)

    def receive(self, body: bytes, headers: Mapping[str, str], path_code: str | None = None
                ) -> tuple[int, dict[str, Any]]:
        """One webhook: (HTTP status, JSON answer)."""
        if not self._released.is_set():  # held (benchmark: a backlog without retry backoff)
            self._count("held")
            if not self._released.wait(self.settings.hold_max):
                self._count("hold_expired")
                return 503, {"error": {"reason": "held", "message": "暂不应答 held too long"}}
        received_at = self.wall()
        if self.is_down():
            self._count("refused_down")
            return 503, {"error": {"reason": "down", "message": "系统维护中 system down"}}
        if self.settings.fail_rate and self.rng.random() < self.settings.fail_rate:
            self._count("injected_failures")
            return 500, {"error": {"reason": "injected", "message": "模拟故障 injected failure"}}
        try:
            entry = json.loads(body)
            code = path_code or entry["department_code"]
            seq = int(entry["seq"])
        except (ValueError, KeyError, TypeError):
            # the signature cannot be checked without knowing whose secret: refuse it as such
            self._count("bad_requests")
            log.warning("deptsim: refused a webhook that is not a feed entry")
            return 400, {"error": {"reason": "bad_body", "message": "不是部门消息 not a feed entry"}}
        dept = self.departments.get(code)
        if dept is None:
            return self._refuse("unknown_department", f"未配置部门 department {code} not served")
        try:
            webhooks.verify(dept.secret, body, headers, now=received_at,
                            window=self.settings.window)
        except webhooks.SignatureError as exc:
            return self._refuse(exc.reason, str(exc), code)
        if entry.get("department_code") != code:
            return self._refuse("mismatch", "部门不符 body is for another department", code)
        kind = str(entry.get("type"))
        with self._lock:
            self.stats.received[kind] += 1
        if not self.seen.accept(code, seq):
            self._count("duplicates")
            log.info("deptsim: %s seq %d again (delivery %s): acknowledged, not acted on", code,
                     seq, entry.get("delivery_id"))
            return 200, {"ok": True, "duplicate": True, "seq": seq}
        if self.settings.record:
            data = entry.get("data") if isinstance(entry.get("data"), Mapping) else {}
            with self._lock:
                self.arrivals.append({
                    "department_code": code, "seq": seq, "type": kind,
                    "delivery_id": entry.get("delivery_id"), "ticket_no": entry.get("ticket_no"),
                    "assignment_id": entry.get("assignment_id"),
                    "occurred_at": entry.get("occurred_at"),
                    "dispatched_at": data.get("dispatched_at"), "received_at": received_at})
        self.plan(entry)
        return 200, {"ok": True, "seq": seq}

    def _refuse(self, reason: str, message: str, code: str | None = None
                ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.stats.verification_failures[reason] += 1
        log.warning("deptsim: refused a webhook%s: %s (%s)", f" for {code}" if code else "",
                    reason, message)
        return 401, {"error": {"reason": reason, "message": message}}

    def plan(self, entry: Mapping[str, Any]) -> None:
        code = entry["department_code"]
        if entry.get("type") == "assignment.recalled" and entry.get("assignment_id"):
            with self._lock:
                self.recalled.add(int(entry["assignment_id"]))
            return
        if entry.get("type") != "assignment.dispatched" or not self.can_act(code):
            return
        # the steps are decided on a worker: the role may need an API call (never in the answer)
        self.schedule.put(Planned(dict(entry)), self.settings.delay)

    def status(self) -> dict[str, Any]:
        with self._lock:
            s = self.stats
            return {"received": dict(s.received), "received_total": sum(s.received.values()),
                    "last_seq": self.seen.last(), "duplicates": s.duplicates,
                    "acted": dict(s.acted), "retries": dict(s.retries), "errors": s.errors,
                    "gave_up": s.gave_up, "verification_failures": dict(s.verification_failures),
                    "injected_failures": s.injected_failures, "refused_down": s.refused_down,
                    "held": s.held, "hold_expired": s.hold_expired,
                    "holding": not self._released.is_set(),
                    "bad_requests": s.bad_requests, "dropped_recalled": s.dropped_recalled,
                    "queued": len(self.schedule), "arrivals": len(self.arrivals),
                    "down": self.is_down(), "departments": sorted(self.departments),
                    "settings": {"delay": self.settings.delay, "act": self.settings.act,
                                 "progress": self.settings.progress,
                                 "fail_rate": self.settings.fail_rate}}

    def control(self, body: Mapping[str, Any]) -> dict[str, Any]:
        if "down" in body:
            self.settings.down = bool(body["down"])
            if not self.settings.down:
                self.settings.down_until = None
        if "hold" in body:
            if body["hold"]:
                self._released.clear()
            else:
                self._released.set()
        if "fail_rate" in body:
            self.settings.fail_rate = min(1.0, max(0.0, float(body["fail_rate"])))
        if "delay" in body:
            self.settings.delay = max(0.0, float(body["delay"]))
        log.info("deptsim: control %s", dict(body))
        return self.status()

    # -- WSGI --------------------------------------------------------------------------------
    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        from werkzeug.wrappers import Request, Response

        request = Request(environ)
        path, method = request.path.rstrip("/") or "/", request.method
        status: int = 404
        payload: dict[str, Any] = {"error": {"reason": "not_found"}}
        try:
            if method == "POST" and path == "/webhook":
                status, payload = self.receive(request.get_data(), request.headers)
            elif method == "POST" and path.startswith("/webhooks/"):
                status, payload = self.receive(request.get_data(), request.headers,
                                               path.split("/", 2)[2])
            elif method == "GET" and path == "/_status":
                status, payload = 200, self.status()
            elif method == "GET" and path == "/_arrivals":
                since = int(request.args.get("since", 0))
                with self._lock:
                    items = self.arrivals[since:]
                status, payload = 200, {"items": items, "next": since + len(items)}
            elif method == "POST" and path == "/_control":
                status, payload = 200, self.control(json.loads(request.get_data() or b"{}"))
            elif method == "GET" and path == "/health":
                status, payload = 200, {"ok": True}
        except (ValueError, TypeError) as exc:
            status, payload = 400, {"error": {"reason": "bad_request", "message": str(exc)}}
        response = Response(json.dumps(payload, ensure_ascii=False), status=status,
                            mimetype="application/json")
        return response(environ, start_response)


# -- the process -----------------------------------------------------------------------------

def serve(sim: DeptSim, host: str, port: int, workers: int = 4,
          ready: Callable[[int], None] | None = None) -> int:
    """Run until SIGINT/SIGTERM; workers stop after the server."""
    from werkzeug.serving import make_server

    server = make_server(host, port, sim.wsgi, threaded=True)
    server.daemon_threads = True  # type: ignore[attr-defined]
    actual = server.socket.getsockname()[1]
    sim.start(workers)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    thread = threading.Thread(target=server.serve_forever, name="deptsim-http", daemon=True)
    thread.start()
    print(f"dept-sim listening on http://{host}:{actual} for "
          f"{', '.join(sorted(sim.departments))} (delay {sim.settings.delay}s, "
          f"{'acting' if sim.settings.act else 'receive only'})", flush=True)
    if ready:
        ready(actual)
    try:
        while not stop.wait(0.5):  # wake twice a second to notice a signal
            pass
    finally:
        print("dept-sim stopping …", flush=True)
        server.shutdown()
        thread.join(5)
        sim.stop()
        for s, h in previous.items():
            signal.signal(s, h)
    return 0


def main(args: Any) -> int:
    """``hotline dept-sim`` (arguments parsed in hotline/cli.py)."""
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(message)s")
    if str(args.log_level).upper() != "DEBUG":
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request
    if not 0.0 <= args.fail_rate <= 1.0:
        raise SystemExit("dept-sim: --fail-rate is a fraction between 0 and 1")
    groups: list[list[Department]] = [[parse_dept(d) for d in args.dept or []]]
    if args.departments_file:
        groups.append(load_departments(args.departments_file))
    departments = merge_departments(groups)
    if not departments:
        raise SystemExit("dept-sim: give at least one --dept CODE:SECRET[:API_KEY] or "
                         "--departments-file")
    settings = Settings(delay=max(0.0, args.delay), act=not args.no_act, progress=args.progress,
                        fail_rate=args.fail_rate, down_until=parse_down_until(args.down_until),
                        record=args.record, hold_max=args.hold_max,
                        max_attempts=args.max_attempts,
                        backoff_base=args.backoff_base, backoff_max=args.backoff_max)
    sim = DeptSim(args.hotline_url, departments, settings)
    return serve(sim, args.host, args.port, workers=args.workers)
