"""An operator's transitions: dead tasks run again, ready ones cancelled, finished ones removed.

Each takes a batch of ids in one transaction (one UPDATE or DELETE), so a batch action on 100,000 tasks is a few
hundred statements. They change rows only; the caller sends the message of a task made ready again
(retry.monitoring.operations).
"""

from django.db import transaction
from django.tasks.base import TaskResultStatus as Status

from retry import clock, conf, events
from retry.exceptions import TaskCancelled
from retry.models import TaskRecord
from retry.transitions import rows


def retry_many(task_ids: list[str]) -> list[TaskRecord]:
    """FAILED → READY at once with a fresh budget of attempts (an operator's manual retry); the tasks it changed.

    The rows are marked sent: the caller sends their messages after commit (retry.messages.send_after_commit).
    """
    fresh = {"attempts": 0, "recoveries": 0, "worker_id": "", "finished_at": None, "expires_at": None}
    fresh["cancel_requested_at"] = None
    with transaction.atomic(using=conf.database()):
        changes = {**rows.ready_again(0), "notified_at": clock.now_plus(0), **fresh}
        tasks = rows.update_returning(TaskRecord.objects.failed().filter(pk__in=task_ids), **changes)
        for task in tasks:
            events.record("requeued", task)
    return tasks


def retry_now(task_id: str) -> TaskRecord | None:
    """retry_many for one task: the task made ready again, or None if it was not FAILED."""
    return next(iter(retry_many([task_id])), None)


def requeue_failed(task_path: str, batch: int = 500) -> list[TaskRecord]:
    """Retry now every dead task of ``task_path``, ``batch`` a transaction; the tasks made ready again."""
    ids = [str(pk) for pk in TaskRecord.objects.failed().filter(task_path=task_path).values_list("pk", flat=True)]
    return [task for start in range(0, len(ids), batch) for task in retry_many(ids[start : start + batch])]


def cancel_many(task_ids: list[str]) -> int:
    """READY → FAILED, marked cancelled: they will not run. How many were ready."""
    details = rows.error_fields(TaskCancelled("cancelled by an operator"))
    with transaction.atomic(using=conf.database()):
        changes = {"status": Status.FAILED, **details, **rows.finished()}
        tasks = rows.update_returning(TaskRecord.objects.ready().filter(pk__in=task_ids), **changes)
        for task in tasks:
            events.record("cancelled", task)
    return len(tasks)


def cancel(task_id: str) -> bool:
    """cancel_many for one task: whether it was ready."""
    return cancel_many([task_id]) > 0


def remove_finished(task_ids: list[str]) -> int:
    """Remove the finished tasks among ``task_ids`` and their attempts; ready and running ones are left alone."""
    with transaction.atomic(using=conf.database()):
        doomed = list(TaskRecord.objects.finished().filter(pk__in=task_ids).select_for_update())
        for task in doomed:
            events.record("purged", task)
        TaskRecord.objects.filter(pk__in=[task.pk for task in doomed]).delete()
    return len(doomed)
