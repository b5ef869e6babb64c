import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from retry.monitoring import figures, stats

COLUMNS = (
    ("queue", "queue"),
    ("backend", "backend"),
    ("ready", "ready"),
    ("oldest", "oldest_ready_age"),
    ("p50 wait", "wait_p50"),
    ("p95 wait", "wait_p95"),
    ("running", "running"),
    ("retrying", "waiting_retry"),
    ("dead", "dead"),
    ("ok/min", "succeeded_per_minute"),
    ("failed/min", "failed_per_minute"),
    ("workers needed", "advised_workers"),
    ("state", "paused"),
)
SECONDS = {"oldest_ready_age", "wait_p50", "wait_p95"}


class Command(BaseCommand):
    help = "Print the task dashboard's figures: per queue backlog, waits, failures, advised workers; then workers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the figures as one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        snapshot = stats.snapshot()
        if options["json"]:
            self.stdout.write(json.dumps(snapshot.as_dict(), indent=2))
            return
        self.stdout.write(table([title for title, _ in COLUMNS], [queue_cells(q) for q in snapshot.queues]))
        for queue in snapshot.queues:
            if queue.paused:
                self.stdout.write(self.style.WARNING(f"PAUSED {queue.queue} by {queue.paused_by or 'unknown'}"))
            if queue.alarm:
                self.stdout.write(self.style.ERROR(f"ALARM {queue.queue}: oldest ready task over {queue.threshold} s"))
        self.stdout.write(f"\nworkers: {snapshot.live_workers} live")
        for worker in snapshot.workers:
            state = "stale" if worker.stale else "live"
            queues = ",".join(worker.queues) or "-"
            self.stdout.write(
                f"  {worker.kind} {worker.host}:{worker.pid} {state} queues={queues} "
                f"running={len(worker.current_tasks)}/{worker.concurrency} last_seen={worker.last_seen:%H:%M:%S}"
            )
        if snapshot.failures:
            self.stdout.write("\nrecent failures:")
            for failure in snapshot.failures:
                self.stdout.write(f"  {failure.id} {failure.task_path} ({failure.queue}) {failure.error}")


def queue_cells(queue: figures.QueueFigures) -> list[str]:
    cells = []
    for _, attribute in COLUMNS:
        value = getattr(queue, attribute)
        if attribute == "paused":
            cells.append("PAUSED" if value else "active")
        elif value is None:
            cells.append("-")
        elif attribute in SECONDS:
            cells.append(f"{value:.1f}s")
        elif isinstance(value, float):
            cells.append(f"{value:.2f}")
        else:
            cells.append(str(value))
    return cells


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in [header, *rows]
    )
