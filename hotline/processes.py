"""Start the services as separate processes and wait until they answer.

Used by ``hotline up``, the end-to-end tests and the benchmarks, so all three run the system
the same way: one OS process per service (``python -m hotline.runner <name>``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import requests

from hotline.registry import SERVICE_NAMES


class Cluster:
    def __init__(self, env: Mapping[str, str] | None = None, log_dir: str | Path | None = None,
                 names: Iterable[str] = SERVICE_NAMES):
        self.env = dict(os.environ if env is None else env)
        self.names = list(names)
        self.log_dir = Path(log_dir) if log_dir else None
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    def start(self, names: Iterable[str] | None = None) -> None:
        for name in names or self.names:
            self.start_one(name)

    def start_one(self, name: str) -> subprocess.Popen[bytes]:
        out: Any = None
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
            self._logs.append(out)
        proc = subprocess.Popen([sys.executable, "-m", "hotline.runner", name], env=self.env,
                                stdout=out, stderr=subprocess.STDOUT if out else None,
                                start_new_session=True)
        self.procs[name] = proc
        return proc

    def stop_one(self, name: str, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def kill_one(self, name: str) -> None:
        self.stop_one(name, signal.SIGKILL)

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM every service at once, then SIGKILL whatever has not exited by the deadline."""
        procs = [p for p in self.procs.values() if p.poll() is None]
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.procs.clear()
        for f in self._logs:
            f.close()
        self._logs.clear()

    def dead(self) -> list[str]:
        return [n for n, p in self.procs.items() if p.poll() is not None]

    def pids(self) -> dict[str, int]:
        return {n: p.pid for n, p in self.procs.items()}

    def wait_healthy(self, base_url: str, timeout: float = 60.0) -> dict[str, Any]:
        """Poll ``/health`` until every component is ok, or raise with the last answer."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            dead = self.dead()
            if dead:
                raise RuntimeError(f"service process exited: {', '.join(dead)}"
                                   + (f" (logs in {self.log_dir})" if self.log_dir else ""))
            try:
                r = requests.get(f"{base_url}/health", timeout=3)
                last = r.json()
                if r.status_code == 200:
                    return last
            except (requests.RequestException, ValueError) as exc:
                last = str(exc)
            time.sleep(0.2)  # polling interval of a wait with a deadline
        raise TimeoutError(f"system not healthy after {timeout}s: {last}")

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def start_dept_sim(args: list[str], port: int, log_path: Path,
                   env: Mapping[str, str] | None = None, host: str = "127.0.0.1",
                   timeout: float = 20.0) -> subprocess.Popen[bytes]:
    """Start ``hotline dept-sim --host host --port port *args`` (the reference department
    system) as its own process, logging to ``log_path``, and return once it answers
    ``/health``; raises if it exits first or is not listening within ``timeout``. Used by
    ``hotline up --demo``, the benchmark and the end-to-end tests."""
    from hotline.client import wait_for

    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "dept-sim", "--host", host, "--port",
             str(port), *args], stdout=out, stderr=subprocess.STDOUT,
            env=dict(os.environ if env is None else env), start_new_session=True)

    def listening() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"dept-sim exited ({proc.returncode}); see {log_path}")
        return requests.get(f"http://{host}:{port}/health", timeout=1).ok

    try:
        wait_for(listening, timeout=timeout, what=f"dept-sim listening (log {log_path})")
    except BaseException:
        stop_process(proc)
        raise
    return proc


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10) -> int:
    """SIGTERM, then SIGKILL after ``timeout``; the exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return int(proc.returncode)
