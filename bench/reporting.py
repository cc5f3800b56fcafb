"""The Step 5 benchmark: KPI reports over a year of a million orders (issue 6 "Benchmark").

``hotline bench reporting [--orders N] [--backend sqlite|postgresql|both] [--quick]
[--replay-orders M]``

Targets (issue 6): a one-month KPI report by department ≤ 200 ms on PostgreSQL and ≤ 500 ms on
SQLite, the all-time report ≤ 1 s, the same report by a plain GROUP BY over the raw rows measured
in the same run as the comparison, projection rebuild ≥ 5,000 events/s.

What it runs, isolated from a developer's system (no services, no broker):

- a freshly migrated reporting database per backend (Alembic ``upgrade head``): a SQLite file in
  a temporary directory and/or the PostgreSQL database ``hotline_bench_reporting`` (created,
  dropped at the end);
- the data: ``orders`` orders of assessment year 2026 (:mod:`bench.reporting_data`: 40
  departments, 7 categories, 16 territories, 5 channels; assignments incl. assisting ones,
  urges, returns, extensions, callbacks, reopenings, repeat calls), planned once and written
  chunk by chunk straight into the fact tables as the projections would have left them
  (``executemany`` on SQLite, ``COPY`` on PostgreSQL), then ``ANALYZE``;
- CUBE: ``services.reporting.cube.rebuild_cube(session)`` from those facts (timed);
- REPORTS: ``services.reporting.kpis.kpi_report`` (the cube) for one month (June 2026) and for
  the whole assessment year, grouped by department — a first run, then ``runs`` timed runs
  (median, p95) — and the same reports by ``services.reporting.kpis_plain`` (GROUP BY over the
  fact rows) in the same run; the two must agree figure for figure (checked, recorded);
- REBUILD: the first ``replay_orders`` orders' catalogue events (``shared.events.make_envelope``,
  validated by their schemas) appended to the event log of a second fresh database
  (``hotline_bench_reporting_replay`` on PostgreSQL), then the service's ``rebuild`` RPC
  (nameko ``worker_factory`` with the real unit of work: facts emptied, the log replayed
  through the projections) and the cube rebuilt from those facts; events per second over the
  whole path. The replayed facts must equal the rows the bulk load writes for those orders
  (checked: the generator and the projections agree).

Results: ``bench/results/reporting-<backend>.json`` and ``.md`` for the reference size
(1,000,000 orders; ``both`` when both were measured in one run); ``reporting-n<N>-<backend>…``
otherwise. The measurement functions are unit
tested in ``tests/unit/test_bench_reporting.py`` (quick mode on SQLite); no timing is asserted.
"""

from __future__ import annotations

import io
import resource
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psutil

from bench import reporting_data as data
from bench.common import (
    PG_BASE,
    background_load,
    drop_pg_databases,
    machine_info,
    now,
    say,
    summarize,
    versions,
    write_results,
)

DEFAULTS: dict[str, Any] = {
    "orders": 1_000_000,
    "backend": None,          # sqlite | postgresql | both (default both; --database picks one)
    "quick": False,           # 5,000 orders, 200 replayed, 3 runs: the unit test
    "replay_orders": 2_000,   # orders whose events are replayed by the rebuild (~25,000)
    "runs": 10,               # timed runs of each cube report (after a first run)
    "plain_runs": 5,          # timed runs of each plain GROUP BY report
    "seed": 12345,
    "results_dir": None,
}
QUICK = {"orders": 5_000, "replay_orders": 200, "runs": 3, "plain_runs": 2}
REFERENCE_ORDERS = 1_000_000
TARGETS = {
    "month_ms": {"sqlite": 500.0, "postgresql": 200.0},
    "all_time_ms": {"sqlite": 1000.0, "postgresql": 1000.0},
    "rebuild_events_per_s": 5000.0,
}
PG_NAME = "hotline_bench_reporting"
PG_REPLAY = "hotline_bench_reporting_replay"
MONTH = (date(2026, 6, 1), date(2026, 6, 30))
ALL_TIME = (date(2025, 12, 1), date(2026, 11, 30))
GROUP_BY = "department"
COPY_CHUNK = data.CHUNK * 5  # orders per write


def rss_mb() -> dict[str, float]:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"now": round(psutil.Process().memory_info().rss / 2**20, 1),
            "peak": round(peak, 1)}


# -- writing the facts in bulk -----------------------------------------------------------------

def _sqlite_value(v: Any) -> Any:
    if isinstance(v, datetime):  # SQLAlchemy's SQLite DATETIME format, UTC (UtcDateTime)
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, bool):
        return int(v)
    return v


def _pg_value(v: Any) -> str:
    if v is None:
        return "\\N"
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, bool):
        return "t" if v else "f"
    return str(v)


class Writer:
    """Bulk writes of fact rows into one database (its own raw connection)."""

    def __init__(self, backend: str, url: str):
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        self.backend, self.seconds = backend, 0.0
        if backend == "sqlite":
            self.engine = None
            self.conn: Any = sqlite3.connect(make_url(url).database)
            self.conn.execute("PRAGMA synchronous=OFF")
            self.method = "sqlite3 executemany, one transaction, then ANALYZE"
        else:
            self.engine = create_engine(url)
            self.conn = self.engine.raw_connection()
            self.cur = self.conn.cursor()
            self.method = "COPY FROM STDIN (pg8000), then ANALYZE"

    def write(self, rows: dict[str, list[tuple]]) -> None:
        t0 = now()
        for table, cols in data.TABLES.items():
            batch = rows[table]
            if not batch:
                continue
            if self.backend == "sqlite":
                marks = ", ".join("?" * len(cols))
                self.conn.executemany(
                    f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})",
                    [tuple(_sqlite_value(v) for v in r) for r in batch])
            else:
                buf = io.StringIO()
                for r in batch:
                    buf.write("\t".join(_pg_value(v) for v in r))
                    buf.write("\n")
                buf.seek(0)
                self.cur.execute(f"COPY {table} ({', '.join(cols)}) FROM STDIN", stream=buf)
        self.seconds += now() - t0

    def finish(self) -> None:
        t0 = now()
        self.conn.commit()
        if self.backend == "sqlite":
            self.conn.execute("ANALYZE")
            self.conn.commit()
        else:
            self.cur.execute("ANALYZE")
            self.conn.commit()
        self.seconds += now() - t0
        self.conn.close()
        if self.engine is not None:
            self.engine.dispose()


def build(writers: list[Writer], n: int, seed: int) -> dict[str, Any]:
    """Plan ``n`` orders and write their facts into every writer's database."""
    t0 = now()
    planning = 0.0
    totals: dict[str, Any] = {name: 0 for name in data.TABLES}
    plan_counts: dict[str, int] = {}
    pending: list[data.Order] = []

    def flush() -> None:
        nonlocal planning
        t = now()
        rows = data.fact_rows(pending)
        planning += now() - t
        for name, r in rows.items():
            totals[name] += len(r)
        for w in writers:
            w.write(rows)
        pending.clear()

    for chunk in data.plan(n, seed):
        t = now()
        for k, v in data.counts(chunk).items():
            plan_counts[k] = plan_counts.get(k, 0) + v
        pending.extend(chunk)
        planning += now() - t
        if len(pending) >= COPY_CHUNK:
            flush()
        if chunk and (chunk[-1].index + 1) % 100_000 == 0:
            say(f"    {chunk[-1].index + 1:,} orders planned and written ({now() - t0:.0f} s)")
    if pending:
        flush()
    for w in writers:
        w.finish()
    return {"seconds": round(now() - t0, 1), "planning_seconds": round(planning, 1),
            "write_seconds": {w.backend: round(w.seconds, 1) for w in writers},
            "methods": {w.backend: w.method for w in writers},
            "rows": totals, "plan": plan_counts,
            "assignments_per_order": round(plan_counts["assignments"] / max(1, n), 3)}


# -- the KPI engine (helper kpi's modules) ------------------------------------------------------

def engine_functions() -> tuple[Callable[..., dict], Callable[..., dict], Callable[..., int]]:
    """(cube report, plain report, rebuild_cube) of the KPI engine."""
    from services.reporting import cube, kpis, kpis_plain

    plain = getattr(kpis_plain, "kpi_report", None) or kpis_plain.plain_report
    return kpis.kpi_report, plain, cube.rebuild_cube


def _comparable(report: dict[str, Any]) -> dict[str, Any]:
    """A report without what may differ between two ways of computing it (when it was made)."""
    return {k: v for k, v in report.items() if k not in ("as_of", "source", "took_ms")}


def differences(a: dict[str, Any], b: dict[str, Any], limit: int = 10) -> list[str]:
    """Where two reports differ: group by group, figure by figure (empty: they agree)."""
    out: list[str] = []
    a, b = _comparable(a), _comparable(b)
    rows_a = {r["group"]: r for r in a.get("rows", [])}
    rows_b = {r["group"]: r for r in b.get("rows", [])}
    for key in sorted(set(rows_a) | set(rows_b), key=str):
        if key not in rows_a or key not in rows_b:
            out.append(f"group {key}: only in {'cube' if key in rows_a else 'plain'}")
            continue
        for f in sorted(set(rows_a[key]) | set(rows_b[key])):
            if rows_a[key].get(f) != rows_b[key].get(f):
                out.append(f"{key}.{f}: cube {rows_a[key].get(f)} ≠ plain {rows_b[key].get(f)}")
    if a.get("total") != b.get("total"):
        for f in sorted(set(a.get("total") or {}) | set(b.get("total") or {})):
            va, vb = (a.get("total") or {}).get(f), (b.get("total") or {}).get(f)
            if va != vb:
                out.append(f"total.{f}: cube {va} ≠ plain {vb}")
    for k in sorted(set(a) - {"rows", "total"} | set(b) - {"rows", "total"}):
        if a.get(k) != b.get(k):
            out.append(f"{k}: cube {a.get(k)!r} ≠ plain {b.get(k)!r}")
    return out[:limit] + ([f"… {len(out) - limit} more"] if len(out) > limit else [])


def time_report(fn: Callable[..., dict], session: Any, span: tuple[date, date], runs: int,
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    """A first run, then ``runs`` timed runs: (timings, the report)."""
    times: list[float] = []
    t0 = now()
    report = fn(session, span[0], span[1], GROUP_BY, data.NOW)
    first = (now() - t0) * 1000
    session.rollback()
    for _ in range(runs):
        t0 = now()
        report = fn(session, span[0], span[1], GROUP_BY, data.NOW)
        times.append((now() - t0) * 1000)
        session.rollback()
    return {"first_ms": round(first, 1), **summarize(times),
            "runs_ms": [round(t, 1) for t in times]}, report


def measure_reports(url: str, runs: int, plain_runs: int) -> dict[str, Any]:
    """The cube built from the facts, then each report from the cube and by plain GROUP BY."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from services.reporting.models import KpiCube, metadata
    from shared.database import Database

    cube_report, plain_report, rebuild_cube = engine_functions()
    db = Database.standalone(metadata, url, "reporting")
    out: dict[str, Any] = {}
    try:
        with Session(db.engine) as session:
            t0 = now()
            rebuild_cube(session)
            session.commit()
            out["cube_rebuild_s"] = round(now() - t0, 2)
            out["cube_rows"] = session.scalar(select(func.count()).select_from(KpiCube))
        out["rss_after_cube_mb"] = rss_mb()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE kpi_cube")
                conn.commit()
        for name, span in (("month", MONTH), ("all_time", ALL_TIME)):
            with Session(db.engine) as session:
                cube_t, cube_r = time_report(cube_report, session, span, runs)
            plain_error = None
            try:
                with Session(db.engine) as session:
                    plain_t, plain_r = time_report(plain_report, session, span, plain_runs)
                diff = differences(cube_r, plain_r)
            except Exception as exc:  # noqa: BLE001 - recorded: the comparison could not run
                plain_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:400]}"
                plain_t, diff = summarize([]), [f"the plain report failed: {plain_error}"]
                say(f"    {name}: the plain report failed: {plain_error}")
            out[name] = {"from": span[0].isoformat(), "to": span[1].isoformat(),
                         "cube": cube_t, "plain": plain_t, "plain_error": plain_error,
                         "speedup": (round(plain_t["p50"] / cube_t["p50"], 1)
                                     if cube_t["p50"] and plain_t["p50"] else None),
                         "agree": not diff, "differences": diff,
                         "groups": len(cube_r.get("rows", [])),
                         "total": _headline(cube_r.get("total") or {})}
            say(f"    {name}: cube p50 {cube_t['p50']} ms p95 {cube_t['p95']} ms (first "
                f"{cube_t['first_ms']}); plain p50 {plain_t['p50']} ms; agree {not diff}")
    finally:
        db.engine.dispose()
    return out


def _headline(total: dict[str, Any]) -> dict[str, Any]:
    """The total row's figures, the rates as numerator/sample (a glance at the data)."""
    out: dict[str, Any] = {}
    for k, v in total.items():
        if isinstance(v, dict) and "rate" in v:
            out[k] = v["rate"]
        elif isinstance(v, int | float) and not isinstance(v, bool):
            out[k] = v
    if isinstance(total.get("three_rates"), dict):
        out["three_rates_score"] = total["three_rates"].get("score")
    return out


# -- the rebuild from the event log --------------------------------------------------------------

def replay_events(n: int, seed: int) -> tuple[list[dict[str, Any]], list[data.Order], float]:
    """The envelopes of the first ``n`` orders (as the services would have published them)."""
    t0 = now()
    orders = [o for chunk in data.plan(n, seed) for o in chunk]
    envelopes = [e for o in orders for e in data.events(o)]
    return envelopes, orders, now() - t0


def append_events(url: str, envelopes: list[dict[str, Any]]) -> float:
    from sqlalchemy import insert

    from services.reporting.models import EventLog, metadata
    from shared.database import Database

    db = Database.standalone(metadata, url, "reporting")
    t0 = now()
    try:
        with db.engine.begin() as conn:
            rows = [{"event_id": e["event_id"], "type": e["type"], "version": e["version"],
                     "producer": e["producer"], "ticket_no": e["ticket_no"],
                     "sequence": e["sequence"], "occurred_at": datetime.fromisoformat(e["occurred_at"]),
                     "received_at": data.NOW, "envelope": e} for e in envelopes]
            for i in range(0, len(rows), 10_000):
                conn.execute(insert(EventLog.__table__), rows[i:i + 10_000])
    finally:
        db.engine.dispose()
    return now() - t0


def rebuild(url: str) -> dict[str, Any]:
    """The service's rebuild RPC (worker_factory, the real unit of work), then the cube if the
    RPC did not rebuild it. The hotspots' tokenizer is loaded first and timed apart, as the
    service loads it at start."""
    from nameko.testing.services import worker_factory
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from services.reporting import hotspots
    from services.reporting.models import KpiCube, metadata
    from services.reporting.service import ReportingService
    from shared.database import Database

    _, _, rebuild_cube = engine_functions()
    # the service loads its tokenizer at start (dependencies.HotspotTokenizer), not per rebuild
    t0 = now()
    hotspots.tokenizer()
    tokenizer_s = now() - t0
    db = Database.standalone(metadata, url, "reporting")
    try:
        uow = db.unit_of_work(consumer="reporting.rebuild")
        worker = worker_factory(ReportingService, db=uow)
        t0 = now()
        try:
            replayed = worker.rebuild()
        finally:
            uow.rollback()
        rpc_s = now() - t0
        with Session(db.engine) as session:
            cube_rows = session.scalar(select(func.count()).select_from(KpiCube)) or 0
            cube_s = 0.0
            cube_in_rpc = bool(cube_rows)
            if not cube_in_rpc:
                t0 = now()
                cube_rows = rebuild_cube(session)
                session.commit()
                cube_s = now() - t0
    finally:
        db.engine.dispose()
    return {"rpc_result": replayed, "rpc_s": round(rpc_s, 2), "cube_in_rpc": cube_in_rpc,
            "tokenizer_load_s": round(tokenizer_s, 2),
            "cube_s": round(cube_s, 2), "cube_rows": cube_rows}


def read_facts(url: str) -> dict[str, list[tuple]]:
    """Every fact row of the tables the generator writes, in the generator's column order."""
    from sqlalchemy import text

    from services.reporting.models import metadata
    from shared.database import Database

    db = Database.standalone(metadata, url, "reporting")
    out: dict[str, list[tuple]] = {}
    try:
        with db.engine.connect() as conn:
            for table, cols in data.TABLES.items():
                t = metadata.tables[table]
                rows = conn.execute(t.select().with_only_columns(*(t.c[c] for c in cols))
                                    .order_by(text("1")))
                out[table] = [tuple(r) for r in rows]
    finally:
        db.engine.dispose()
    return out


def compare_facts(replayed: dict[str, list[tuple]], generated: dict[str, list[tuple]],
                  limit: int = 10) -> list[str]:
    """Where the replayed facts differ from the generated rows (empty: identical)."""
    out: list[str] = []
    for table, cols in data.TABLES.items():
        got = {r[0]: r for r in replayed.get(table, [])}
        want = {r[0]: r for r in generated.get(table, [])}
        for key in sorted(set(got) | set(want), key=str):
            if key not in got or key not in want:
                out.append(f"{table} {key}: only {'replayed' if key in got else 'generated'}")
                continue
            for c, x, y in zip(cols, got[key], want[key], strict=True):
                if x != y:
                    out.append(f"{table} {key}.{c}: replayed {x!r} ≠ generated {y!r}")
    return out[:limit] + ([f"… {len(out) - limit} more"] if len(out) > limit else [])


def measure_rebuild(url: str, envelopes: list[dict[str, Any]],
                    orders: list[data.Order]) -> dict[str, Any]:
    appended = append_events(url, envelopes)
    r = rebuild(url)
    total = r["rpc_s"] + r["cube_s"]
    diffs = compare_facts(read_facts(url), data.fact_rows(orders))
    r.update({"orders": len(orders), "events": len(envelopes),
              "append_s": round(appended, 2), "total_s": round(total, 2),
              "events_per_s": round(len(envelopes) / total) if total else None,
              "facts_equal_generated": not diffs, "fact_differences": diffs})
    return r


# -- databases -------------------------------------------------------------------------------

def _urls(backend: str, tmp: Path) -> tuple[str, str]:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'reporting.db'}", f"sqlite:///{tmp / 'replay.db'}"
    return f"{PG_BASE}/{PG_NAME}", f"{PG_BASE}/{PG_REPLAY}"


def fresh(url: str) -> None:
    from shared.database import ensure_database
    from shared.migrations import upgrade

    ensure_database(url)
    upgrade("reporting", url)


# -- output ----------------------------------------------------------------------------------

def _met(value: float | None, goal: float, reference: bool, below: bool = True) -> bool | None:
    if value is None or not reference:
        return None
    return value <= goal if below else value >= goal


def markdown(r: dict[str, Any]) -> str:
    p, b = r["parameters"], r["build"]
    m, v = r["machine"], r["versions"]
    lines = [
        f"#### `hotline bench reporting` — {p['orders']:,} orders ({r['timestamp'][:10]}, "
        f"{m['cpu_count']} cores, {m['cpu_model']}, {m['memory_total_mb']} MB; Python "
        f"{v['python']}, SQLAlchemy {v['SQLAlchemy']}, SQLite {v['sqlite']}, PostgreSQL "
        f"{v.get('postgresql', '–')}, pg8000 {v.get('pg8000')})",
        "",
        f"Data: {p['orders']:,} orders of assessment year {data.YEAR} "
        f"({b['rows']['assignment_fact']:,} assignments = {b['assignments_per_order']} an order, "
        f"{b['rows']['urge_fact']:,} urges, {b['rows']['callback_fact']:,} callback attempts, "
        f"{b['rows']['return_fact']:,} returns, {b['rows']['link_fact']:,} repeat calls); "
        f"planned in {b['planning_seconds']} s, written in "
        + ", ".join(f"{k} {s} s" for k, s in b["write_seconds"].items()) + ".",
        "",
        "| Measure | Goal | " + " | ".join(r["backends"]) + " |",
        "|---|---|" + "---|" * len(r["backends"]),
    ]
    per = r["per_backend"]

    def row(label: str, goal: str, cell: Callable[[dict[str, Any], str], str]) -> None:
        lines.append(f"| {label} | {goal} | " + " | ".join(cell(per[k], k) for k in r["backends"])
                     + " |")

    def mark(ok: bool | None) -> str:
        return "" if ok is None else (" ✔" if ok else " ✘")

    row("Cube rebuilt from the facts (`rebuild_cube`)", "—",
        lambda x, k: f"{x['reports']['cube_rebuild_s']} s ({x['reports']['cube_rows']:,} rows)")
    for name, label in (("month", "One month (June 2026) by department"),
                        ("all_time", "All time (12 months) by department")):
        goal_key = "month_ms" if name == "month" else "all_time_ms"
        row(f"{label}: cube, p50 / p95 (first)",
            " / ".join(f"≤ {TARGETS[goal_key][k]:g} ms {k}" for k in r["backends"])
            if name == "month" else "≤ 1,000 ms",
            lambda x, k, n=name, g=goal_key: (
                f"**{x['reports'][n]['cube']['p50']} / {x['reports'][n]['cube']['p95']} ms**"
                f"{mark(x['targets'][g]['met'])} ({x['reports'][n]['cube']['first_ms']} ms)"))
        row(f"{label}: plain GROUP BY, p50 / p95", "comparison",
            lambda x, k, n=name: ("**failed**" if x["reports"][n].get("plain_error") else
                                  f"{x['reports'][n]['plain']['p50']} / "
                                  f"{x['reports'][n]['plain']['p95']} ms "
                                  f"(cube {x['reports'][n]['speedup']}× faster)"))
        row(f"{label}: cube and plain reports agree", "equal",
            lambda x, k, n=name: "yes" if x["reports"][n]["agree"] else
            "**no**: " + "; ".join(x["reports"][n]["differences"][:3]))
    row("Rebuild from the event log (replay → facts → cube)", "≥ 5,000 events/s",
        lambda x, k: (f"**{x['rebuild']['events_per_s']:,} events/s**"
                      f"{mark(x['targets']['rebuild_events_per_s']['met'])} "
                      f"({x['rebuild']['events']:,} events of {x['rebuild']['orders']:,} orders: "
                      f"replay {x['rebuild']['rpc_s']} s + cube {x['rebuild']['cube_s']} s)"))
    row("Replayed facts equal the bulk-loaded rows", "equal",
        lambda x, k: "yes" if x["rebuild"]["facts_equal_generated"] else
        "**no**: " + "; ".join(x["rebuild"]["fact_differences"][:3]))
    row("RSS of the benchmark process after the cube (now / peak)", "—",
        lambda x, k: (f"{x['reports']['rss_after_cube_mb']['now']} / "
                      f"{x['reports']['rss_after_cube_mb']['peak']} MB"))
    t = per[r["backends"][0]]["reports"]["all_time"]["total"]
    lines += ["", "All-time totals (the cube's): " + ", ".join(
        f"{k} {val}" for k, val in t.items()) + "."]
    lines += [f"- {n}" for n in r.get("notes", [])]
    return "\n".join(lines) + "\n"


# -- the run ---------------------------------------------------------------------------------

def options(given: dict[str, Any]) -> dict[str, Any]:
    unknown = set(given) - set(DEFAULTS) - {"database"}
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))}")
    opts = dict(DEFAULTS)
    if given.get("quick"):
        opts.update(QUICK)
    opts.update({k: v for k, v in given.items() if v is not None and k != "database"})
    backend = opts["backend"] or {"sqlite": "sqlite", "postgres": "postgresql"}.get(
        given.get("database") or "", "both")
    if backend not in ("sqlite", "postgresql", "both"):
        raise ValueError("backend must be sqlite, postgresql or both")
    opts["backends"] = ["sqlite", "postgresql"] if backend == "both" else [backend]
    opts["backend"] = backend
    if not 100 <= int(opts["orders"]) <= 5_000_000:
        raise ValueError("orders must be between 100 and 5,000,000")
    opts["replay_orders"] = min(int(opts["replay_orders"]), int(opts["orders"]))
    return opts


def run(config: dict[str, Any], **given: Any) -> int:
    """``hotline bench reporting``: see the module docstring. 0 when the run completed and the
    reports and facts agreed (whether or not the targets were met), 1 when it could not run or
    a check failed, 2 on bad options."""
    try:
        opts = options(given)
    except ValueError as exc:
        print(f"bench reporting: {exc}", file=sys.stderr)
        return 2
    n, seed, backends = int(opts["orders"]), int(opts["seed"]), opts["backends"]
    started = now()
    tmp = Path(tempfile.mkdtemp(prefix="hotline-bench-reporting-"))
    say(f"bench reporting ({', '.join(backends)}): {n:,} orders, {opts['replay_orders']:,} "
        "replayed")
    background = background_load()
    per: dict[str, Any] = {}
    try:
        if "postgresql" in backends:
            drop_pg_databases([PG_NAME, PG_REPLAY])
        urls = {b: _urls(b, tmp) for b in backends}
        for b in backends:
            fresh(urls[b][0])
            fresh(urls[b][1])
        say("  planning and writing the facts …")
        built = build([Writer(b, urls[b][0]) for b in backends], n, seed)
        say(f"  built in {built['seconds']} s: {built['rows']}")
        envelopes, slice_orders, gen_s = replay_events(int(opts["replay_orders"]), seed)
        say(f"  {len(envelopes):,} events of {len(slice_orders):,} orders generated in "
            f"{gen_s:.1f} s")
        for b in backends:
            say(f"  {b}: cube and reports …")
            reports = measure_reports(urls[b][0], int(opts["runs"]), int(opts["plain_runs"]))
            say(f"  {b}: rebuild from the event log …")
            rebuilt = measure_rebuild(urls[b][1], envelopes, slice_orders)
            say(f"    {rebuilt['events_per_s']} events/s ({rebuilt['events']} events: replay "
                f"{rebuilt['rpc_s']} s, cube {rebuilt['cube_s']} s); facts equal "
                f"{rebuilt['facts_equal_generated']}")
            per[b] = {"reports": reports, "rebuild": rebuilt}
        ver = versions(str(config.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")),
                       "postgres" if "postgresql" in backends else "sqlite",
                       urls["postgresql"][0] if "postgresql" in backends else None)
    except Exception as exc:  # noqa: BLE001 - reported; cleanup below
        import traceback
        traceback.print_exc()
        say(f"bench reporting failed: {type(exc).__name__}: {exc}")
        return 1
    finally:
        if "postgresql" in backends:
            try:
                drop_pg_databases([PG_NAME, PG_REPLAY])
            except Exception as exc:  # noqa: BLE001
                say(f"could not drop databases {PG_NAME}, {PG_REPLAY}: {exc}")
        shutil.rmtree(tmp, ignore_errors=True)

    reference = n == REFERENCE_ORDERS and not opts["quick"]
    for b, x in per.items():
        rep, reb = x["reports"], x["rebuild"]
        x["targets"] = {
            "month_ms": {"goal": TARGETS["month_ms"][b], "p50": rep["month"]["cube"]["p50"],
                         "met": _met(rep["month"]["cube"]["p50"], TARGETS["month_ms"][b],
                                     reference)},
            "all_time_ms": {"goal": TARGETS["all_time_ms"][b],
                            "p50": rep["all_time"]["cube"]["p50"],
                            "met": _met(rep["all_time"]["cube"]["p50"],
                                        TARGETS["all_time_ms"][b], reference)},
            "rebuild_events_per_s": {"goal": TARGETS["rebuild_events_per_s"],
                                     "measured": reb["events_per_s"],
                                     "met": _met(reb["events_per_s"],
                                                 TARGETS["rebuild_events_per_s"], reference,
                                                 below=False)}}
    result: dict[str, Any] = {
        "benchmark": "reporting", "backends": backends,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(), "versions": ver,
        "parameters": {"orders": n, "replay_orders": int(opts["replay_orders"]),
                       "runs": int(opts["runs"]), "plain_runs": int(opts["plain_runs"]),
                       "seed": seed, "quick": bool(opts["quick"]), "group_by": GROUP_BY,
                       "month": [MONTH[0].isoformat(), MONTH[1].isoformat()],
                       "all_time": [ALL_TIME[0].isoformat(), ALL_TIME[1].isoformat()],
                       "benchmark_instant": data.NOW.isoformat(),
                       "departments": len(data.DEPARTMENTS),
                       "categories": len(data.CATEGORIES),
                       "territories": len(data.TERRITORIES), "channels": len(data.CHANNELS)},
        "how": ("facts bulk-loaded (the generator mirrors the projections; checked on the replay "
                "slice), cube by services.reporting.cube.rebuild_cube, reports by "
                "services.reporting.kpis.kpi_report and services.reporting.kpis_plain in the "
                "same process and run; p50/p95 of the timed runs after a first run; rebuild by "
                "the rebuild RPC through nameko's worker_factory with the real unit of work"),
        "build": built, "replay_generation_s": round(gen_s, 1),
        "per_backend": per, "background_before_run": background, "notes": [],
        "run_seconds": round(now() - started, 1),
    }
    if background.get("cpu_percent_of_one_core", 0) > 25 or \
            background.get("other_hotline_service_processes"):
        result["notes"].append(f"Other work was running on the machine before the run "
                               f"({background}); the figures may be pessimistic.")
    ok = all(x["reports"][k]["agree"] for x in per.values() for k in ("month", "all_time")) \
        and all(x["rebuild"]["facts_equal_generated"] for x in per.values())
    result["checks_ok"] = ok
    stem = (f"reporting-{opts['backend']}" if reference else
            f"reporting-n{n}-{opts['backend']}" + ("-quick" if opts["quick"] else ""))
    md = markdown(result)
    path = write_results(stem, result, md, opts["results_dir"])
    say("")
    say(md)
    say(f"results: {path} and .md ({result['run_seconds']} s)")
    return 0 if ok else 1
