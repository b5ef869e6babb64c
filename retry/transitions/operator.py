"""An operator's transitions: a dead task run again, a ready one cancelled, finished ones removed.

They change rows only; the caller sends the message of a task made ready again (retry.monitoring.operations).
"""

from django.db import transaction
from django.tasks.base import TaskResultStatus as Status

from retry import clock, conf, events
from retry.exceptions import TaskCancelled
from retry.models import TaskRecord
from retry.transitions import rows


def retry_now(task_id: str) -> TaskRecord | None:
    """FAILED → READY at once with a fresh budget of attempts (an operator's manual retry); None if not FAILED.

    The row is marked sent: the caller sends its message after commit (retry.messages.send_after_commit).
    """
    with transaction.atomic(using=conf.database()):
        fresh = {"attempts": 0, "recoveries": 0, "worker_id": "", "finished_at": None, "expires_at": None}
        fresh["cancel_requested_at"] = None
        changes = {**rows.ready_again(0), "notified_at": clock.now_plus(0), **fresh}
        if not rows.update(TaskRecord.objects.failed().filter(pk=task_id), None, **changes):
            return None
        task = TaskRecord.objects.get(pk=task_id)
        events.record("requeued", task)
    return task


def requeue_failed(task_path: str) -> list[TaskRecord]:
    """Retry now every dead task of ``task_path``; the tasks made ready again."""
    ids = list(TaskRecord.objects.failed().filter(task_path=task_path).values_list("pk", flat=True))
    return [task for pk in ids if (task := retry_now(str(pk))) is not None]


def cancel(task_id: str) -> bool:
    """READY → FAILED, marked cancelled: it will not run."""
    details = rows.error_fields(TaskCancelled("cancelled by an operator"))
    with transaction.atomic(using=conf.database()):
        won = rows.update(
            TaskRecord.objects.ready().filter(pk=task_id), None, status=Status.FAILED, **details, **rows.finished()
        )
        if won:
            events.record("cancelled", TaskRecord.objects.get(pk=task_id))
    return won > 0


def remove_finished(task_ids: list[str]) -> int:
    """Remove the finished tasks among ``task_ids`` and their attempts; ready and running ones are left alone."""
    with transaction.atomic(using=conf.database()):
        doomed = list(TaskRecord.objects.finished().filter(pk__in=task_ids).select_for_update())
        for task in doomed:
            events.record("purged", task)
        TaskRecord.objects.filter(pk__in=[task.pk for task in doomed]).delete()
    return len(doomed)
