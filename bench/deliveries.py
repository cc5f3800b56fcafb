"""The Step 3 benchmark: webhook deliveries to department systems (issue 4 "Benchmark").

``hotline bench deliveries [--database sqlite|postgres] [--rate R --duration S]``

What it runs, all on this machine and isolated like every benchmark (:mod:`bench.common`):

- the whole system (a fresh vhost, temporary data, every service as a process, demo city);
- webhook endpoints (``POST /api/v1/admin/departments/{code}/endpoints`` {kind: webhook, url,
  timeout_seconds}) for N departments (``departments``, default 6: 城管, 环保, 水务 of
  :data:`bench.flow.TEMPLATES`, then 交通, 市场监管, 供电 …, :data:`MORE_TEMPLATES`), all
  pointing at one local receiver: ``hotline dept-sim --no-act --record`` as its own process
  (it verifies every signature and de-duplicates by ``seq``; it does not act, so the orders
  stay dispatched and nothing but deliveries is measured);
- **throughput**: the receiver holds every webhook unanswered (``/_control`` ``hold``; the
  endpoints' timeout is 30 s, the hold at most 25 s), ``backlog_orders`` orders are registered
  (each gives its department ``assignment.dispatched`` and ``assignment.deadlines_set``), and
  once they are all dispatched the receiver releases: every department's head delivery is
  answered at the same moment and the backlogs drain together, with no retry backoff in the
  way (a refusal would put each department on its own retry schedule, and the drains would not
  overlap). Deliveries/s is the number of entries received divided by first → last arrival at
  the receiver (``per_s``), and over the middle 80 % of the arrivals (``middle_per_s``); per
  department too (each department's deliveries are serial by design). Target ≥ 200/s;
- **latency**: the receiver up, orders registered at 20/s (open loop) for 30 s; for every
  ``assignment.dispatched`` received, dispatch → delivered = the receiver's arrival time − the
  entry's ``data.dispatched_at`` (when the body has it) or its ``occurred_at`` (the feed entry's
  time, written with the dispatch); also registration answered → delivered from this process's
  clock. Target p99 ≤ 500 ms.

Both clocks are this machine's wall clock (one host, no skew). Results:
``bench/results/deliveries-<database>.json`` and ``.md`` (``…-r<R>-d<S>`` for a one-off
``--rate``/``--duration``). The measurement (rates, latencies, targets, tables) is plain
functions, unit tested in ``tests/unit/test_bench_deliveries.py``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import eventlet
import eventlet.queue
import psutil
import requests

from bench.common import (
    HOST,
    PASSWORD,
    IsolatedSystem,
    fmt_value,
    free_port,
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
from hotline import processes

DEFAULTS: dict[str, Any] = {
    "backlog_orders": 400,        # throughput phase: orders registered while the receiver is down
    "backlog_rate": 40.0,         # orders/s while building the backlog
    "latency_rate": 20.0,         # orders/s of the latency phase (the target's rate)
    "latency_duration": 30.0,     # s
    "drain": 20.0,                # s after a phase for the last deliveries
    "quiet": 5.0,                 # s without a new arrival: the backlog is drained
    "drain_bound": 180.0,         # s at most for the backlog (the first retry, then the rest)
    "dispatch_wait": 120.0,       # s for the backlog's orders to be dispatched
    "settle": 3.0,                # s after that for their deadlines_set entries
    "register_concurrency": 32,
    "endpoint_timeout": 30,       # timeout_seconds of each webhook endpoint (> the hold)
    "quiet_wait_seconds": 60.0,
    "http_timeout": 10.0,
    "departments": 6,             # how many departments (templates) get an endpoint (1–8)
}
DISPATCHED = "assignment.dispatched"

# Orders each routed by the demo catalogue (hotline/demo.py RULES) to one department alone: the
# flow benchmark's three, then more single-lead keyword rules. A department's deliveries are
# made one at a time in seq order (shared/webhooks.py), so the aggregate rate grows with the
# number of departments: ``departments`` picks the first N. Checked offline before the run.
MORE_TEMPLATES: list[dict[str, Any]] = [
    {"department": "jiaotong", "category": "complaint",
     "content": "滨江路站的公交车经常不按时发车，网约车还在站台违停揽客，出行很不方便。"},
    {"department": "shichang", "category": "complaint",
     "content": "白招牌社区菜市场有摊位缺斤少两，还出售假冒品牌的食品，请市场监管部门检查。"},
    {"department": "gongdian", "category": "help",
     "content": "白招牌社区今天下午突然停电，恢复后电压一直不稳，家里电器无法正常使用。"},
    {"department": "renshe", "category": "help",
     "content": "我在滨江路一家餐馆打工，老板拖欠工资三个月，欠薪一直不给，想请有关部门帮忙。"},
    {"department": "jiaoyu", "category": "help",
     "content": "孩子明年入学，想咨询白招牌社区对应哪所学校，学位是否紧张。"},
]


def templates_for(n: int) -> list[dict[str, Any]]:
    """The order templates of the first ``n`` departments."""
    from bench.flow import TEMPLATES

    return [*TEMPLATES, *MORE_TEMPLATES][:n]


# -- measurement (plain, unit tested) ----------------------------------------------------------

def parse_ts(text: Any) -> float | None:
    """An ISO 8601 time with offset → Unix seconds (None when absent or unreadable)."""
    if not text or not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def burst_rate(times: list[float], middle: tuple[float, float] = (0.1, 0.9)) -> dict[str, Any]:
    """Arrivals per second: all of them over first → last, and the ``middle`` share of them
    (by rank) over their own span. None with fewer than two arrivals (or a zero span)."""
    s = sorted(times)
    out: dict[str, Any] = {"n": len(s), "window_s": None, "per_s": None, "middle_per_s": None}
    if len(s) < 2 or s[-1] <= s[0]:
        return out
    out["window_s"] = round(s[-1] - s[0], 3)
    out["per_s"] = round((len(s) - 1) / (s[-1] - s[0]), 1)
    lo, hi = int(len(s) * middle[0]), max(int(len(s) * middle[1]) - 1, 0)
    if hi > lo and s[hi] > s[lo]:
        out["middle_per_s"] = round((hi - lo) / (s[hi] - s[lo]), 1)
    return out


def dispatch_latencies_ms(arrivals: list[dict[str, Any]]) -> tuple[list[float], Counter[str]]:
    """Dispatch → delivered (ms) of each ``assignment.dispatched`` received, and which time
    each was measured from (``dispatched_at`` in the body's data, else ``occurred_at``)."""
    out: list[float] = []
    source: Counter[str] = Counter()
    for a in arrivals:
        if a.get("type") != DISPATCHED:
            continue
        for key in ("dispatched_at", "occurred_at"):
            t = parse_ts(a.get(key))
            if t is not None:
                out.append((float(a["received_at"]) - t) * 1000)
                source[key] += 1
                break
        else:
            source["unmeasured"] += 1
    return out, source


def registration_latencies_ms(arrivals: list[dict[str, Any]],
                              registered: dict[str, float]) -> list[float]:
    """Registration answered (this process's clock, ``registered`` by ticket) → delivered."""
    return [(float(a["received_at"]) - registered[a["ticket_no"]]) * 1000 for a in arrivals
            if a.get("type") == DISPATCHED and a.get("ticket_no") in registered]


def missing(ticket_nos: list[str], arrivals: list[dict[str, Any]]) -> list[str]:
    """Orders whose ``assignment.dispatched`` never arrived."""
    seen = {a.get("ticket_no") for a in arrivals if a.get("type") == DISPATCHED}
    return [no for no in ticket_nos if no not in seen]


def repeats(arrivals: list[dict[str, Any]]) -> int:
    """Entries recorded twice (same department and seq); the receiver records first arrivals
    only, so anything but 0 is a receiver fault."""
    keys = Counter((a.get("department_code"), a.get("seq")) for a in arrivals)
    return sum(n - 1 for n in keys.values() if n > 1)


def out_of_order(arrivals: list[dict[str, Any]]) -> int:
    """Arrivals whose seq is below an earlier arrival's of the same department (ordering is
    per department)."""
    last: dict[Any, int] = {}
    bad = 0
    for a in sorted(arrivals, key=lambda x: x["received_at"]):
        code, seq = a.get("department_code"), int(a.get("seq") or 0)
        if seq < last.get(code, 0):
            bad += 1
        last[code] = max(seq, last.get(code, 0))
    return bad


def evaluate_targets(result: dict[str, Any]) -> dict[str, Any]:
    thr = (result.get("throughput") or {}).get("rate") or {}
    lat = ((result.get("latency") or {}).get("dispatch_to_delivered_ms") or {})
    rate, p99 = thr.get("per_s"), lat.get("p99")
    offered = (result.get("latency") or {}).get("offered_per_s")
    return {
        "deliveries_per_s": {
            "description": "Webhook deliveries per second to a local receiver (backlog drain)",
            "goal": "≥ 200", "target": 200, "measured": rate,
            "measured_text": "not measured" if rate is None else f"{rate:.0f}/s",
            "met": None if rate is None else rate >= 200},
        "p99_dispatch_to_delivered_ms": {
            "description": "p99 dispatch → delivered at "
                           f"{'–' if offered is None else f'{offered:g}'} orders/s",
            "goal": "≤ 500 ms", "target": 500, "measured": p99,
            "measured_text": "not measured" if p99 is None else f"{p99:.0f} ms",
            "met": None if p99 is None else p99 <= 500},
    }


def markdown(r: dict[str, Any]) -> str:
    t, thr, lat = r["targets"], r.get("throughput") or {}, r.get("latency") or {}
    rate = thr.get("rate") or {}
    met = lambda v: "–" if v is None else ("yes" if v else "**no**")  # noqa: E731
    lines = [results_heading("deliveries", r), "",
             "| Goal | Target | Measured | Met |", "|---|---|---|---|"]
    for v in t.values():
        lines.append(f"| {v['description']} | {v['goal']} | {v['measured_text']} "
                     f"| {met(v['met'])} |")
    lines += ["", "| Phase | Orders | Entries received | Rate / latency | Repeats | Out of order "
              "| Missing |", "|---|---|---|---|---|---|---|"]
    if thr:
        lines.append(f"| throughput (backlog held, then released) | {thr.get('orders')} "
                     f"| {rate.get('n')} | {fmt_value(rate.get('per_s'))}/s overall, "
                     f"{fmt_value(rate.get('middle_per_s'))}/s middle 80 % over "
                     f"{fmt_value(rate.get('window_s'))} s | {thr.get('repeats')} "
                     f"| {thr.get('out_of_order')} | {thr.get('missing')} |")
    if lat:
        d, g = lat.get("dispatch_to_delivered_ms") or {}, lat.get("registered_to_delivered_ms") or {}
        lines.append(f"| latency at {lat.get('offered_per_s'):g} orders/s × "
                     f"{lat.get('duration_s'):g} s | {lat.get('orders')} "
                     f"| {lat.get('entries')} | dispatch → delivered p50/p95/p99 {trio(d)} ms; "
                     f"registered → delivered {trio(g)} ms | {lat.get('repeats')} "
                     f"| {lat.get('out_of_order')} | {lat.get('missing')} |")
    notes = [r["parameters"]["method"]]
    rec = r.get("receiver") or {}
    if rec:
        notes.append(f"Receiver (`hotline dept-sim --no-act --record`, its own process): "
                     f"{fmt_value(rec.get('cpu_percent_of_one_core'))} % of a core over the run; "
                     f"signature failures {rec.get('verification_failures')}, duplicates "
                     f"acknowledged {rec.get('duplicates')}, webhooks held "
                     f"{rec.get('held')} (of which answered 503 after the longest hold: "
                     f"{rec.get('hold_expired')}).")
    if (thr.get("hold_expired") or 0) > 0:
        notes.append("The backlog took longer than the receiver's hold: some departments were "
                     "refused and retried on their own schedule, so their drains overlap less "
                     "and the overall rate understates the deliverer's.")
    lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def result_stem(database: str, rate: float | None = None, duration: float | None = None) -> str:
    stem = f"deliveries-{database}"
    if rate is not None or duration is not None:
        stem += f"-r{rate if rate is not None else DEFAULTS['latency_rate']:g}" \
                f"-d{duration if duration is not None else DEFAULTS['latency_duration']:g}"
    return stem


def _options(options: dict[str, Any]) -> dict[str, Any]:
    opts = parse_options(options, DEFAULTS, also=("rate", "duration"))
    if opts.get("rate") is not None:
        if not 0 < float(opts["rate"]) <= 200:
            raise ValueError("rate out of range (0–200 orders/s)")
        opts["latency_rate"] = float(opts["rate"])
    if opts.get("duration") is not None:
        if not 0 < float(opts["duration"]) <= 600:
            raise ValueError("duration out of range (0–600 s)")
        opts["latency_duration"] = float(opts["duration"])
    if not 1 <= int(opts["departments"]) <= 8:
        raise ValueError("departments: 1 to 8 (the templates' departments)")
    return opts


# -- the receiver process ----------------------------------------------------------------------

class Receiver:
    """``hotline dept-sim --no-act --record`` for the benchmark's departments."""

    def __init__(self, port: int, secrets: dict[str, str], log_path: Path, env: dict[str, str]):
        self.port, self.secrets, self.log_path, self.env = port, secrets, log_path, env
        self.url = f"http://{HOST}:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = requests.Session()

    def start(self, timeout: float = 20.0) -> None:
        args = ["--no-act", "--record", "--log-level", "WARNING"]
        for code, secret in self.secrets.items():
            args += ["--dept", f"{code}:{secret}"]
        self.proc = processes.start_dept_sim(args, self.port, self.log_path, env=self.env,
                                             host=HOST, timeout=timeout)

    def status(self) -> dict[str, Any]:
        return self.http.get(f"{self.url}/_status", timeout=5).json()

    def control(self, **settings: Any) -> dict[str, Any]:
        return self.http.post(f"{self.url}/_control", json=settings, timeout=5).json()

    def arrivals(self, since: int = 0) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            page = self.http.get(f"{self.url}/_arrivals", params={"since": since + len(out)},
                                 timeout=30).json()
            out += page["items"]
            if not page["items"]:
                return out

    def count(self) -> int:
        return int(self.status()["arrivals"])

    def cpu_seconds(self) -> float:
        if self.proc is None:
            return 0.0
        try:
            t = psutil.Process(self.proc.pid).cpu_times()
            return t.user + t.system
        except psutil.Error:
            return 0.0

    def stop(self) -> None:
        if self.proc is not None:
            processes.stop_process(self.proc)


# -- load --------------------------------------------------------------------------------------

class Registrar:
    """Registers orders on a fixed schedule (open loop) from a pool of HTTP clients."""

    def __init__(self, url: str, concurrency: int, timeout: float):
        from hotline.client import HotlineClient

        first = HotlineClient.login(url, "agent1", PASSWORD, timeout=timeout)
        self.clients: eventlet.queue.LightQueue = eventlet.queue.LightQueue()
        for _ in range(concurrency):
            self.clients.put(HotlineClient(url, token=first.token, timeout=timeout))
        self.pool = eventlet.GreenPool(concurrency)
        self.registered: dict[str, float] = {}  # ticket_no → wall time the answer came
        self.errors: Counter[str] = Counter()
        self.seq = 0

    def _one(self, template: dict[str, Any], seq: int) -> None:
        from bench.flow import order_payload

        client = self.clients.get()
        try:
            t = client.register(order_payload(template, seq))
            self.registered[t["ticket_no"]] = time.time()
        except Exception as exc:  # noqa: BLE001 - counted
            self.errors[type(exc).__name__] += 1
        finally:
            self.clients.put(client)

    def run(self, rate: float, count: int, templates: list[dict[str, Any]]) -> list[str]:
        """``count`` orders at ``rate``/s; returns their ticket numbers (those registered)."""
        before = set(self.registered)
        start = now()
        for i in range(count):
            wait = start + i / rate - now()
            if wait > 0:
                eventlet.sleep(wait)
            self.seq += 1
            self.pool.spawn_n(self._one, templates[i % len(templates)], self.seq)
        self.pool.waitall()
        return [no for no in self.registered if no not in before]


def configure_endpoints(admin: Any, codes: list[str], receiver_port: int,
                        timeout_seconds: int) -> dict[str, str]:
    """A webhook endpoint per department at the receiver; their secrets (shown once)."""
    secrets = {}
    for code in codes:
        made = admin.request("POST", f"/api/v1/admin/departments/{code}/endpoints", json={
            "kind": "webhook", "url": f"http://{HOST}:{receiver_port}/webhooks/{code}",
            "timeout_seconds": timeout_seconds})
        secrets[code] = str(made["secret"])
    return secrets


def wait_dispatched(url: str, codes: list[str], ticket_nos: list[str], timeout: float) -> int:
    """Until every order shows in its department's inbox (a department user's view); how many
    did."""
    from hotline.client import HotlineClient

    clients = {c: HotlineClient.login(url, f"dept_{c}", PASSWORD) for c in codes}
    want, seen = set(ticket_nos), set()
    deadline = now() + timeout
    while now() < deadline:
        for code, client in clients.items():
            cursor = None
            for _ in range(1000):  # bounded paging
                page = client.inbox(code, state="dispatched", limit=500,
                                    **({"cursor": cursor} if cursor else {}))
                seen |= {i["ticket_no"] for i in page["items"]} & want
                cursor = page.get("next_cursor")
                if not cursor:
                    break
        if seen >= want:
            break
        eventlet.sleep(1.0)
    return len(seen)


def wait_quiet(receiver: Receiver, since: int, quiet: float, bound: float) -> int:
    """Until arrivals have started after ``since`` and then none came for ``quiet`` seconds
    (a department's first retry after an outage may take its backoff), at most ``bound``
    seconds; the arrival count."""
    last, last_change, deadline = receiver.count(), now(), now() + bound
    while now() < deadline:
        eventlet.sleep(0.5)
        n = receiver.count()
        if n != last:
            last, last_change = n, now()
        if n > since and now() - last_change >= quiet:
            break
    return last


def phase_summary(arrivals: list[dict[str, Any]], ticket_nos: list[str]) -> dict[str, Any]:
    by_dept: dict[str, list[float]] = {}
    for a in arrivals:
        by_dept.setdefault(str(a.get("department_code")), []).append(float(a["received_at"]))
    return {"per_department": {code: burst_rate(times) for code, times in sorted(by_dept.items())},
            "orders": len(ticket_nos), "entries": len(arrivals),
            "by_type": dict(Counter(a["type"] for a in arrivals)),
            "repeats": repeats(arrivals), "out_of_order": out_of_order(arrivals),
            "missing": len(missing(ticket_nos, arrivals))}


# -- the run -----------------------------------------------------------------------------------

def run(config: dict[str, Any], **options: Any) -> int:
    """``hotline bench deliveries``: see the module docstring. 0 when the run completed
    (whether or not the targets were met), 1 when it could not run, 2 on bad options."""
    from eventlet import patcher

    from bench.flow import check_templates_offline
    from hotline.client import HotlineClient

    if not patcher.is_monkey_patched("socket"):
        eventlet.monkey_patch()
    try:
        opts = _options(options)
        templates = templates_for(int(opts["departments"]))
        check_templates_offline(templates)
    except (ValueError, RuntimeError) as exc:
        print(f"bench deliveries: {exc}", file=sys.stderr)
        return 2
    codes = [t["department"] for t in templates]
    database = opts["database"]
    started = now()
    system = IsolatedSystem(database)
    receiver: Receiver | None = None
    failed: str | None = None
    result: dict[str, Any] = {}
    say(f"bench deliveries ({database}): vhost {system.vhost.name}, gateway {system.url}")
    background = wait_for_quiet_machine(float(opts["quiet_wait_seconds"]))
    try:
        system.start(900)
        ver = system.versions()
        admin = HotlineClient.login(system.url, "admin", PASSWORD)
        port = free_port()
        secrets = configure_endpoints(admin, codes, port, int(opts["endpoint_timeout"]))
        receiver = Receiver(port, secrets, system.data_dir / "logs" / "dept-sim.log", system.env)
        receiver.start()
        cpu0, wall0 = receiver.cpu_seconds(), now()
        registrar = Registrar(system.url, int(opts["register_concurrency"]),
                              float(opts["http_timeout"]))

        # (a) throughput: a backlog built while the receiver holds its answers, then drained
        receiver.control(hold=True)
        n = int(opts["backlog_orders"])
        say(f"throughput: {n} orders while the receiver holds its answers …")
        backlog = registrar.run(float(opts["backlog_rate"]), n, templates)
        got = wait_dispatched(system.url, codes, backlog, float(opts["dispatch_wait"]))
        say(f"  {got}/{len(backlog)} dispatched; releasing")
        eventlet.sleep(float(opts["settle"]))  # their deadlines_set entries, a moment later
        mark = receiver.count()
        held = receiver.control(hold=False)
        wait_quiet(receiver, mark, float(opts["quiet"]), float(opts["drain_bound"]))
        arrivals = receiver.arrivals(mark)
        rate = burst_rate([a["received_at"] for a in arrivals])
        throughput = {**phase_summary(arrivals, backlog), "dispatched_before_release": got,
                      "hold_expired": held.get("hold_expired"),
                      "registration_errors": dict(registrar.errors), "rate": rate}
        say(f"  {rate['n']} entries in {rate['window_s']} s: {rate['per_s']}/s "
            f"(middle 80 %: {rate['middle_per_s']}/s)")

        # (b) latency at a fixed offered rate
        r, d = float(opts["latency_rate"]), float(opts["latency_duration"])
        say(f"latency: {r:g} orders/s for {d:g} s …")
        mark = receiver.count()
        registrar.errors.clear()
        orders = registrar.run(r, int(round(r * d)), templates)
        wait_quiet(receiver, mark, float(opts["quiet"]), float(opts["drain"]))
        arrivals = receiver.arrivals(mark)
        mine = [a for a in arrivals if a.get("ticket_no") in set(orders)]
        lat, source = dispatch_latencies_ms(mine)
        latency = {**phase_summary(mine, orders), "offered_per_s": r, "duration_s": d,
                   "registration_errors": dict(registrar.errors),
                   "dispatch_to_delivered_ms": summarize(lat), "measured_from": dict(source),
                   "registered_to_delivered_ms": summarize(
                       registration_latencies_ms(mine, registrar.registered))}
        say(f"  dispatch → delivered p50/p95/p99 {trio(latency['dispatch_to_delivered_ms'])} ms")

        st = receiver.status()
        wall = now() - wall0
        result = {
            "benchmark": "deliveries", "database": database,
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_info(), "versions": ver,
            "parameters": {
                **{k: opts[k] for k in DEFAULTS}, "departments": codes,
                "configuration": system.configuration_note(),
                "method": ("Receiver: one `hotline dept-sim` process (werkzeug, threaded) "
                           "verifying every signature; throughput = entries received / first → "
                           "last arrival after the receiver released a held backlog; "
                           "latency = arrival − the entry's dispatched_at (or occurred_at), "
                           "same host clock; the load generator and the receiver share the "
                           "machine's cores with the services and the broker.")},
            "throughput": throughput, "latency": latency,
            "receiver": {"cpu_percent_of_one_core": round(100 * (receiver.cpu_seconds() - cpu0)
                                                          / wall, 1) if wall > 0 else None,
                         **{k: st.get(k) for k in ("verification_failures", "duplicates",
                                                   "held", "hold_expired", "received_total")}},
            "background_before_run": background,
        }
        result["targets"] = evaluate_targets(result)
    except Exception as exc:  # noqa: BLE001 - reported; cleanup below
        failed = f"{type(exc).__name__}: {exc}"
        say(f"bench deliveries failed: {failed}")
    finally:
        if receiver is not None:
            receiver.stop()
        system.stop(keep_logs=bool(failed))
    if failed:
        return 1
    result["run_seconds"] = round(now() - started, 1)
    md = markdown(result)
    path = write_results(result_stem(database, options.get("rate"), options.get("duration")),
                         result, md)
    say("")
    say(md)
    say(f"results: {path} and .md ({result['run_seconds']} s)")
    return 0
