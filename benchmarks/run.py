"""`make bench`: every benchmark in one run, ours and the peers' side by side, on this machine.

Starts a throwaway Redis, makes a PostgreSQL database and a SQLite file of its own, runs each suite in a
process of its own (benchmarks/suite.py), prints the table, writes benchmarks/results/<date>.json and puts
the table into docs/benchmarks.md. `--quick` runs small sizes to check that everything works.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import databases, machine, processes, report
from harness import servers


def environment(redis_port: int, database_url: str, *, redis: bool) -> dict[str, str]:
    base = f"redis://127.0.0.1:{redis_port}"
    return {
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "PYTHONPATH": str(processes.ROOT),
        "DATABASE_URL": database_url,
        "REDIS_URL": f"{base}/0" if redis else "",
        "REDIS_PREFIX": "bench",
        "CHANNEL_CAPACITY": "20000",
        "BENCH_PROOF_URL": f"{base}/1" if redis else "",
        "BENCH_CELERY_BROKER": f"{base}/2",
        "BENCH_HUEY_URL": f"{base}/3",
        "BENCH_DRAMATIQ_URL": f"{base}/4",
        "LOG_LEVEL": "warning",
        "DEBUG": "0",
        "SECRET_KEY": "benchmark-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "SECURE_SSL_REDIRECT": "0",
    }


#: The task systems on PostgreSQL and the throwaway Redis, in the table's order (keys of benchmarks.systems).
PEERS = ("ours", "raw", "celery", "huey", "dramatiq", "procrastinate", "tasks-db")


def task_suite(env: dict[str, str], system: str, tasks: str) -> dict[str, object]:
    """One system's task figures; a system that fails keeps its row, with the error."""
    return {"system": system, **suite("tasks", env, "--system", system, "--tasks", tasks)}


def suite(name: str, env: dict[str, str], *args: str) -> dict[str, object]:
    """Run one suite in its own process and return what it measured, or its error: the run goes on."""
    print(f"… {name} {' '.join(args)}", flush=True)
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        started = time.monotonic()
        command = [processes.PYTHON, "-m", "benchmarks.suite", name, out.name, *args]
        log_path = processes.RESULTS / "logs" / f"suite-{name}.log"
        with open(log_path, "ab") as log:
            ran = subprocess.run(command, cwd=processes.ROOT, env={**os.environ, **env}, stdout=log, stderr=log)
        if ran.returncode:
            print(f"  failed (exit {ran.returncode}): see {log_path.relative_to(processes.ROOT)}", flush=True)
            return {"error": f"exit {ran.returncode}, see {log_path.relative_to(processes.ROOT)}"}
        result: dict[str, object] = json.loads(Path(out.name).read_text())
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    print(f"  {result['wall_seconds']} s", flush=True)
    result["load_average_after"] = machine.load_average()
    return result


#: The soak's arguments (benchmarks.soak): about 5 minutes of a whole cluster through faults; quick: 40 s.
SOAK = ("--seconds", "280", "--rate", "1", "--kitchens", "350", "--pickups", "150", "--staff", "4")
SOAK_QUICK = ("--seconds", "40", "--rate", "1", "--kitchens", "20", "--pickups", "20", "--staff", "2")


def soak(*args: str) -> dict[str, object]:
    """The cluster soak, in a process of its own with its own PostgreSQL and Redis; its verdict and figures."""
    print(f"… soak {' '.join(args)}", flush=True)
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        started = time.monotonic()
        command = [processes.PYTHON, "-m", "benchmarks.soak", out.name, *args, "--client-processes", "4"]
        log_path = processes.RESULTS / "logs" / "soak.log"
        with open(log_path, "ab") as log:
            ran = subprocess.run(command, cwd=processes.ROOT, stdout=log, stderr=log)
        text = Path(out.name).read_text()
        if not text:  # it failed before its verdict
            print(f"  failed (exit {ran.returncode}): see {log_path.relative_to(processes.ROOT)}", flush=True)
            return {"error": f"exit {ran.returncode}, see {log_path.relative_to(processes.ROOT)}"}
        result: dict[str, object] = json.loads(text)
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    print(f"  {result['wall_seconds']} s", flush=True)
    return result


def measure(options: argparse.Namespace, redis_port: int) -> dict[str, object]:
    tasks, sizes, clients = (
        ("500", "1000,5000", "200") if options.quick else ("5000", "1000,100000,1000000", "1000,5000")
    )
    pg = environment(redis_port, databases.create_postgres(), redis=True)
    sqlite = environment(redis_port, databases.create_sqlite(), redis=False)
    results: dict[str, object] = {"machine": machine.describe(), "tasks": int(tasks)}
    results["postgres_commit_floor"] = report.commit_floor(pg["DATABASE_URL"])
    results["task_systems"] = [
        *(task_suite(pg, system, tasks) for system in PEERS),
        task_suite(sqlite, "ours-in-process", tasks),
    ]
    retry_env = {**pg, "RETRY_MIN_DELAY": "0.1", "RETRY_BASE_DELAY": "0.1", "RETRY_MAX_DELAY": "1", "RETRY_JITTER": "0"}
    results["retry"] = suite("retry", retry_env, "--tasks", "200" if options.quick else "1000")
    results["dispatcher"] = suite("dispatcher", pg, "--sizes", sizes)
    full_sizes = "100,1000" if options.quick else "100,100000"
    results["full_channel"] = suite("full-channel", pg, "--sizes", full_sizes, "--rounds", "5")
    results["fanout"] = suite("fanout", pg, "--sizes", clients, "--rounds", "3" if options.quick else "5")
    results["endtoend"] = suite("endtoend", pg, *(["--boards", "50", "--orders", "250"] if options.quick else []))
    databases.drop_postgres()
    results["soak"] = soak(*(SOAK_QUICK if options.quick else SOAK))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the benchmarks themselves")
    options = parser.parse_args()
    (processes.RESULTS / "logs").mkdir(parents=True, exist_ok=True)
    redis_port = servers.free_port()
    redis = processes.redis_server(redis_port)
    try:
        servers.wait_until_listening(redis_port, timeout=20)
        results = measure(options, redis_port)
    finally:
        processes.stop([redis])
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = processes.RESULTS / f"{stamp}{'-quick' if options.quick else ''}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    text = report.render(results)
    print(text)
    print(f"\nJSON: {path.relative_to(processes.ROOT)}")
    if failures := report.failed(results):
        sys.exit("Failed, so docs/benchmarks.md is left as it was:\n" + "\n".join(failures))
    if not options.quick:
        report.update_docs(text)
        print("docs/benchmarks.md updated")


if __name__ == "__main__":
    main()
