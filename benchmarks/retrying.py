"""The retry path: tasks that fail once then succeed, with the floor shrunk to 0.1 s and no jitter."""

from typing import Any

from django.db.models import Max, Min

from benchmarks import figures, systems, tasks

WORKERS = 2


def measure(count: int) -> dict[str, Any]:
    from retry.models import TaskAttempt, TaskRecord

    system = systems.Ours()
    system.reset()
    workers = system.start_workers(WORKERS)
    systems.wait_until(lambda: live_workers() >= WORKERS, 60, "workers to start")
    for number in range(count):
        tasks.fails_once.enqueue(number)
    systems.wait_until(lambda: system.finished() >= count, 120, f"{count} retried tasks to succeed")
    system.stop_workers(workers)
    last = TaskRecord.objects.aggregate(last=Max("finished_at"))["last"].timestamp()
    first = TaskRecord.objects.aggregate(first=Min("enqueued_at"))["first"].timestamp()
    late = [
        (attempt.started_at - attempt.task.run_after).total_seconds()
        for attempt in TaskAttempt.objects.filter(number=2).select_related("task")
    ]
    return {
        "tasks": count,
        "workers": WORKERS,
        "seconds_until_all_succeed": round(last - first, 3),
        "retry_start_after_schedule": figures.summary_ms(late),
        **system.check(count),
        "tasks_not_run_exactly_twice": TaskRecord.objects.exclude(attempts=2).count(),
    }


def live_workers() -> int:
    from retry.models import Heartbeat

    return Heartbeat.objects.filter(kind=Heartbeat.Kind.WORKER).count()
