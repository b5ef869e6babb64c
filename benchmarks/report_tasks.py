"""The task systems' tables: the figures, their ratios to Celery and to raw Channels, and each system's setup."""

from typing import Any

from benchmarks import enqueueing
from benchmarks.markdown import table, times

#: The server settings the Tasks note reports: what makes commits durable, and whether dead rows are cleaned up.
SERVER_SETTINGS = ("fsync", "synchronous_commit", "autovacuum")

#: The rates of the comparison: (key in a system's results, column).
RATES = [
    ("enqueue_sync", "enqueue sync"),
    ("enqueue_async", "enqueue async"),
    ("enqueue_in_view", "enqueue in a view"),
    ("enqueue_bulk", "bulk enqueue"),
    ("drain_1", "drain 1 worker"),
    ("drain_2", "drain 2 workers"),
]
#: The systems the ratios are to, by name.
REFERENCES = ["Celery (acks_late)", "raw Channels"]


def by_name(results: dict[str, Any], name: str) -> dict[str, Any]:
    """The system of that name; an empty row when it is not in the run (or failed)."""
    return next((system for system in results["task_systems"] if system["system"] == name), {})


def rate(system: dict[str, Any], key: str) -> float | None:
    return (system.get(key) or {}).get("per_second")


def latency(system: dict[str, Any], key: str) -> float | None:
    return (system.get("latency") or {}).get(key)


def counts(system: dict[str, Any]) -> tuple[int, int]:
    """Tasks lost and run twice over the drains: by the run marks, or by the task rows where those say more."""
    checks = [system.get("drain_1") or {}, system.get("drain_2") or system.get("drain_1_after_async") or {}]
    lost = sum(max(check.get("lost", 0), check.get("rows_not_successful", 0)) for check in checks)
    twice = sum(max(check.get("duplicated", 0), check.get("rows_run_more_than_once", 0)) for check in checks)
    return lost, twice


def tasks_table(results: dict[str, Any]) -> str:
    rows = []
    for system in results["task_systems"]:
        if "error" in system:
            rows.append([system["system"], f"failed: {system['error']}", *[None] * 10])
            continue
        rows.append(
            [
                system["system"],
                system["store"],
                *(rate(system, key) for key, _ in RATES),
                latency(system, "p50_ms"),
                latency(system, "p99_ms"),
                *counts(system),
            ]
        )
    floor = results["postgres_commit_floor"]
    ours = by_name(results, "scoopboard").get("latency") or {}
    note = (
        f"{results['tasks']} trivial tasks per figure; rates in tasks/s. Enqueue in a view = an order row and its "
        f"task in one transaction, {enqueueing.IN_VIEW:,} of them (see the setup below); bulk = calls of 1,000 "
        "tasks. Latency = enqueue call → task "
        f"function start ({ours.get('tasks', '?')} tasks at {ours.get('rate', '?')}/s, 2 idle workers; 1 in-process "
        "worker for SQLite). Workers: 8 tasks at a time each. Redis, not durable: the throwaway Redis keeps "
        "nothing on disk, so a restart loses every task waiting there. PostgreSQL durable commit floor on this "
        f"machine: {floor['connections_1_per_second']}/s from one connection, "
        f"{floor['connections_8_per_second']}/s from eight"
        + "".join(f", {name} {floor[name]}" for name in SERVER_SETTINGS if name in floor)
        + " (tables are truncated between the figures)."
    )
    header = ["system", "tasks kept in", *(column for _, column in RATES)]
    header += ["latency p50 ms", "latency p99 ms", "lost", "duplicated"]
    return "### Tasks\n\n" + note + "\n\n" + table(header, rows)


def ratios_table(results: dict[str, Any]) -> str:
    """Each system's figures over Celery's and over raw Channels', in one cell: "vs Celery / vs raw"."""
    references = [by_name(results, name) for name in REFERENCES]
    rows = []
    for system in results["task_systems"]:
        if "error" in system:
            continue
        cells = [
            " / ".join(times(rate(system, key), rate(reference, key)) for reference in references) for key, _ in RATES
        ]
        p99 = " / ".join(times(latency(system, "p99_ms"), latency(reference, "p99_ms")) for reference in references)
        rows.append([system["system"], *cells, p99])
    names = " / ".join(REFERENCES)
    note = (
        f"Each cell: the system's figure over {names}'s in this run. Rates: higher is faster; "
        "latency p99: lower is faster."
    )
    header = ["system", *(column for _, column in RATES), "latency p99"]
    return f"### Ratios to {names}\n\n" + note + "\n\n" + table(header, rows)


def setup_table(results: dict[str, Any]) -> str:
    rows = [
        [
            system["system"],
            system["store"],
            system["concurrency"],
            view_task(system["enqueue_in_view"]),
            (system["enqueue_bulk"] or {}).get("call", "none"),
        ]
        for system in results["task_systems"]
        if "error" not in system
    ]
    header = ["system", "tasks kept in", "8 tasks at a time per worker", "task of a view's order", "bulk call"]
    return "### Each system's setup\n\n" + table(header, rows)


def view_task(in_view: dict[str, Any]) -> str:
    """Where a view's task is written, and for those in the transaction whether a rollback took it along."""
    if "rolled_back_order_keeps_its_task" not in in_view:
        return str(in_view["task"])
    kept = in_view["rolled_back_order_keeps_its_task"]
    return f"{in_view['task']}; " + ("**kept when the order rolls back**" if kept else "rolls back with the order")
