"""Run one service in this process: ``python -m hotline.runner <service>``.

eventlet's monkey patching must come before anything imports sockets or threads, so it is
the first thing this module does; every service process starts here.
"""

import os

# eventlet's native thread pool only hashes passwords here (shared/auth.py); each of its
# threads would keep a 19 MiB malloc arena after an argon2 hash, so keep it small.
os.environ.setdefault("EVENTLET_THREADPOOL_SIZE", "2")

import eventlet

eventlet.monkey_patch()  # noqa: E402  (must precede the imports below)

import argparse  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from nameko.runners import ServiceRunner  # noqa: E402

from hotline.registry import service_class  # noqa: E402
from shared import logs  # noqa: E402
from shared.config import load_config  # noqa: E402

log = logging.getLogger("hotline.runner")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hotline-service")
    parser.add_argument("service")
    parser.add_argument("--config", default=None)
    args = parser.parse_args(argv)
    config = load_config(args.config)
    logs.configure(args.service, config.get("LOG_LEVEL", "INFO"), config.get("LOG_FORMAT", "json"))
    runner = ServiceRunner(config)
    runner.add_service(service_class(args.service))

    def shutdown(signum: int, _frame: object) -> None:
        log.info("stopping", extra={"signal": signum})
        eventlet.spawn_n(runner.stop)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    runner.start()
    log.info("service started", extra={"service": args.service})
    try:
        runner.wait()
    except Exception:
        log.exception("service crashed")
        runner.kill()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
