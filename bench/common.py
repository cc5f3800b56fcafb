"""What every benchmark shares: isolation (a RabbitMQ vhost, temporary data, fresh PostgreSQL
databases, every service as its own process), the machine and versions it ran on, CPU and RSS
samplers, and percentile statistics. Each benchmark module (:mod:`bench.flow`,
:mod:`bench.sweep`, :mod:`bench.lifecycle`) measures; this module only sets up and observes.
"""

from __future__ import annotations

import math
import os
import platform
import shutil
import sqlite3
import subprocess
import tempfile
import time
import uuid
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import quote

import eventlet
import psutil
import requests

from hotline import processes

RESULTS_DIR = Path(__file__).resolve().parent / "results"
HOST = "127.0.0.1"
RABBIT_API = f"http://guest:guest@{HOST}:15672/api"
AMQP_BASE = f"amqp://guest:guest@{HOST}:5672"
PG_BASE = f"postgresql+pg8000://postgres@{HOST}:5432"
PASSWORD = "demo12345"

# Environment a developer may have set that would point the benchmark at their own system.
ISOLATED_ENV = ("AMQP_URI", "HOTLINE_DATA_DIR", "GATEWAY_ADDRESS",
                 "HOTLINE_DATABASE_URL_TEMPLATE", "HOTLINE_CONFIG")


def now() -> float:
    return time.monotonic()


def say(text: str) -> None:
    print(text, flush=True)


# -- statistics ------------------------------------------------------------------------------

def percentile(sorted_values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return None
    k = (len(sorted_values) - 1) * q
    f = math.floor(k)
    c = min(f + 1, len(sorted_values) - 1)
    return sorted_values[f] + (sorted_values[c] - sorted_values[f]) * (k - f)


def summarize(values_ms: list[float]) -> dict[str, Any]:
    s = sorted(values_ms)
    if not s:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    r = lambda v: None if v is None else round(v, 1)  # noqa: E731
    return {"n": len(s), "p50": r(percentile(s, 0.50)), "p95": r(percentile(s, 0.95)),
            "p99": r(percentile(s, 0.99)), "max": r(s[-1]), "mean": r(sum(s) / len(s))}


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (t, y) points: how fast the backlog grows, orders/s."""
    if len(points) < 3:
        return None
    n = len(points)
    mt = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    var = sum((p[0] - mt) ** 2 for p in points)
    if var == 0:
        return None
    return sum((p[0] - mt) * (p[1] - my) for p in points) / var



# -- isolation -------------------------------------------------------------------------------

class Vhost:
    """A RabbitMQ vhost of our own: management API when it answers, else ``rabbitmqctl``."""

    def __init__(self, name: str):
        self.name = name
        self.method: str | None = None

    @property
    def amqp_uri(self) -> str:
        return f"{AMQP_BASE}/{quote(self.name, safe='')}"

    def create(self) -> None:
        v = quote(self.name, safe="")
        try:
            requests.put(f"{RABBIT_API}/vhosts/{v}", timeout=10).raise_for_status()
            requests.put(f"{RABBIT_API}/permissions/{v}/guest", timeout=10,
                         json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
            self.method = "management API"
            return
        except requests.RequestException as exc:
            say(f"  management API unavailable ({exc}); using rabbitmqctl")
        subprocess.run(["rabbitmqctl", "-q", "add_vhost", self.name], check=True, timeout=60)
        subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", self.name, "guest",
                        ".*", ".*", ".*"], check=True, timeout=60)
        self.method = "rabbitmqctl"

    def delete(self) -> None:
        if self.method == "management API":
            try:
                requests.delete(f"{RABBIT_API}/vhosts/{quote(self.name, safe='')}",
                                timeout=30).raise_for_status()
                return
            except requests.RequestException as exc:
                say(f"  could not delete vhost {self.name} by API ({exc}); trying rabbitmqctl")
        if self.method:
            subprocess.run(["rabbitmqctl", "-q", "delete_vhost", self.name], check=False,
                           timeout=60)


def free_port() -> int:
    return processes.free_port(HOST)


def drop_pg_databases(names: list[str]) -> None:
    from sqlalchemy import create_engine
    admin = create_engine(f"{PG_BASE}/postgres", isolation_level="AUTOCOMMIT",
                          connect_args={"timeout": 10})
    try:
        with admin.connect() as conn:
            for name in names:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


# -- machine and versions --------------------------------------------------------------------

def machine_info() -> dict[str, Any]:
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu_count": os.cpu_count(),
            "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "cpu_model": model, "platform": platform.platform(), "machine": platform.machine(),
            "memory_total_mb": round(psutil.virtual_memory().total / 2**20)}


def versions(amqp_uri: str, database: str, pg_url: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"python": platform.python_version()}
    for pkg in ("nameko", "eventlet", "greenlet", "kombu", "amqp", "SQLAlchemy", "werkzeug",
                "marshmallow", "pg8000", "requests", "psutil"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    from kombu import Connection
    try:
        with Connection(amqp_uri, connect_timeout=5) as conn:
            conn.connect()
            props = conn.connection.server_properties
            dec = lambda v: v.decode() if isinstance(v, bytes) else v  # noqa: E731
            out["rabbitmq"] = dec(props.get("version"))
            out["rabbitmq_product"] = dec(props.get("product"))
    except Exception as exc:  # noqa: BLE001 - recorded, not fatal
        out["rabbitmq"] = f"unknown ({type(exc).__name__})"
    out["sqlite"] = sqlite3.sqlite_version
    if database == "postgres" and pg_url:
        from sqlalchemy import create_engine
        engine = create_engine(pg_url, connect_args={"timeout": 5})
        try:
            with engine.connect() as conn:
                out["postgresql"] = conn.exec_driver_sql("SHOW server_version").scalar()
        except Exception as exc:  # noqa: BLE001
            out["postgresql"] = f"unknown ({type(exc).__name__})"
        finally:
            engine.dispose()
    return out


# -- process monitor: RSS and CPU --------------------------------------------------------------

class ProcessMonitor:
    """Samples every service's RSS (with any children) once a second; snapshots CPU time of the
    services, this load generator, RabbitMQ and PostgreSQL at phase boundaries."""

    def __init__(self, pids: dict[str, int], interval: float = 1.0,
                 servers: dict[str, int] | None = None):
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.interval = interval
        self.rss_max: dict[str, int] = {name: 0 for name in pids}
        self.rss_max_load: dict[str, int] = {name: 0 for name in pids}
        self.rss_last: dict[str, int] = {}
        self.under_load = False
        # servers by the port they listen on (another RabbitMQ or PostgreSQL may be running)
        self.servers = {label: listener(port) for label, port in (servers or {}).items()}
        self._running = False
        self._gt: Any = None
        self.samples = 0

    def _tree(self, proc: psutil.Process) -> list[psutil.Process]:
        try:
            return [proc, *proc.children(recursive=True)]
        except psutil.Error:
            return [proc]

    def _cpu_seconds(self, proc: psutil.Process) -> float:
        """User + system CPU seconds of a process and its children."""
        total = 0.0
        for p in self._tree(proc):
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def sample(self) -> None:
        for name, proc in self.procs.items():
            total = 0
            for p in self._tree(proc):
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.rss_last[name] = total
            self.rss_max[name] = max(self.rss_max[name], total)
            if self.under_load:
                self.rss_max_load[name] = max(self.rss_max_load[name], total)
        self.samples += 1

    def start(self, max_seconds: float) -> None:
        self._running = True

        def loop() -> None:
            for _ in range(int(max_seconds / self.interval) + 1):  # bounded sampling loop
                if not self._running:
                    return
                self.sample()
                eventlet.sleep(self.interval)

        self._gt = eventlet.spawn(loop)

    def stop(self) -> None:
        self._running = False
        if self._gt is not None:
            self._gt.kill()

    def cpu_snapshot(self) -> dict[str, float]:
        snap: dict[str, float] = {"_wall": now()}
        for name, proc in self.procs.items():
            snap[name] = self._cpu_seconds(proc)
        t = psutil.Process().cpu_times()
        snap["load generator"] = t.user + t.system
        for label, server in self.servers.items():
            if server is not None:  # PostgreSQL: the postmaster and its backends
                snap[label] = self._cpu_seconds(server)
        ct = psutil.cpu_times()
        snap["_machine_busy"] = ct.user + ct.system + ct.nice + getattr(ct, "irq", 0) + \
            getattr(ct, "softirq", 0) + getattr(ct, "steal", 0)
        return snap

    @staticmethod
    def cpu_percent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        """CPU used between two snapshots, in % of one core (200 % = both cores busy)."""
        wall = after["_wall"] - before["_wall"]
        if wall <= 0:
            return {}
        out = {k: round(100 * (after[k] - before[k]) / wall, 1)
               for k in after if not k.startswith("_") and k in before}
        machine = 100 * (after["_machine_busy"] - before["_machine_busy"]) / wall
        out["other processes"] = round(max(0.0, machine - sum(out.values())), 1)
        out["machine (all processes)"] = round(machine, 1)
        return out

    @staticmethod
    def mb(values: dict[str, int]) -> dict[str, float]:
        return {name: round(v / 2**20, 1) for name, v in values.items()}


def listener(port: int) -> psutil.Process | None:
    """The process listening on a local TCP port (None when it cannot be found)."""
    try:
        for c in psutil.net_connections(kind="tcp"):
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
                return psutil.Process(c.pid)
    except (psutil.Error, OSError):
        pass
    return None


def background_load(seconds: float = 2.0) -> dict[str, Any]:
    """What else is running before we start: machine CPU busy and other service processes."""
    others = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = p.info.get("cmdline") or []
        if "hotline.runner" in cmd:
            others.append(p.info["pid"])
    before = psutil.cpu_times()
    eventlet.sleep(seconds)
    after = psutil.cpu_times()
    busy = sum(getattr(after, f) - getattr(before, f)
               for f in ("user", "system", "nice", "irq", "softirq", "steal") if hasattr(after, f))
    return {"cpu_percent_of_one_core": round(100 * busy / seconds, 1),
            "other_hotline_service_processes": len(others)}



# -- output helpers ------------------------------------------------------------------------

def fmt_value(v: Any, unit: str = "") -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        v = f"{v:.1f}" if abs(v) < 100 else f"{v:.0f}"
    return f"{v}{unit}"


def trio(s: dict[str, Any]) -> str:
    if not s or not s.get("n"):
        return "–"
    return f"{fmt_value(s['p50'])} / {fmt_value(s['p95'])} / {fmt_value(s['p99'])}"



def wait_for_quiet_machine(max_seconds: float) -> dict[str, Any]:
    """Wait (bounded) until no other hotline services run and the CPU is mostly idle; the last
    observation either way (recorded in the results: other work makes figures pessimistic)."""
    background = background_load()
    for _ in range(int(max_seconds / 5)):
        if not background["other_hotline_service_processes"] and \
                background["cpu_percent_of_one_core"] <= 25:
            break
        say(f"  waiting for the machine to be quiet: {background}")
        eventlet.sleep(3.0)
        background = background_load()
    if background["other_hotline_service_processes"] or background["cpu_percent_of_one_core"] > 25:
        say(f"  note: the machine is not idle before the run: {background}")
    return background


def isolated_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without anything that could point at a developer's system,
    plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ISOLATED_ENV and not k.endswith("_DATABASE_URL")}
    env.update(extra)
    return env


class IsolatedSystem:
    """The whole system for one benchmark run, isolated from a developer's running one.

    A fresh RabbitMQ vhost, a temporary data directory and, on PostgreSQL, fresh
    ``hlbench_<random>_<service>`` databases; the packaged default configuration (a
    ``--config`` file is not used: it could point at a real broker) with ``AMQP_URI``,
    ``HOTLINE_DATA_DIR``, ``GATEWAY_ADDRESS`` and the database template overridden; ``migrate``,
    every service as its own process (:class:`hotline.processes.Cluster`), the demo city, and a
    :class:`ProcessMonitor` on the services, RabbitMQ and PostgreSQL.
    """

    def __init__(self, database: str):
        from shared.config import SERVICES

        self.database = database
        self.token = uuid.uuid4().hex[:8]
        self.vhost = Vhost(f"hotline-bench-{self.token}")
        self.data_dir = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        extra = {"AMQP_URI": self.vhost.amqp_uri, "HOTLINE_DATA_DIR": str(self.data_dir),
                 "GATEWAY_ADDRESS": f"{HOST}:{self.port}"}
        self.pg_names: list[str] = []
        if database == "postgres":
            extra["HOTLINE_DATABASE_URL_TEMPLATE"] = f"{PG_BASE}/hlbench_{self.token}_{{service}}"
            self.pg_names = [f"hlbench_{self.token}_{s}" for s in SERVICES]
        self.env = isolated_env(extra)
        self.config: dict[str, Any] = {}
        self.cluster: Any = None
        self.monitor: ProcessMonitor | None = None

    @property
    def pg_url(self) -> str | None:
        return f"{PG_BASE}/{self.pg_names[0]}" if self.pg_names else None

    def start(self, monitor_seconds: float) -> None:
        from hotline import commands
        from hotline.processes import Cluster
        from shared.config import load_config

        self.vhost.create()
        self.config = load_config(env=self.env)
        commands.migrate(self.config)
        self.cluster = Cluster(env=self.env, log_dir=self.data_dir / "logs")
        self.cluster.start()
        self.cluster.wait_healthy(self.url, timeout=90)
        servers = {"rabbitmq": 5672, **({"postgresql": 5432} if self.pg_names else {})}
        self.monitor = ProcessMonitor(self.cluster.pids(), servers=servers)
        self.monitor.start(monitor_seconds)
        commands.load_demo(self.config)

    def versions(self) -> dict[str, Any]:
        return versions(self.vhost.amqp_uri, self.database, self.pg_url)

    def configuration_note(self) -> str:
        return ("packaged default (shared/default_config.yaml) with AMQP_URI, HOTLINE_DATA_DIR, "
                "GATEWAY_ADDRESS" + (", HOTLINE_DATABASE_URL_TEMPLATE" if self.pg_names else "")
                + " set by the benchmark")

    def environment_overrides(self) -> dict[str, str]:
        return {k: v for k, v in self.env.items()
                if k.startswith("HOTLINE_") and k not in ISOLATED_ENV}

    def stop(self, keep_logs: bool) -> None:
        """Stop everything started, drop the databases and the vhost; keep the logs of a failed
        run (``keep_logs``), else remove the data directory."""
        if self.monitor is not None:
            self.monitor.stop()
        if self.cluster is not None:
            say("stopping services …")
            self.cluster.stop()
        if self.pg_names:
            try:
                drop_pg_databases(self.pg_names)
            except Exception as exc:  # noqa: BLE001
                say(f"could not drop databases {self.pg_names}: {exc}")
        try:
            self.vhost.delete()
        except Exception as exc:  # noqa: BLE001
            say(f"could not delete vhost {self.vhost.name}: {exc}")
        if keep_logs:
            say(f"logs kept in {self.data_dir / 'logs'}")
        else:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def write_results(stem: str, result: dict[str, Any], md: str,
                  results_dir: Path | None = None) -> Path:
    """``<stem>.json`` and ``<stem>.md`` in ``results_dir`` (default ``bench/results/``)."""
    import json

    out = Path(results_dir) if results_dir else RESULTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n",
                                      "utf-8")
    (out / f"{stem}.md").write_text(md, "utf-8")
    return out / f"{stem}.json"


def parse_options(options: dict[str, Any], defaults: dict[str, Any],
                  also: tuple[str, ...] = ()) -> dict[str, Any]:
    """A benchmark's options: its ``defaults`` updated with the given (not None) values; names
    outside ``defaults``, ``also`` and ``database`` are refused (ValueError), as is a database
    other than sqlite or postgres."""
    opts = dict(defaults)
    unknown = set(options) - set(defaults) - set(also) - {"database"}
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))}")
    opts.update({k: v for k, v in options.items() if v is not None})
    opts.setdefault("database", "sqlite")
    if opts["database"] not in ("sqlite", "postgres"):
        raise ValueError("database must be sqlite or postgres")
    return opts


def results_heading(name: str, r: dict[str, Any]) -> str:
    """The first line of a results table: benchmark, database, date, machine and versions."""
    v, m = r["versions"], r["machine"]
    db = ("SQLite " + v["sqlite"] if r["database"] == "sqlite"
          else f"PostgreSQL {v.get('postgresql')}")
    return (f"#### `hotline bench {name}` — {db} ({r['timestamp'][:10]}, {m['cpu_count']} cores, "
            f"{m['cpu_model']}, {m['memory_total_mb']} MB; Python {v['python']}, nameko "
            f"{v['nameko']}, eventlet {v.get('eventlet')}, kombu {v.get('kombu')}, SQLAlchemy "
            f"{v['SQLAlchemy']}, SQLite {v['sqlite']}, PostgreSQL {v.get('postgresql', '–')}, "
            f"RabbitMQ {v.get('rabbitmq')})")
