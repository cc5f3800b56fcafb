"""``hotline``: the one entry point (ARCHITECTURE.md "Running it").

    hotline up [--demo]          migrate, start every service and the gateway, load demo data
    hotline serve SERVICE        run one service in the foreground (containers, Kubernetes)
    hotline migrate              Alembic upgrade of every service + declare the queues
    hotline demo                 load demo data into a running system
    hotline walkthrough          drive one order through its whole life over HTTP
    hotline reconcile            check the services against each other
    hotline dlq list|replay      the dead-letter queue
    hotline bench [NAME]         benchmarks (bench/: flow, sweep, lifecycle), results in bench/results/
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
    bench.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
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
    bench.add_argument("--output", default=None, help="results directory (default bench/results)")

    args = parser.parse_args(argv)
    if args.config:
        os.environ["HOTLINE_CONFIG"] = args.config

    if args.command == "serve":
        from hotline.runner import main as run_service
        return run_service([args.service] + (["--config", args.config] if args.config else []))

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
        "bench": lambda: commands.bench(
            config, args.name, rate=args.rate, duration=args.duration, database=args.database,
            assignments=args.assignments, due_fraction=args.due_fraction, batch=args.batch,
            lifecycles=args.lifecycles, clients=args.clients, results_dir=args.output),
    }
    return int(handlers[args.command]() or 0)


if __name__ == "__main__":
    sys.exit(main())
