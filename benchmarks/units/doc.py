"""The measured units as Markdown, and the generated section of docs/scaling.md."""

import re
from typing import Any

from benchmarks import processes

DOCS = processes.ROOT / "docs" / "scaling.md"
BEGIN = "<!-- units:begin: written by `python -m benchmarks.units`; edit the harness, not these lines -->"
END = "<!-- units:end -->"
#: Days a successful task row is kept (RETRY_RESULT_RETENTION's default).
RETENTION_DAYS = 7


def mib(value: float) -> str:
    return f"{value / 2**20:,.1f} MiB"


#: The phases of a task's measurement, as the tables name them.
PHASES = {"enqueue": "enqueue", "run_backlog": "run from a backlog", "steady": "both, steady", "purge": "purge"}


#: The processes whose CPU time a task costs, as the tables name them.
CPU_KINDS = {
    "enqueue": "the enqueuing process",
    "workers": "workers",
    "dispatcher": "dispatcher",
    "postgres": "PostgreSQL",
    "redis": "Redis",
}


def cpu_of(tasks: dict[str, Any]) -> dict[str, float]:
    """Milliseconds of CPU per task in the steady state, by kind of process."""
    return {"enqueue": tasks["enqueue_cpu_ms"], **tasks["steady"]["cpu_ms"]}


def cpu_per_task(tasks: dict[str, Any]) -> str:
    cpu = cpu_of(tasks)
    return " / ".join(f"{cpu.get(kind, 0):.2f}" for kind in CPU_KINDS)


def per_task(figures: dict[str, Any], key: str) -> str:
    return " / ".join(f"{figures[phase][key]:,}" for phase in PHASES)


def rows_written(figures: dict[str, Any]) -> str:
    """Rows each phase inserted, updated (of which HOT) and deleted in the task tables, per task."""
    parts = []
    for phase, name in PHASES.items():
        counts = figures[phase]["rows_inserted_updated_hot_deleted"]
        tables = [
            f"{name.removeprefix('retry_')} {'/'.join(f'{n:g}' for n in numbers)}"
            for name, numbers in counts.items()
            if name in ("retry_taskrecord", "retry_taskattempt")
        ]
        parts.append(f"{name}: {', '.join(tables) or 'none'}")
    return "; ".join(parts)


def units_table(result: dict[str, Any]) -> list[str]:
    tasks, idle, boards, lost = result["tasks"], result["idle"], result["boards"], result["lost_shard"]
    kept = tasks["kept_bytes_per_10000"]
    phases = " / ".join(PHASES.values())
    steady, single = tasks["steady"]["redis_commands"], tasks["steady_one_message_at_a_time"]["redis_commands"]
    return [
        "| unit | measured |",
        "| --- | --- |",
        f"| PostgreSQL WAL per task: {phases} | {per_task(tasks, 'wal_bytes')} bytes |",
        f"| SQL statements per task: {phases} | {per_task(tasks, 'statements')} |",
        f"| rows per task (inserted/updated/HOT/deleted) | {rows_written(tasks)} |",
        "| disk per 10,000 tasks kept (table, indexes, TOAST) | "
        + ", ".join(f"{name.removeprefix('retry_')} {mib(size)}" for name, size in kept.items() if size > 0)
        + " |",
        f"| Redis commands per task, steady: messages sent together / one at a time | {steady} / {single} |",
        f"| CPU per task, steady: {' / '.join(CPU_KINDS.values())} | {cpu_per_task(tasks)} ms |",
        f"| idle {idle['processes']} | {idle['redis_commands_per_second']} Redis commands/s, "
        f"{idle['wal_bytes_per_second']:,} WAL bytes/s, {idle['statements_per_second']} statements/s |",
        f"| one board event (a step claimed or released; {boards['clients']} kitchen boards on one daphne) | "
        f"{boards['redis_commands_per_event']} Redis commands, {boards['statements_per_event']} statements, "
        f"{boards['wal_bytes_per_event']:,} WAL bytes |",
        f"| daphne memory per kitchen-board connection | {boards['kib_per_connection']} KiB "
        f"({boards['rss_mib_with_clients']} MiB with {boards['clients']} clients) |",
        f"| daphne CPU per connection opened / per board message pushed | {boards['cpu_ms_per_connect']} ms / "
        f"{boards['cpu_us_per_message_pushed']} µs ({boards['delivered']:,} pushed, idle: "
        f"{boards['cpu_percent_idle_with_clients']} % of a core) |",
        f"| a backlog of {lost['tasks']:,} tasks whose wake-ups were lost with Redis (killed, started again empty) | "
        f"all ran {lost['seconds_until_all_ran']['lost']} s after the workers started "
        f"({lost['seconds_until_all_ran']['kept']} s when Redis kept them); {lost['not_successful']} not successful, "
        f"{lost['run_more_than_once']} run twice |",
    ]


def derived_table(result: dict[str, Any]) -> list[str]:
    """The units multiplied out to the sizes the model talks about."""
    tasks, boards = result["tasks"], result["boards"]
    wal, statements = tasks["steady"]["wal_bytes"], tasks["steady"]["statements"]
    commands = max(tasks["steady"]["redis_commands"], tasks["steady_one_message_at_a_time"]["redis_commands"])
    kept = sum(size for size in tasks["kept_bytes_per_10000"].values() if size > 0) / 10_000
    rate = 1000
    microseconds = boards["cpu_us_per_message_pushed"]
    return [
        "| at | what it takes |",
        "| --- | --- |",
        f"| 1,000 tasks/s | {mib(wal * rate)}/s of WAL, {statements * rate:,.0f} statements/s, "
        f"{commands * rate:,.0f} Redis commands/s at most |",
        "| 1,000 tasks/s, in cores of this machine | "
        + ", ".join(f"{cpu_of(tasks).get(kind, 0):.1f} for {name}" for kind, name in CPU_KINDS.items())
        + " |",
        "| one core of each, in tasks/s | "
        + ", ".join(f"{name} {1000 / ms:,.0f}" for kind, name in CPU_KINDS.items() if (ms := cpu_of(tasks).get(kind)))
        + " |",
        f"| 1,000 tasks/s kept {RETENTION_DAYS} days | {kept * rate * 86400 * RETENTION_DAYS / 2**30:,.0f} GiB of task "
        f"rows, and {mib(tasks['purge']['wal_bytes'] * rate)}/s more WAL to purge them row by row |",
        f"| 10,000 kitchen boards | {boards['kib_per_connection'] * 10_000 / 2**20:.1f} GiB of daphne memory; "
        f"{microseconds * 10_000 / 1e6:.2f} cores per board event a second |",
        f"| one core of daphne | {1e6 / microseconds:,.0f} board messages pushed a second |",
        *redis_rows(result),
    ]


def redis_rows(result: dict[str, Any]) -> list[str]:
    """What one Redis server carries, by the rate redis-benchmark had from it here."""
    capacity = result.get("redis_capacity", {})
    if not capacity:
        return []
    slowest = min(capacity.values())
    steady = result["tasks"]["steady"]["redis_commands"]
    tasks = max(steady, result["tasks"]["steady_one_message_at_a_time"]["redis_commands"])
    events = result["boards"]["redis_commands_per_event"]
    rates = ", ".join(f"{name.upper()} {rate:,.0f}/s" for name, rate in sorted(capacity.items()))
    return [
        f"| one Redis server ({rates} from redis-benchmark's 50 clients) | about {slowest / tasks:,.0f} tasks/s, or "
        f"{slowest / events:,.0f} board events/s |"
    ]


def section(result: dict[str, Any]) -> str:
    machine = result["machine"]
    lines = [
        BEGIN,
        "",
        f"Measured {machine['date']} on {machine['nproc']} cores ({machine['cpu']}), PostgreSQL "
        f"{result['postgresql']}, Redis {machine['redis']}, load average {machine['load_average_at_start']} at the "
        f"start and {result['load_average_at_end']} at the end (other work shared the machine), with "
        f"`{result['command']}`:",
        "",
        *units_table(result),
        "",
        *derived_table(result),
        "",
        END,
    ]
    return "\n".join(lines)


def write(result: dict[str, Any]) -> None:
    text = DOCS.read_text()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise LookupError(f"{DOCS} has no units section to rewrite")
    DOCS.write_text(pattern.sub(lambda _: section(result), text))
