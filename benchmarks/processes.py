"""Worker, dispatcher, the peers' workers, daphne and Redis processes, started and stopped by the benchmarks."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from harness import servers

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PYTHON = sys.executable
#: Tasks one of our worker processes runs at a time (RETRY_CONCURRENCY's default); every peer's worker gets the same.
CONCURRENCY = 8
#: Every process started here, so that a suite that fails stops what it started.
STARTED: list[subprocess.Popen[bytes]] = []


def start(name: str, command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``command`` in the repository, its output going to results/logs/<name>.log."""
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{name}.log", "ab") as log:
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=log)
    STARTED.append(process)
    return process


def stop(processes: list[subprocess.Popen[bytes]], timeout: float = 15.0) -> None:
    """SIGTERM each process, then SIGKILL what is still there after ``timeout``."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def our_worker(index: int, channels: Sequence[str] = ("tasks.default",)) -> subprocess.Popen[bytes]:
    """``manage.py runworker`` on ``channels``; none: every queue, as the Procfile's worker."""
    return start(f"worker-{index}", [PYTHON, "manage.py", "runworker", *channels])


def dispatcher() -> subprocess.Popen[bytes]:
    return start("dispatcher", [PYTHON, "manage.py", "dispatcher"])


def raw_worker(index: int) -> subprocess.Popen[bytes]:
    return start(f"raw-worker-{index}", [PYTHON, "-m", "benchmarks.raw_worker"])


def celery_worker(index: int) -> subprocess.Popen[bytes]:
    command = [PYTHON, "-m", "celery", "-A", "benchmarks.peers.celery_app", "worker", "--pool", "threads"]
    command += ["--concurrency", str(CONCURRENCY), "--hostname", f"bench{index}@%h", "--loglevel", "WARNING"]
    command += ["--without-heartbeat", "--without-mingle", "--without-gossip"]
    return start(f"celery-{index}", command)


def huey_worker(index: int) -> subprocess.Popen[bytes]:
    command = [PYTHON, "-m", "huey.bin.huey_consumer", "benchmarks.peers.huey_app.huey"]
    return start(f"huey-{index}", [*command, "--worker-type", "thread", "--workers", str(CONCURRENCY), "--quiet"])


def dramatiq_worker(index: int) -> subprocess.Popen[bytes]:
    command = [PYTHON, "-m", "dramatiq", "benchmarks.peers.dramatiq_app", "--processes", "1"]
    return start(f"dramatiq-{index}", [*command, "--threads", str(CONCURRENCY)])


def procrastinate_worker(index: int) -> subprocess.Popen[bytes]:
    command = [PYTHON, "manage.py", "procrastinate", "worker", "--concurrency", str(CONCURRENCY)]
    return start(f"procrastinate-{index}", [*command, "--name", f"bench{index}"])


def tasks_db_worker(index: int) -> subprocess.Popen[bytes]:
    return start(f"tasks-db-{index}", [PYTHON, "-m", "benchmarks.peers.tasks_db_worker"])


def daphne(port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    command = [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "-v", "0", "project.asgi:application"]
    return start("daphne", command, env)


def redis_server(port: int) -> subprocess.Popen[bytes]:
    """A throwaway Redis: no persistence, nothing shared with anyone else's keys."""
    return start("redis", servers.redis_server_argv(port))


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LookupError(pid)
