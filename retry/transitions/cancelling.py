"""Cancelling a running task: an operator's request on the row, and the end of the attempt it asked for.

The request is durable (``cancel_requested_at``): the worker running the task sees it within a dispatcher
interval, and every other way an attempt can end (a failure, a lost lease, a shutdown) ends the task as
cancelled instead of retrying it. A success recorded before the worker saw the request stands.
"""

from django.db import transaction
from django.tasks.base import TaskResultStatus as Status

from retry import clock, conf, events
from retry.exceptions import TaskCancelled
from retry.models import Outcome, TaskRecord
from retry.transitions import rows

#: The error message of every task cancelled while it ran; the end of the sentence says how the attempt ended.
MESSAGE = "cancelled by an operator while it ran; "


def request_cancel(task_id: str) -> bool:
    """Ask a RUNNING task to stop; False if it is not running or was asked already."""
    with transaction.atomic(using=conf.database()):
        asked = TaskRecord.objects.running().filter(pk=task_id, cancel_requested_at__isnull=True)
        if not asked.update(cancel_requested_at=clock.now_plus(0)):
            return False
        events.record("cancel_requested", TaskRecord.objects.get(pk=task_id))
    return True


def cancel_requested(worker_id: str, task_ids: list[str]) -> list[str]:
    """Which of ``task_ids``, run by ``worker_id``, an operator asked to stop."""
    if not task_ids:
        return []
    asked = TaskRecord.objects.running().filter(pk__in=task_ids, worker_id=worker_id, cancel_requested_at__isnull=False)
    return [str(pk) for pk in asked.values_list("pk", flat=True)]


def stop_cancelled(task: TaskRecord, how: str) -> bool:
    """RUNNING and asked to stop → FAILED, marked cancelled, its attempt CANCELLED; ``how`` ends the message.

    False if the task was not asked to stop, or the claim was lost: the caller goes on as it would have.
    """
    details = rows.error_fields(TaskCancelled(MESSAGE + how))
    with transaction.atomic(using=conf.database()):
        asked = rows.fenced(task).filter(cancel_requested_at__isnull=False)
        if not rows.update(asked, task, status=Status.FAILED, return_value=None, **details, **rows.finished()):
            return False
        rows.finish_attempt(task, Outcome.CANCELLED, details)
        events.record("cancelled", task, error=details["error_message"])
    return True
