"""The run's tables as Markdown, the PostgreSQL commit floor, and the generated part of docs/benchmarks.md.

The task systems' tables are in report_tasks, the targets and their profiles in report_targets.
"""

import re
import threading
import time
from typing import Any

import psycopg

from benchmarks import endtoend_report, processes, report_targets, report_tasks, soak_report
from benchmarks.markdown import table

DOCS = processes.ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:begin (written by benchmarks/run.py) -->", "<!-- bench:end -->"


def commit_floor(url: str, commits: int = 300) -> dict[str, Any]:
    """Durable one-row INSERT commits per second, from one connection and from eight: what any durable enqueue pays;
    and the SERVER_SETTINGS it was measured under."""
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, v int)")

    def insert() -> None:
        with psycopg.connect(url, autocommit=True) as connection:
            for number in range(commits):
                connection.execute("INSERT INTO bench_floor (v) VALUES (%s)", (number,))

    floor: dict[str, Any] = {}
    with psycopg.connect(url) as connection:
        for name in report_tasks.SERVER_SETTINGS:
            [floor[name]] = connection.execute(f"SHOW {name}").fetchone() or ("?",)
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
    sections = [machine_line(results["machine"])]
    sections += [section(results) for section in WHOLE_RUN]
    for title, key, section in SUITE_SECTIONS:
        if key not in results:
            continue
        suite = results[key]
        sections.append(f"### {title}\n\nThe suite failed: {suite['error']}." if "error" in suite else section(suite))
    return "\n\n".join(sections)


def failed(results: dict[str, Any]) -> list[str]:
    """The suites and task systems of the run that failed, with their errors."""
    runs = [(key, value) for key, value in results.items() if isinstance(value, dict)]
    runs += [(f"tasks {system['system']}", system) for system in results["task_systems"]]
    return [f"{name}: {run['error']}" for name, run in runs if "error" in run]


def machine_line(machine: dict[str, Any]) -> str:
    packages = ", ".join(f"{name} {version}" for name, version in machine["packages"].items())
    return (
        f"Run of {machine['date']} on {machine['nproc']} cores ({machine['cpu']}), {machine['memory_gib']} GiB; "
        f"Python {machine['python']}, PostgreSQL {machine['postgresql']}, Redis {machine['redis']}; {packages}. "
        f"Load average at start: {machine['load_average_at_start']} "
        "(the machine is shared: read ratios, not absolutes)."
    )


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
            each(size, "kib_per_connection"),
            each(size, "rss_after_mib"),
            each(size, "cpu_ms_per_connect"),
            each(size, "cpu_ms_per_round"),
        ]
        for size in fanout["sizes"]
    ]
    header = ["clients", "delivered", "p50 ms", "p99 ms", "max ms", "KiB/connection", "RSS after MiB"]
    header += ["CPU ms/connect", "CPU ms/round"]
    note = (
        f"{fanout['board']} on {fanout['daphnes']} daphne processes (project.settings: PostgreSQL, Redis layer), "
        f"the clients spread evenly over them from {fanout['client_processes']} client processes; a step is "
        f"claimed or released {fanout['rounds']} times. Memory and CPU: each daphne process, separated by /."
    )
    return "### Board fan-out\n\n" + note + "\n\n" + table(header, rows)


def each(size: dict[str, Any], key: str) -> str:
    """One figure of every daphne process of a fan-out size, separated by /."""
    return " / ".join(str(daphne[key]) for daphne in size["daphnes"])


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


#: Sections drawn from the whole run, in the report's order.
WHOLE_RUN = [
    report_tasks.tasks_table,
    report_tasks.ratios_table,
    report_tasks.setup_table,
    report_targets.targets_table,
    report_targets.where_the_time_goes,
]
#: Sections drawn from one suite's results: (title, key in the results, section).
SUITE_SECTIONS = [
    ("Retry path", "retry", retry_table),
    ("Dispatcher tick", "dispatcher", dispatcher_table),
    ("Dispatcher pass behind a full channel", "full_channel", full_channel_table),
    ("Board fan-out", "fanout", fanout_table),
    ("End to end", "endtoend", endtoend_report.render),
    ("Cluster soak", "soak", soak_report.render),
    ("Dispatcher query plans", "dispatcher", plans),
]
