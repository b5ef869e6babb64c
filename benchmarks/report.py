"""The run's table as Markdown, the PostgreSQL commit floor, and the generated part of docs/benchmarks.md."""

import re
import threading
import time
from typing import Any

import psycopg

from benchmarks import endtoend_report, processes

DOCS = processes.ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:begin (written by benchmarks/run.py) -->", "<!-- bench:end -->"


def commit_floor(url: str, commits: int = 300) -> dict[str, float]:
    """Durable one-row INSERT commits per second, from one connection and from eight: what any durable enqueue pays."""
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, v int)")

    def insert() -> None:
        with psycopg.connect(url, autocommit=True) as connection:
            for number in range(commits):
                connection.execute("INSERT INTO bench_floor (v) VALUES (%s)", (number,))

    floor = {}
    for threads in (1, 8):
        workers = [threading.Thread(target=insert) for _ in range(threads)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        floor[f"connections_{threads}_per_second"] = round(threads * commits / (time.perf_counter() - started), 1)
    return floor


def render(results: dict[str, Any]) -> str:
    sections = [
        machine_line(results["machine"]),
        tasks_table(results),
        targets_table(results),
        retry_table(results["retry"]),
        dispatcher_table(results["dispatcher"]),
        full_channel_table(results["full_channel"]),
        fanout_table(results["fanout"]),
        plans(results["dispatcher"]),
    ]
    if "endtoend" in results:
        sections.insert(-1, endtoend_report.render(results["endtoend"]))
    return "\n\n".join(sections)


def machine_line(machine: dict[str, Any]) -> str:
    packages = ", ".join(f"{name} {version}" for name, version in machine["packages"].items())
    return (
        f"Run of {machine['date']} on {machine['nproc']} cores ({machine['cpu']}), {machine['memory_gib']} GiB; "
        f"Python {machine['python']}, PostgreSQL {machine['postgresql']}, Redis {machine['redis']}; {packages}. "
        f"Load average at start: {machine['load_average_at_start']} "
        "(the machine is shared: read ratios, not absolutes)."
    )


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("-" if cell is None else str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def tasks_table(results: dict[str, Any]) -> str:
    rows = []
    for system in results["task_systems"]:
        drain_2 = system.get("drain_2") or {}
        checks = [system["drain_1"], drain_2 or system.get("drain_1_after_async", {})]
        rows.append(
            [
                system["system"],
                system["enqueue_sync"]["per_second"],
                system["enqueue_async"]["per_second"],
                system["drain_1"]["per_second"],
                drain_2.get("per_second"),
                system["latency"]["p50_ms"],
                system["latency"]["p99_ms"],
                sum(check.get("lost", 0) + check.get("rows_not_successful", 0) for check in checks),
                sum(check.get("duplicated", 0) + check.get("rows_run_more_than_once", 0) for check in checks),
            ]
        )
    floor = results["postgres_commit_floor"]
    note = (
        f"{results['tasks']} trivial tasks per figure; rates in tasks/s, latency = enqueue call → task function start "
        "(200 tasks at 100/s, 2 idle workers; 1 in-process worker for SQLite). Workers: 8 tasks at a time each "
        "(Celery: threads pool, concurrency 8). PostgreSQL durable commit floor on this machine: "
        f"{floor['connections_1_per_second']}/s from one connection, {floor['connections_8_per_second']}/s from eight."
    )
    header = [
        "system",
        "enqueue sync",
        "enqueue async",
        "drain 1 worker",
        "drain 2 workers",
        "latency p50 ms",
        "latency p99 ms",
        "lost",
        "duplicated",
    ]
    return "### Tasks\n\n" + note + "\n\n" + table(header, rows)


def by_name(results: dict[str, Any], name: str) -> dict[str, Any]:
    return next(system for system in results["task_systems"] if system["system"].startswith(name))


def targets_table(results: dict[str, Any]) -> str:
    ours, raw, celery = by_name(results, "scoopboard"), by_name(results, "raw"), by_name(results, "Celery")
    drain = ours["drain_2"]["per_second"]
    sizes = {size["rows"]: size["tick_ms_median"] for size in results["dispatcher"]["sizes"]}
    fan = results["fanout"]["sizes"][-1]
    retry_p99 = results["retry"]["retry_start_after_schedule"]["p99_ms"]
    rows = [
        [
            "drain, 2 workers ≥ 1.5x Celery",
            f"{drain} vs {celery['drain_2']['per_second']}",
            ratio(drain, celery["drain_2"]["per_second"], 1.5),
        ],
        [
            "drain, 2 workers ≥ 0.8x raw Channels",
            f"{drain} vs {raw['drain_2']['per_second']}",
            ratio(drain, raw["drain_2"]["per_second"], 0.8),
        ],
        [
            "enqueue, sync ≥ Celery",
            f"{ours['enqueue_sync']['per_second']} vs {celery['enqueue_sync']['per_second']}",
            ratio(ours["enqueue_sync"]["per_second"], celery["enqueue_sync"]["per_second"], 1.0),
        ],
        ["latency p99 ≤ 10 ms", ours["latency"]["p99_ms"], verdict(ours["latency"]["p99_ms"] <= 10)],
        ["retry start p99 ≤ 500 ms after schedule", retry_p99, verdict(retry_p99 <= 500)],
        [f"board, {fan['clients']} clients, p99 < 250 ms", fan["p99_ms"], verdict((fan["p99_ms"] or 1e9) < 250)],
        [
            "tick at largest table ≤ 2x tick at smallest",
            f"{sizes[max(sizes)]} vs {sizes[min(sizes)]} ms",
            verdict(sizes[max(sizes)] <= 2 * sizes[min(sizes)]),
        ],
    ]
    return "### Targets\n\n" + table(["target", "measured", "met"], rows)


def ratio(ours: float, theirs: float, wanted: float) -> str:
    return f"{ours / theirs:.2f}x ({verdict(ours >= wanted * theirs)})"


def verdict(met: bool) -> str:
    return "yes" if met else "**no**"


def retry_table(retry: dict[str, Any]) -> str:
    late = retry["retry_start_after_schedule"]
    row = [
        retry["tasks"],
        retry["workers"],
        retry["seconds_until_all_succeed"],
        late["p50_ms"],
        late["p99_ms"],
        late["max_ms"],
        retry["lost"],
        retry["duplicated"],
        retry["tasks_not_run_exactly_twice"],
    ]
    header = [
        "tasks",
        "workers",
        "s until all succeed",
        "late p50 ms",
        "late p99 ms",
        "late max ms",
        "lost",
        "duplicated",
        "rows not run exactly twice",
    ]
    note = (
        "Each task fails once then succeeds; RETRY_BASE_DELAY=0.1, RETRY_JITTER=0. "
        "Late = start of attempt 2 minus its run_after."
    )
    return "### Retry path\n\n" + note + "\n\n" + table(header, [row])


def dispatcher_table(dispatcher: dict[str, Any]) -> str:
    rows = [
        [
            size["rows"],
            dispatcher["due"],
            size["first_tick_ms"],
            size["tick_ms_median"],
            size["tick_ms_max"],
            size["fill_seconds"],
        ]
        for size in dispatcher["sizes"]
    ]
    header = ["rows", "due", "first tick ms (with purge)", "tick ms median", "tick ms max", "fill s"]
    return "### Dispatcher tick\n\n" + table(header, rows)


def full_channel_table(full: dict[str, Any]) -> str:
    rows = [
        [size["due"], size["sent_per_pass"], size["pass_ms_median"], size["statements_median"]]
        for size in full["sizes"]
    ]
    note = f"The channel holds {full['capacity']} messages and is full; median of {full['passes']} passes."
    header = ["due rows", "sent per pass", "pass ms median", "statements per pass"]
    return "### Dispatcher pass behind a full channel\n\n" + note + "\n\n" + table(header, rows)


def fanout_table(fanout: dict[str, Any]) -> str:
    rows = [
        [
            size["clients"],
            f"{size['delivered']}/{size['expected']}",
            size["p50_ms"],
            size["p99_ms"],
            size["max_ms"],
            size["rss_before_mib"],
            size["rss_after_mib"],
            size["kib_per_connection"],
        ]
        for size in fanout["sizes"]
    ]
    header = ["clients", "delivered", "p50 ms", "p99 ms", "max ms", "RSS before MiB", "RSS after MiB", "KiB/connection"]
    note = (
        f"{fanout['board']} on one daphne process (DEBUG=0, Redis layer); "
        f"a step is claimed or released {fanout['rounds']} times."
    )
    return "### Board fan-out\n\n" + note + "\n\n" + table(header, rows)


def plans(dispatcher: dict[str, Any]) -> str:
    largest = dispatcher["sizes"][-1]["rows"]
    blocks = [f"#### {shorten(plan['sql'])[:300]}\n\n```\n{shorten(plan['plan'])}\n```" for plan in dispatcher["plans"]]
    return f"### Dispatcher query plans ({largest} rows)\n\n" + "\n\n".join(blocks)


def shorten(text: str) -> str:
    """Long lists of task ids become one placeholder."""
    text = re.sub(r"'[0-9a-f]{32}'::uuid(, '[0-9a-f]{32}'::uuid)+", "… ids …", text)
    text = re.sub(r"\{[0-9a-f-]{36}(,[0-9a-f-]{36})+\}", "{… ids …}", text)
    return re.sub(r'"retry_taskrecord"\."(\w+)", ("retry_taskrecord"\."\w+", )+("retry_taskrecord"\."\w+")', r"…", text)


def update_docs(text: str) -> None:
    """Replace the generated block of docs/benchmarks.md, keeping the analysis written around it."""
    current = DOCS.read_text() if DOCS.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    head, _, rest = current.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOCS.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")
