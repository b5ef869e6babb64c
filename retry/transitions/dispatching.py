"""The dispatcher's transitions: due tasks marked sent, lost attempts recovered, overdue tasks expired, old
rows purged. Rows are taken with SKIP LOCKED, so several dispatchers share the work."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.tasks.base import TaskResultStatus as Status

from retry import clock, conf, events, policy, registry
from retry.exceptions import LeaseLost, TaskExpired
from retry.models import Outcome, TaskRecord
from retry.transitions import cancelling, rows


def take_due(now: datetime, batch: int, queue: str) -> list[str]:
    """Mark up to ``batch`` due tasks of ``queue`` as sent and return their ids; the caller sends after commit.

    Never-sent tasks come first; then those whose message may have expired unread. Each read follows an
    index in the order taken (retry_task_backlog), so a pass costs what it takes, not what is due.
    """
    sent_before = now - timedelta(seconds=conf.get().MESSAGE_EXPIRY)
    rows: list[str] = []
    with transaction.atomic(using=conf.database()):
        for due in (TaskRecord.objects.unsent(now), TaskRecord.objects.message_expired(now, sent_before=sent_before)):
            if len(rows) < batch:
                taken = due.filter(queue=queue).order_by("-priority", "run_after").select_for_update(skip_locked=True)
                rows += [str(pk) for pk in taken.values_list("pk", flat=True)[: batch - len(rows)]]
        if rows:
            TaskRecord.objects.filter(pk__in=rows).update(notified_at=now)
    return rows


def forget_sent(task_ids: list[str]) -> int:
    """The messages of ``task_ids`` did not get through: let the dispatcher send them again."""
    valid = [task_id for task_id in task_ids if _is_uuid(task_id)]
    return TaskRecord.objects.ready().filter(pk__in=valid).update(notified_at=None) if valid else 0


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def recover_lost(now: datetime, batch: int) -> int:
    """RUNNING past its lease → READY again, or FAILED when a task that ran alone has no attempts left.

    A loss beside other tasks may be any of them's doing (or the host's): it is a recovery, not charged to the
    task's policy, and a task recovered ``RUN_ALONE_AFTER`` times runs alone from then on. A loss while it had
    its worker to itself is its own: a failed attempt, decided by the policy's numbers (never its exception rules).
    """
    with transaction.atomic(using=conf.database()):
        lost = list(TaskRecord.objects.lease_expired(now).select_for_update(skip_locked=True)[:batch])
        for task in lost:
            if task.cancel_requested_at is not None:
                cancelling.stop_cancelled(task, "its worker stopped renewing its lease before it ended")
                continue
            numbers = registry.default_policy().with_numbers(task.policy)
            if task.alone:
                error = LeaseLost(f"worker {task.worker_id} stopped renewing its lease while running this task alone")
                decision = policy.decide(numbers, task.failures, error)
                recovered: dict[str, Any] = {}
            else:
                error = LeaseLost(f"worker {task.worker_id} stopped renewing its lease (died, hung or over time limit)")
                decision = policy.RetryDecision(_recovery_delay(numbers, task.recoveries + 1), "recovered")
                recovered = {"recoveries": F("recoveries") + 1}
            details, at = rows.error_fields(error), clock.moment()
            ended = {"status": Status.FAILED, **rows.finished(at)}
            changes = rows.ready_again(decision.delay, at=at) if decision else ended
            if rows.update(rows.fenced(task), task, **changes, **details, **recovered):
                next_delay = decision.delay if decision else None
                rows.finish_attempt(task, Outcome.LOST, details, at=at, next_delay=next_delay)
                rows.record_failure(task, decision, details, lost=True)
    return len(lost)


def _recovery_delay(numbers: policy.RetryPolicy, recovery: int) -> float:
    """The policy's backoff for the ``recovery``-th recovery: spread out, as a failed attempt's retry would be."""
    return policy.backoff_delay(
        recovery,
        base_delay=numbers.base_delay,
        factor=numbers.factor,
        max_delay=numbers.max_delay,
        jitter=numbers.jitter,
    )


def expire_overdue(now: datetime, batch: int) -> int:
    """READY past its start-by deadline → FAILED as expired, instead of running late."""
    with transaction.atomic(using=conf.database()):
        overdue = list(TaskRecord.objects.past_deadline(now).select_for_update(skip_locked=True)[:batch])
        for task in overdue:
            details = rows.error_fields(TaskExpired(f"not started by {task.expires_at:%Y-%m-%d %H:%M:%S}"))
            if rows.update(
                TaskRecord.objects.ready().filter(pk=task.pk), task, status=Status.FAILED, **details, **rows.finished()
            ):
                events.record("expired", task, error=details["error_message"])
    return len(overdue)


def purge(now: datetime, batch: int) -> int:
    """Remove finished tasks older than their retention period; returns how many went."""
    settings = conf.get()
    removed = 0
    for status, retention in (
        (Status.SUCCESSFUL, settings.RESULT_RETENTION),
        (Status.FAILED, settings.FAILED_RETENTION),
    ):
        if retention > 0:
            old = TaskRecord.objects.filter(status=status, finished_at__lt=now - timedelta(seconds=retention))
            ids = list(old.values_list("pk", flat=True)[:batch])
            if ids:
                removed += TaskRecord.objects.filter(pk__in=ids, status=status).delete()[1].get("retry.TaskRecord", 0)
    return removed
