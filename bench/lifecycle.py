"""Lifecycle transitions per second through the HTTP API.

``hotline bench lifecycle [--database sqlite|postgres] [--lifecycles N] [--clients C]``

What it runs: the isolated system of :class:`bench.common.IsolatedSystem` (fresh vhost,
temporary data directory or databases, every service as its own process, the demo city),
then C concurrent clients (eventlet green threads in this process, each with its own HTTP
sessions), each driving orders through their whole life, one after the other (closed loop):

    register (agent) → dispatched automatically (routing catalogue) → [every 7th order: return
    requested by the department, rejected by a supervisor] → sign (department) → [every 5th
    order: extension requested, approved by a supervisor] → reply (department) → callback,
    satisfied (supervisor) → closed

Between two actions a client waits (bounded, polling ``GET /api/v1/tickets/<no>`` every
50 ms) until the order's status shows the previous action's effect, as a person at a console
would: the facts travel by events (intake → dispatch → supervision). Around a return it also
waits for dispatch's copy of the assignment: supervision shows the rejected return before
dispatch has applied it, and a reply in that window is refused (409). The orders are those of
:mod:`bench.flow` (one department each, checked against dispatch's routing offline).

Measured over the measured lifecycles (after a warm-up of one lifecycle per client):
transitions, i.e. status changes as recorded in supervision's history (each order's
``lifecycle.history`` read at the end, with the server's timestamps), per second over the
window, and over its middle 80 % (sustained); lifecycles per second; latency percentiles of
every action (the HTTP round trip) and of every wait (action answered → its status visible);
CPU of every service process, this load generator, RabbitMQ and PostgreSQL over the window,
and the RSS of every service (:class:`bench.common.ProcessMonitor`).

Results: ``bench/results/lifecycle-<database>.json`` and ``.md`` for the reference run
(300 lifecycles, 8 clients), ``lifecycle-<database>-n<N>-c<C>`` otherwise.
"""

from __future__ import annotations

import sys
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import eventlet
import eventlet.queue

from bench.common import (
    PASSWORD,
    IsolatedSystem,
    ProcessMonitor,
    fmt_value,
    machine_info,
    now,
    parse_options,
    results_heading,
    say,
    summarize,
    trio,
    wait_for_quiet_machine,
    write_results,
)
from bench.flow import TEMPLATES, check_templates_offline, order_payload

DEFAULTS: dict[str, Any] = {
    "lifecycles": 300,
    "clients": 8,
    "return_every": 7,       # every Nth order: a return requested and rejected (2 transitions)
    "extension_every": 5,    # every Nth order: an extension requested and approved
    "poll_interval": 0.05,
    "step_timeout": 60.0,    # s for one status to become visible
    "http_timeout": 15.0,
    "quiet_wait_seconds": 60.0,
    "results_dir": None,
}
REFERENCE = {"lifecycles": 300, "clients": 8}
ACTIONS = ("register", "return", "return_decision", "sign", "extension", "extension_decision",
           "reply", "callback")
WAITS = ("dispatched", "return_requested", "return_rejected", "in_progress", "replied")


def _lead_state(ticket: dict[str, Any]) -> str | None:
    """The lead assignment's state as dispatch has it."""
    return next((a.get("state") for a in ticket["assignments"] if a["role"] == "lead"), None)


class Lifecycles:
    """The clients' shared HTTP sessions (by role) and what they measured."""

    def __init__(self, url: str, opts: dict[str, Any]):
        from hotline.client import HotlineClient

        timeout = float(opts["http_timeout"])
        self.opts = opts
        clients = int(opts["clients"])

        def sessions(username: str) -> Any:
            first = HotlineClient.login(url, username, PASSWORD, timeout=timeout)
            q: Any = eventlet.queue.LightQueue()
            for _ in range(clients):
                q.put(HotlineClient(url, token=first.token, timeout=timeout))
            return q

        self.agents = sessions("agent1")
        self.supervisors = sessions("supervisor1")
        self.departments = {t["department"]: sessions(f"dept_{t['department']}")
                            for t in TEMPLATES}
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()
        self.error_samples: list[str] = []
        self.orders: list[tuple[str, bool, bool]] = []  # ticket_no, return branch, extension
        self.seq = 0

    def _call(self, pool: Any, action: str, fn: Any) -> Any:
        client = pool.get()
        try:
            t0 = now()
            result = fn(client)
            self.latency[action].append((now() - t0) * 1000)
            return result
        finally:
            pool.put(client)

    def _wait(self, what: str, ticket_no: str, ok: Any) -> dict[str, Any]:
        from hotline.client import wait_for

        t0 = now()
        client = self.agents.get()
        try:
            body = wait_for(lambda: (b := client.ticket(ticket_no)) and ok(b) and b,
                            timeout=float(self.opts["step_timeout"]),
                            interval=float(self.opts["poll_interval"]), what=f"{ticket_no} {what}")
        finally:
            self.agents.put(client)
        self.latency[f"wait {what}"].append((now() - t0) * 1000)
        return body

    def one(self, measured: bool) -> None:
        """Drive one order through its whole life; errors are counted, not raised."""
        self.seq += 1
        seq = self.seq
        template = TEMPLATES[seq % len(TEMPLATES)]
        code = template["department"]
        dept = self.departments[code]
        with_return = seq % int(self.opts["return_every"]) == 0
        with_extension = seq % int(self.opts["extension_every"]) == 0
        step = "register"
        try:
            body = self._call(self.agents, "register", lambda c: c.register(
                order_payload(template, seq), idempotency_key=f"bench-lc-{uuid.uuid4().hex}"))
            no = body["ticket_no"]
            step = "dispatched"
            detail = self._wait("dispatched", no, lambda b: b["status"] == "dispatched"
                                and b["assignments"])
            lead = next(a for a in detail["assignments"] if a["role"] == "lead")
            aid = lead["id"]
            if with_return:
                step = "return"
                ret = self._call(dept, "return", lambda c: c.request(
                    "POST", f"/api/v1/assignments/{aid}/return",
                    json={"reason_code": "function", "basis": "压测：不属本单位职能"}))
                # both sides: supervision's status and dispatch's assignment (events apart)
                self._wait("return_requested", no, lambda b: b["status"] == "return_requested"
                           and _lead_state(b) == "return_requested")
                step = "return_decision"
                self._call(self.supervisors, "return_decision", lambda c: c.request(
                    "POST", f"/api/v1/returns/{ret['id']}/decision",
                    json={"approve": False, "note": "压测：驳回退单"}))
                self._wait("return_rejected", no, lambda b: b["status"] == "dispatched"
                           and _lead_state(b) == "dispatched")
            step = "sign"
            self._call(dept, "sign", lambda c: c.sign(aid))
            self._wait("in_progress", no, lambda b: b["status"] == "in_progress")
            if with_extension:
                step = "extension"
                ext = self._call(dept, "extension", lambda c: c.request(
                    "POST", f"/api/v1/assignments/{aid}/extension",
                    json={"days": 3, "reason": "压测：需协调多部门"}))
                step = "extension_decision"
                self._call(self.supervisors, "extension_decision", lambda c: c.request(
                    "POST", f"/api/v1/extensions/{ext['id']}/decision",
                    json={"approve": True, "note": "压测：同意延期"}))
            step = "reply"
            self._call(dept, "reply", lambda c: c.reply(aid, "压测：已到现场处理完毕，并回复市民。"))
            self._wait("replied", no, lambda b: b["status"] == "replied")
            step = "callback"
            closed = self._call(self.supervisors, "callback", lambda c: c.callback(
                no, reached=True, solved=True, satisfaction="satisfied", note="压测：满意"))
            if closed.get("status") != "closed":
                raise RuntimeError(f"callback left {no} {closed.get('status')}")
        except Exception as exc:  # noqa: BLE001 - counted and sampled; the run goes on
            self.errors[step] += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(f"{step}: {type(exc).__name__}: {exc}"[:300])
            return
        if measured:
            self.orders.append((no, with_return, with_extension))

    def run(self, count: int, measured: bool) -> tuple[float, float]:
        """``count`` lifecycles over the clients (closed loop); start and end time."""
        todo = iter(range(count))

        def client() -> None:
            for _ in todo:
                self.one(measured)

        t0 = now()
        pool = eventlet.GreenPool(int(self.opts["clients"]))
        for _ in range(int(self.opts["clients"])):
            pool.spawn_n(client)
        pool.waitall()
        return t0, now()

    def histories(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        client = self.agents.get()
        try:
            for no, _, _ in self.orders:
                out[no] = client.ticket(no)["lifecycle"]["history"]
        finally:
            self.agents.put(client)
        return out


def transitions_per_s(histories: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Status changes per second from the server's own timestamps: over the whole window
    (first to last transition) and over its middle 80 % (sustained)."""
    stamps = sorted(datetime.fromisoformat(t["at"]) for h in histories.values() for t in h)
    if len(stamps) < 2:
        return {"transitions": len(stamps), "window_s": None, "per_s": None,
                "sustained_per_s": None}
    window = (stamps[-1] - stamps[0]).total_seconds()
    lo = stamps[0] + (stamps[-1] - stamps[0]) * 0.1
    hi = stamps[0] + (stamps[-1] - stamps[0]) * 0.9
    middle = sum(1 for s in stamps if lo <= s <= hi)
    return {"transitions": len(stamps), "window_s": round(window, 2),
            "per_s": round(len(stamps) / window, 2) if window else None,
            "sustained_per_s": round(middle / (window * 0.8), 2) if window else None,
            "first_at": stamps[0].isoformat(), "last_at": stamps[-1].isoformat()}


def markdown(r: dict[str, Any]) -> str:
    p, t = r["parameters"], r["transitions"]
    lines = [
        results_heading("lifecycle", r),
        "",
        f"{r['completed']} lifecycles completed of {p['lifecycles']} ({p['clients']} concurrent "
        f"clients, closed loop; every {p['return_every']}th order with a rejected return, every "
        f"{p['extension_every']}th with an approved extension); errors: "
        f"{dict(r['errors']) or 'none'}.",
        "",
        "| Measure | Value |",
        "|---|---|",
        f"| Lifecycle transitions/s, sustained (middle 80 % of the window) | "
        f"**{fmt_value(t['sustained_per_s'])}** |",
        f"| Lifecycle transitions/s, whole window | {fmt_value(t['per_s'])} "
        f"({t['transitions']} transitions in {fmt_value(t['window_s'])} s) |",
        f"| Lifecycles/s (whole life: registered → closed) | {fmt_value(r['lifecycles_per_s'])} |",
        f"| Lifecycle, end to end p50/p95/p99 ms | {trio(r['lifecycle_ms'])} |",
        f"| Histories as expected (5 transitions, +2 with a return; ends closed) | "
        f"{'yes' if r['histories_ok'] else '**no** ' + str(r['history_mismatches'][:3])} |",
        "",
        "| Action / wait | n | p50 / p95 / p99 ms | max ms |",
        "|---|---|---|---|",
    ]
    for name, s in r["latency_ms"].items():
        lines.append(f"| {name} | {s['n']} | {trio(s)} | {fmt_value(s['max'])} |")
    cpu, per = r["cpu_percent_of_one_core"], r["cpu_ms_per_transition"]
    lines += ["", "| Process | Max RSS MB | CPU % of a core | CPU ms per transition |",
              "|---|---|---|---|"]
    for k in list(r["rss_mb"]) + [k for k in cpu if k not in r["rss_mb"]]:
        lines.append(f"| {k} | {fmt_value(r['rss_mb'].get(k))} | {fmt_value(cpu.get(k))} "
                     f"| {fmt_value(per.get(k))} |")
    lines += [""] + [f"- {n}" for n in r["notes"]]
    return "\n".join(lines) + "\n"


def _options(options: dict[str, Any]) -> dict[str, Any]:
    opts = parse_options(options, DEFAULTS)
    if not 1 <= int(opts["lifecycles"]) <= 20_000:
        raise ValueError("lifecycles must be between 1 and 20,000")
    if not 1 <= int(opts["clients"]) <= 64:
        raise ValueError("clients must be between 1 and 64")
    return opts


def run(config: dict[str, Any], **options: Any) -> int:
    """``hotline bench lifecycle``: see the module docstring. 0 when the run completed, 1 when
    it could not run, 2 on bad options."""
    from eventlet import patcher

    if not patcher.is_monkey_patched("socket"):
        eventlet.monkey_patch()
    try:
        opts = _options(options)
        check_templates_offline()
    except (ValueError, RuntimeError) as exc:
        print(f"bench lifecycle: {exc}", file=sys.stderr)
        return 2
    database, n, clients = opts["database"], int(opts["lifecycles"]), int(opts["clients"])
    started = now()
    system = IsolatedSystem(database)
    say(f"bench lifecycle ({database}): {n} lifecycles, {clients} clients; vhost "
        f"{system.vhost.name}, data {system.data_dir}, gateway {system.url}")
    background = wait_for_quiet_machine(float(opts["quiet_wait_seconds"]))
    failed: str | None = None
    result: dict[str, Any] = {}
    try:
        system.start(monitor_seconds=3600)
        monitor = system.monitor
        assert monitor is not None
        ver = system.versions()
        load = Lifecycles(system.url, opts)
        load.run(clients, measured=False)  # warm-up: connections, caches, first routes
        if load.errors:
            raise RuntimeError(f"warm-up failed: {dict(load.errors)} {load.error_samples}")
        load.latency.clear()
        monitor.under_load = True
        cpu_before = monitor.cpu_snapshot()
        t0, t1 = load.run(n, measured=True)
        cpu = ProcessMonitor.cpu_percent(cpu_before, monitor.cpu_snapshot())
        monitor.under_load = False
        say(f"  {len(load.orders)} lifecycles in {t1 - t0:.1f} s; errors {dict(load.errors)}")
        histories = load.histories()
        rate = transitions_per_s(histories)
        mismatches = []
        for no, with_return, _ in load.orders:
            h = histories[no]
            want = 7 if with_return else 5
            if len(h) != want or h[-1]["to_status"] != "closed":
                mismatches.append({"ticket_no": no, "transitions": len(h),
                                   "last": h[-1]["to_status"] if h else None})
        lc_ms = [(datetime.fromisoformat(h[-1]["at"]) - datetime.fromisoformat(h[0]["at"]))
                 .total_seconds() * 1000 for h in histories.values() if h]
        transitions = rate["transitions"] or 0
        result = {
            "benchmark": "lifecycle", "database": database,
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_info(), "versions": ver,
            "parameters": {k: opts[k] for k in ("lifecycles", "clients", "return_every",
                                                "extension_every", "poll_interval",
                                                "step_timeout")}
            | {"configuration": system.configuration_note(),
               "environment_overrides": system.environment_overrides()},
            "completed": len(load.orders), "errors": dict(load.errors),
            "error_samples": load.error_samples,
            "client_window_s": round(t1 - t0, 2),
            "transitions": rate,
            "lifecycles_per_s": round(len(load.orders) / (t1 - t0), 2) if t1 > t0 else None,
            "lifecycle_ms": summarize(lc_ms),
            "histories_ok": not mismatches and len(load.orders) == n,
            "history_mismatches": mismatches[:20],
            "latency_ms": {name: summarize(load.latency[name])
                           for name in [*ACTIONS, *(f"wait {w}" for w in WAITS)]
                           if load.latency.get(name)},
            "cpu_percent_of_one_core": cpu,
            "cpu_ms_per_transition": {k: round(v * 10 * (t1 - t0) / transitions, 2)
                                      for k, v in cpu.items()} if transitions else {},
            "rss_mb": ProcessMonitor.mb(monitor.rss_max),
            "rss_mb_during_measured_lifecycles": ProcessMonitor.mb(monitor.rss_max_load),
            "background_before_run": background,
            "notes": [
                "Transitions are status changes in supervision's history (register, dispatch, "
                "sign, reply, close; return requested and rejected on the return branch), "
                "timed by the server; an extension changes no status.",
                "Load generator: one Python process on the same machine as the six service "
                f"processes and the broker, {clients} eventlet green-thread clients in a closed "
                "loop, each waiting (polling GET /api/v1/tickets/<no> every "
                f"{opts['poll_interval']:g} s) for a status before the next action; the polls "
                "are part of the measured load.",
            ],
        }
        other = cpu.get("other processes") or 0
        if other > 15 or background.get("cpu_percent_of_one_core", 0) > 25 or \
                background.get("other_hotline_service_processes"):
            result["notes"].append(
                f"Other work was running on the machine (other processes {other:.0f} % of a "
                f"core during the window; before the run {background}): the figures are "
                "pessimistic.")
    except Exception as exc:  # noqa: BLE001 - reported; cleanup below
        failed = f"{type(exc).__name__}: {exc}"
        say(f"bench lifecycle failed: {failed}")
    finally:
        system.stop(keep_logs=bool(failed))
    if failed:
        return 1
    result["run_seconds"] = round(now() - started, 1)
    reference = n == REFERENCE["lifecycles"] and clients == REFERENCE["clients"]
    stem = f"lifecycle-{database}" if reference else f"lifecycle-{database}-n{n}-c{clients}"
    md = markdown(result)
    path = write_results(stem, result, md, Path(opts["results_dir"]) if opts["results_dir"]
                         else None)
    say("")
    say(md)
    say(f"results: {path} and .md ({result['run_seconds']} s)")
    return 0

