"""The dashboard's figures: a fixed handful of indexed, grouped queries, however large the task table grows.

Rates, wait times and durations cover the last WINDOW seconds. Tasks with ``ignore_result`` leave no row
once they succeed, so they count in the backlog and in failures but not among the successes.
"""

import math
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, F, FloatField, Func, Min, Q, Sum, Value
from django.db.models.lookups import LessThanOrEqual
from django.tasks.base import TaskResultStatus as Status

from retry import clock, conf
from retry.models import UNFINISHED, Heartbeat, QueuePause, TaskAttempt, TaskRecord
from retry.monitoring.figures import DURATION_BUCKETS, Failure, QueueFigures, Snapshot, WorkerFigures

#: Seconds of history behind rates, wait times, durations and the scaling advice.
WINDOW = 15 * 60.0
#: Most recent first starts the wait-time percentiles are computed from.
WAIT_SAMPLE = 5000
#: Dead tasks listed on the dashboard.
RECENT_FAILURES = 10
#: Seconds within which the advice drains a backlog when the queue has no alarm threshold.
DEFAULT_DRAIN = 60.0


class Seconds(Func):
    """Seconds from the second datetime to the first, as a float, on PostgreSQL and SQLite."""

    arity = 2
    arg_joiner = " - "
    template = "EXTRACT(EPOCH FROM (%(expressions)s))::double precision"
    output_field = FloatField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "((julianday(%(expressions)s)) * 86400.0)"
        return self.as_sql(compiler, connection, template=template, arg_joiner=") - julianday(", **extra)


def snapshot(now: datetime | None = None) -> Snapshot:
    """Every figure of the dashboard, as of ``now`` (the database's clock by default)."""
    now = now or clock.db_now()
    since = now - timedelta(seconds=WINDOW)
    figures = {queue: QueueFigures(queue, backend=conf.backend_of(queue)) for queue in conf.queues()}
    _add_backlog(figures, now)
    _add_window(figures, since)
    _add_waits(figures, since)
    _add_attempts(figures, since)
    _add_pauses(figures)
    workers = workers_at(now)
    for queue in figures.values():
        _judge(queue, workers)
    return Snapshot(now, WINDOW, sorted(figures.values(), key=lambda q: q.queue), workers, recent_failures())


def backlog(now: datetime) -> dict[str, tuple[int, float | None]]:
    """Per queue with a backlog: how many tasks are due, and the age in seconds of the one due longest."""
    rows = due(now).values("queue").annotate(ready=Count("pk"), oldest=Min("run_after")).order_by()
    return {row["queue"]: (row["ready"], (now - row["oldest"]).total_seconds()) for row in rows}


def threshold_for(queue: str) -> float | None:
    alarms = conf.get().BACKLOG_ALARM or {}
    return alarms.get(queue, alarms.get("*"))


def advise(*, arrival_rate: float, mean_duration: float | None, ready: int, drain_within: float, slots: int) -> int:
    """Worker processes a queue needs, each with ``slots`` task slots.

    Little's law: busy slots = arrival rate * mean duration; plus the slots that finish the current
    backlog within ``drain_within`` seconds.
    """
    if mean_duration is None:
        return 1 if ready or arrival_rate else 0
    busy = arrival_rate * mean_duration + ready * mean_duration / drain_within
    # Rounded first, so that 3.0000001 workers, an artefact of timestamp arithmetic, are 3.
    return math.ceil(round(busy / slots, 6)) if busy > 0 else 0


def workers_at(now: datetime) -> list[WorkerFigures]:
    stale_before = now - timedelta(seconds=conf.get().WORKER_STALE_AFTER)
    return [
        WorkerFigures(
            row.process_id,
            row.kind,
            row.host,
            row.pid,
            list(row.queues),
            row.concurrency,
            list(row.current_tasks),
            row.last_seen,
            stale=row.last_seen < stale_before,
        )
        for row in Heartbeat.objects.order_by("kind", "host", "pid")
    ]


def recent_failures() -> list[Failure]:
    rows = TaskRecord.objects.failed().order_by("-finished_at")[:RECENT_FAILURES]
    return [
        Failure(str(row.pk), row.task_path, row.queue, row.attempts, row.finished_at, short_error(row))
        for row in rows.only("pk", "task_path", "queue", "attempts", "finished_at", "error_class", "error_message")
    ]


def short_error(row: Any, limit: int = 200) -> str:
    if not row.error_class:
        return ""
    return f"{row.error_class.rsplit('.', 1)[-1]}: {row.error_message[:limit]}"


def percentile(values: list[float], fraction: float) -> float | None:
    """The ``fraction`` quantile, interpolating between the two nearest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def due(now: datetime) -> Any:
    """The READY tasks whose time has come."""
    return TaskRecord.objects.ready().filter(run_after__lte=now)


def _add_backlog(figures: dict[str, QueueFigures], now: datetime) -> None:
    ready, due = Q(status=Status.READY), Q(status=Status.READY, run_after__lte=now)
    rows = (
        TaskRecord.objects.filter(status__in=[Status.READY, Status.RUNNING, Status.FAILED])
        .values("queue")
        .annotate(
            ready=Count("pk", filter=due),
            oldest=Min("run_after", filter=due),
            running=Count("pk", filter=Q(status=Status.RUNNING)),
            waiting_retry=Count("pk", filter=ready & Q(attempts__gt=0)),
            dead=Count("pk", filter=Q(status=Status.FAILED)),
        )
        .order_by()
    )
    for row in rows:
        queue = _queue(figures, row["queue"])
        queue.ready, queue.running, queue.waiting_retry, queue.dead = (
            row["ready"],
            row["running"],
            row["waiting_retry"],
            row["dead"],
        )
        queue.oldest_ready_age = (now - row["oldest"]).total_seconds() if row["oldest"] else None


def _recent(since: datetime) -> Any:
    # Every row enqueued, started or finished in the window is unfinished or finished in it: saying so lets
    # the database use its status and finished_at indexes instead of reading the whole table.
    return TaskRecord.objects.filter(Q(finished_at__gte=since) | Q(status__in=UNFINISHED))


def _add_window(figures: dict[str, QueueFigures], since: datetime) -> None:
    in_window = Q(finished_at__gte=since)
    rows = (
        _recent(since)
        .values("queue")
        .annotate(
            arrived=Count("pk", filter=Q(enqueued_at__gte=since)),
            succeeded=Count("pk", filter=in_window & Q(status=Status.SUCCESSFUL)),
            failed=Count("pk", filter=in_window & Q(status=Status.FAILED)),
        )
        .order_by()
    )
    minutes = WINDOW / 60
    for row in rows:
        queue = _queue(figures, row["queue"])
        queue.arrived_per_minute = row["arrived"] / minutes
        queue.succeeded_per_minute = row["succeeded"] / minutes
        queue.failed_per_minute = row["failed"] / minutes


def _add_waits(figures: dict[str, QueueFigures], since: datetime) -> None:
    rows = (
        _recent(since)
        .filter(started_at__gte=since)
        .annotate(wait=Seconds(F("started_at"), F("enqueued_at")))
        .order_by("-started_at")
        .values_list("queue", "wait")[:WAIT_SAMPLE]
    )
    waits: dict[str, list[float]] = {}
    for queue, wait in rows:
        waits.setdefault(queue, []).append(max(wait, 0.0))
    for name, values in waits.items():
        queue = _queue(figures, name)
        queue.wait_p50, queue.wait_p95 = percentile(values, 0.5), percentile(values, 0.95)


def _add_attempts(figures: dict[str, QueueFigures], since: datetime) -> None:
    seconds = Seconds(F("finished_at"), F("started_at"))
    buckets = {
        f"le_{i}": Count("pk", filter=LessThanOrEqual(seconds, Value(bound)))
        for i, bound in enumerate(DURATION_BUCKETS)
    }
    rows = (
        TaskAttempt.objects.filter(finished_at__gte=since)
        .values("task__queue", "outcome")
        .annotate(n=Count("pk"), seconds=Sum(seconds), **buckets)
        .order_by()
    )
    for row in rows:
        queue = _queue(figures, row["task__queue"])
        queue.attempts[row["outcome"]] = row["n"]
        queue.durations.add(row)


def _add_pauses(figures: dict[str, QueueFigures]) -> None:
    for queue, paused_by in QueuePause.objects.values_list("queue", "paused_by"):
        figure = _queue(figures, queue)
        figure.paused, figure.paused_by = True, paused_by


def _judge(queue: QueueFigures, workers: list[WorkerFigures]) -> None:
    """Set the queue's alarm and the workers it needs."""
    queue.threshold = threshold_for(queue.queue)
    age = queue.oldest_ready_age
    queue.alarm = queue.threshold is not None and age is not None and age > queue.threshold
    serving = [w.concurrency for w in workers if not w.stale and w.kind == "worker" and queue.queue in w.queues]
    queue.advised_workers = advise(
        arrival_rate=queue.arrived_per_minute / 60,
        mean_duration=queue.durations.mean,
        ready=queue.ready,
        drain_within=queue.threshold or DEFAULT_DRAIN,
        slots=max(round(sum(serving) / len(serving)), 1) if serving else conf.for_backend(queue.backend).CONCURRENCY,
    )


def _queue(figures: dict[str, QueueFigures], name: str) -> QueueFigures:
    if name not in figures:
        figures[name] = QueueFigures(name, backend=conf.backend_of(name))
    return figures[name]
