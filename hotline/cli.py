"""``hotline``: the one entry point (ARCHITECTURE.md "Running it").

    hotline up [--demo]          migrate, start every service and the gateway, load demo data
    hotline serve SERVICE        run one service in the foreground (containers, Kubernetes)
    hotline migrate              Alembic upgrade of every service + declare the queues
    hotline demo                 load demo data into a running system
    hotline walkthrough          drive one order through its whole life over HTTP
    hotline reconcile            check the services against each other
    hotline dlq list|replay      the dead-letter queue
    hotline bench [NAME]         benchmarks (bench/: flow, sweep, lifecycle, deliveries, knowledge,
                                 reporting), results in bench/results/
    hotline kb import FILE… [--publish] [--type T] [--department CODE] [--category C]
                                 bulk import of .txt/.md/.docx into the knowledge base (资料库)
    hotline reporting rebuild [--direct] [--database-url URL]
                                 replay reporting's event log into its facts and KPI cube
    hotline dept-sim --dept CODE:SECRET[:API_KEY] …
                                 a reference department system: receives webhooks, signs, replies
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hotline", description="12345 政务服务便民热线平台")
    parser.add_argument("--config", default=None, help="YAML configuration file")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole system")
    up.add_argument("--demo", action="store_true", help="load demo data and walk one order through")
    up.add_argument("--exit-after-start", action="store_true",
                    help="start, load, then stop (smoke test)")

    serve = sub.add_parser("serve", help="run one service in the foreground")
    serve.add_argument("service")

    sub.add_parser("migrate", help="migrate every database and declare queues")
    sub.add_parser("demo", help="load demo data into a running system")
    walk = sub.add_parser("walkthrough", help="one order end to end over HTTP")
    walk.add_argument("--url", default=None)
    sub.add_parser("reconcile", help="cross-service consistency report")

    dlq = sub.add_parser("dlq", help="dead-letter queue")
    dlq.add_argument("action", choices=["list", "replay"])
    dlq.add_argument("--limit", type=int, default=100)

    bench = sub.add_parser("bench", help="run a benchmark")
    bench.add_argument("name", nargs="?", default="flow")
    bench.add_argument("--rate", type=float, default=None, help="offered load, orders/s")
    bench.add_argument("--duration", type=float, default=None, help="seconds")
    bench.add_argument("--database", choices=["sqlite", "postgres"], default=None,
                       help="default sqlite (reporting: both unless given)")
    bench.add_argument("--assignments", type=int, default=None,
                       help="sweep: open assignments (default 1,000,000)")
    bench.add_argument("--due-fraction", type=float, default=None,
                       help="sweep: fraction of them due (default 0.1)")
    bench.add_argument("--batch", type=int, default=None,
                       help="sweep: clocks per sweep call (default 1000, SWEEP_BATCH)")
    bench.add_argument("--lifecycles", type=int, default=None,
                       help="lifecycle: orders driven through their whole life")
    bench.add_argument("--clients", type=int, default=None,
                       help="lifecycle: concurrent HTTP clients")
    bench.add_argument("--articles", type=int, default=None,
                       help="knowledge: articles in the corpus (default 10,000)")
    bench.add_argument("--latency-queries", type=int, default=None,
                       help="knowledge: searches timed in process (default 3000)")
    bench.add_argument("--service-queries", type=int, default=None,
                       help="knowledge: searches timed through the service (default 1000)")
    bench.add_argument("--no-service", dest="service", action="store_const", const=False,
                       default=None, help="knowledge: measure in process only")
    bench.add_argument("--orders", type=int, default=None,
                       help="reporting: orders of the generated year (default 1,000,000)")
    bench.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default=None,
                       help="reporting: the databases measured (default both)")
    bench.add_argument("--quick", action="store_const", const=True, default=None,
                       help="reporting: 5,000 orders, 200 replayed, 3 runs (the unit test)")
    bench.add_argument("--replay-orders", type=int, default=None,
                       help="reporting: orders whose events the rebuild replays (default 2,000)")
    bench.add_argument("--output", default=None, help="results directory (default bench/results)")

    add_dept_sim_parser(sub)
    add_kb_parser(sub)
    add_reporting_parser(sub)

    args = parser.parse_args(argv)
    if args.config:
        os.environ["HOTLINE_CONFIG"] = args.config

    if args.command == "serve":
        from hotline.runner import main as run_service
        return run_service([args.service] + (["--config", args.config] if args.config else []))

    if args.command == "dept-sim":  # plain threads, no eventlet
        from hotline import deptsim
        return deptsim.main(args)

    import eventlet
    eventlet.monkey_patch()
    from hotline import commands
    from shared.config import load_config

    config = load_config(args.config)
    handlers: dict[str, Any] = {
        "up": lambda: commands.up(config, demo=args.demo, exit_after_start=args.exit_after_start),
        "migrate": lambda: commands.migrate(config),
        "demo": lambda: commands.load_demo(config),
        "walkthrough": lambda: commands.walkthrough(args.url or commands.gateway_url(config)),
        "reconcile": lambda: commands.reconcile(config),
        "dlq": lambda: commands.dlq(config, args.action, args.limit),
        "kb": lambda: commands.kb_import(config, args.files, publish=args.publish,
                                         article_type=args.type, department_code=args.department,
                                         categories=args.category),
        "reporting": lambda: commands.reporting_rebuild(
            config, direct=args.direct, database_url=args.database_url),
        "bench": lambda: commands.bench(
            config, args.name, rate=args.rate, duration=args.duration, database=args.database,
            assignments=args.assignments, due_fraction=args.due_fraction, batch=args.batch,
            lifecycles=args.lifecycles, clients=args.clients, results_dir=args.output,
            articles=args.articles, latency_queries=args.latency_queries,
            service_queries=args.service_queries, service=args.service, orders=args.orders,
            backend=args.backend, quick=args.quick, replay_orders=args.replay_orders),
    }
    return int(handlers[args.command]() or 0)


# -- Step 3 deptsim: the reference department system ------------------------------------------
def add_dept_sim_parser(sub: Any) -> None:
    sim = sub.add_parser("dept-sim", help="a reference department system (webhook receiver)",
                         description="Receives the hotline's signed webhooks, verifies them, and "
                         "signs and replies through the inbound API (hotline/deptsim.py).")
    sim.add_argument("--dept", action="append", metavar="CODE:SECRET[:API_KEY]",
                     help="a department served (repeatable); without API_KEY: receive only")
    sim.add_argument("--departments-file", default=None,
                     help="JSON or YAML: a list of {department_code, secret, api_key}")
    sim.add_argument("--hotline-url", default=os.environ.get("HOTLINE_URL", "http://127.0.0.1:8000"),
                     help="the hotline's gateway (default $HOTLINE_URL or http://127.0.0.1:8000)")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8700, help="0: any free port (printed)")
    sim.add_argument("--delay", type=float, default=2.0, help="seconds before acting (0 allowed)")
    sim.add_argument("--no-act", action="store_true", help="receive and count only")
    sim.add_argument("--progress", action="store_true", help="post a progress note after signing")
    sim.add_argument("--fail-rate", type=float, default=0.0,
                     help="fraction of webhooks answered 500 (failure injection)")
    sim.add_argument("--down-until", default=None,
                     help="answer 503 until: Unix seconds, +SECONDS, or ISO time with offset")
    sim.add_argument("--record", action="store_true",
                     help="keep arrival records for GET /_arrivals (benchmark)")
    sim.add_argument("--hold-max", type=float, default=25.0,
                     help="longest a webhook is held while POST /_control {hold: true}, s")
    sim.add_argument("--workers", type=int, default=4, help="acting threads")
    sim.add_argument("--max-attempts", type=int, default=20,
                     help="tries per action (with the default backoff about 7 minutes)")
    sim.add_argument("--backoff-base", type=float, default=0.5, help="first retry after, s")
    sim.add_argument("--backoff-max", type=float, default=30.0, help="longest retry wait, s")
    sim.add_argument("--log-level", default="INFO")


# -- Step 4 import: the knowledge base's bulk import -------------------------------------------
def add_kb_parser(sub: Any) -> None:
    kb = sub.add_parser("kb", help="knowledge base (资料库) operations")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    imp = kb_sub.add_parser("import", help="import .txt/.md/.docx documents, split by headings",
                            description="Each file is imported whole or not at all; a file that "
                            "cannot be read is reported and the others imported. Exit code 1 "
                            "when a file failed.")
    imp.add_argument("files", nargs="+", metavar="FILE")
    imp.add_argument("--publish", action="store_true", help="publish the entries at once")
    imp.add_argument("--type", default=None, choices=["policy", "guide", "responsibility", "faq"],
                     help="type of entries whose title names no policy document")
    imp.add_argument("--department", default=None, metavar="CODE", help="owner department")
    imp.add_argument("--category", action="append", default=None, metavar="C",
                     help="a category the entries apply to (repeatable)")


# -- Step 5 reporting: rebuild by replay -------------------------------------------------------
def add_reporting_parser(sub: Any) -> None:
    rep = sub.add_parser("reporting", help="reporting (统计报表) operations")
    rep_sub = rep.add_subparsers(dest="reporting_command", required=True)
    rebuild = rep_sub.add_parser(
        "rebuild", help="replay the event log into the facts and the KPI cube",
        description="Empties every table reporting builds from events (facts, KPI cube) and "
        "replays its append-only event log. By default the running reporting service does it "
        "(RPC); --direct works on the database itself (stop the reporting service first).")
    rebuild.add_argument("--direct", action="store_true",
                         help="on the database directly instead of over RPC")
    rebuild.add_argument("--database-url", default=None,
                         help="with --direct: reporting's database (default from the config)")


if __name__ == "__main__":
    sys.exit(main())
