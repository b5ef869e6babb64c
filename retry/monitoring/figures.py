"""What the dashboard, /metrics and queue_status show: the figures of each queue and worker at one moment."""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from retry.models import Heartbeat

#: Upper bounds (seconds) of the task duration histogram's buckets.
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)


@dataclass
class Histogram:
    """Cumulative counts per upper bound, as Prometheus wants them."""

    buckets: list[tuple[float, int]] = field(default_factory=lambda: [(bound, 0) for bound in DURATION_BUCKETS])
    count: int = 0
    sum: float = 0.0

    def add(self, row: Mapping[str, Any]) -> None:
        self.buckets = [(bound, seen + row[f"le_{i}"]) for i, (bound, seen) in enumerate(self.buckets)]
        self.count += row["n"]
        self.sum += row["seconds"] or 0.0

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None


@dataclass
class QueueFigures:
    queue: str
    #: The TASKS alias of the retry backend that serves the queue ("" for a queue none lists).
    backend: str = ""
    #: READY tasks whose time has come: the backlog.
    ready: int = 0
    #: Seconds the longest-waiting task of the backlog has been due.
    oldest_ready_age: float | None = None
    #: Seconds from enqueue to first start, over tasks first started in the window.
    wait_p50: float | None = None
    wait_p95: float | None = None
    running: int = 0
    #: READY tasks that ran before (a retry is scheduled, or has come due).
    waiting_retry: int = 0
    #: FAILED tasks: the dead letters.
    dead: int = 0
    arrived_per_minute: float = 0.0
    succeeded_per_minute: float = 0.0
    failed_per_minute: float = 0.0
    #: Attempts finished in the window, by outcome.
    attempts: dict[str, int] = field(default_factory=dict)
    durations: Histogram = field(default_factory=Histogram)
    #: Seconds the oldest ready task may wait before the backlog alarm; None: no alarm for this queue.
    threshold: float | None = None
    alarm: bool = False
    advised_workers: int = 0
    #: Paused by an operator: no worker claims its tasks (retry.transitions.controls).
    paused: bool = False
    paused_by: str = ""


@dataclass
class WorkerFigures:
    process_id: str
    kind: str
    host: str
    pid: int
    queues: list[str]
    concurrency: int
    current_tasks: list[str]
    last_seen: datetime
    stale: bool


@dataclass
class Failure:
    id: str
    task_path: str
    queue: str
    attempts: int
    finished_at: datetime | None
    error: str


@dataclass
class Snapshot:
    now: datetime
    window: float
    queues: list[QueueFigures]
    workers: list[WorkerFigures]
    failures: list[Failure]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types: datetimes as ISO 8601, the histogram as lists."""
        plain: dict[str, Any] = _plain(asdict(self))
        return plain

    @property
    def live_workers(self) -> int:
        return sum(1 for worker in self.workers if worker.kind == Heartbeat.Kind.WORKER and not worker.stale)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, float):
        return round(value, 6)
    return value
