"""Task, attempt and heartbeat rows with known timestamps, written straight to the database."""

from datetime import datetime, timedelta
from typing import Any

from django.tasks.base import TaskResultStatus as Status

from retry.models import Heartbeat, Outcome, TaskAttempt, TaskRecord

NOW = datetime.fromisoformat("2026-06-01T12:00:00+00:00")


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def task(
    queue: str = "default",
    status: str = Status.READY,
    *,
    enqueued: float = 60,
    due: float | None = None,
    started: float | None = None,
    finished: float | None = None,
    attempts: int = 0,
    save: bool = True,
    **fields: Any,
) -> TaskRecord:
    """A task; every time is given as seconds before NOW (``due`` defaults to the enqueue time)."""
    record = TaskRecord(
        task_path=fields.pop("task_path", "tests.tasks.record"),
        queue=queue,
        status=status,
        attempts=attempts,
        max_attempts=fields.pop("max_attempts", 3),
        time_limit=60,
        policy=fields.pop(
            "policy", {"max_attempts": 3, "base_delay": 10.0, "factor": 2.0, "max_delay": 60.0, "jitter": 0.0}
        ),
        enqueued_at=ago(enqueued),
        run_after=ago(enqueued if due is None else due),
        started_at=None if started is None else ago(started),
        finished_at=None if finished is None else ago(finished),
        **fields,
    )
    if save:
        record.save()
    return record


def attempt(
    record: TaskRecord, number: int, *, started: float, seconds: float, outcome: str = Outcome.SUCCEEDED, **fields: Any
) -> TaskAttempt:
    return TaskAttempt.objects.create(
        task=record,
        number=number,
        worker_id=fields.pop("worker_id", "host:1:abc"),
        started_at=ago(started),
        finished_at=ago(started - seconds),
        outcome=outcome,
        **fields,
    )


def heartbeat(process_id: str, *, seen: float, queues: list[str] | None = None, **fields: Any) -> Heartbeat:
    return Heartbeat.objects.create(
        process_id=process_id,
        kind=fields.pop("kind", Heartbeat.Kind.WORKER),
        host=fields.pop("host", "oven"),
        pid=fields.pop("pid", 101),
        queues=queues if queues is not None else ["default", "emails"],
        concurrency=fields.pop("concurrency", 4),
        current_tasks=fields.pop("current_tasks", []),
        started_at=ago(3600),
        last_seen=ago(seen),
    )
