"""What the transitions share: the fenced, conditional UPDATE and the fields each kind of change writes."""

import logging
import traceback
from typing import Any

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.tasks.base import TaskResultStatus as Status

from retry import clock, conf, events, text
from retry.models import TaskAttempt, TaskRecord
from retry.policy import RetryDecision

logger = logging.getLogger("retry.transitions")


def update_returning(rows: "QuerySet[TaskRecord]", **changes: Any) -> list[TaskRecord]:
    """Apply ``changes`` to ``rows`` and return them as they are now: one round trip (UPDATE … RETURNING)."""
    meta = TaskRecord._meta
    fields = meta.concrete_fields
    values = [(meta.get_field(name), None, value) for name, value in changes.items()]
    returned = rows._update(values, returning_fields=fields)  # type: ignore[attr-defined]
    names = [field.attname for field in fields]
    return [TaskRecord.from_db(rows.db, names, row) for row in returned or ()]


def fenced(task: TaskRecord) -> "QuerySet[TaskRecord]":
    return TaskRecord.objects.running().filter(pk=task.pk, attempts=task.attempts, worker_id=task.worker_id)


def update(rows: "QuerySet[TaskRecord]", task: TaskRecord | None, **changes: Any) -> int:
    """Apply ``changes`` to ``rows`` and mirror the plain values onto ``task``."""
    updated = rows.update(**changes)
    if updated and task is not None:
        for name, value in changes.items():
            if not hasattr(value, "resolve_expression"):
                setattr(task, name, value)
    return updated


def claimable(now: Any) -> "QuerySet[TaskRecord]":
    """READY tasks due by ``now`` and not past their deadline: what a claim may take."""
    return (
        TaskRecord.objects.ready().filter(run_after__lte=now).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    )


def claimed_by(worker_id: str, lease: float, now: Any) -> dict[str, Any]:
    """A claim's changes: RUNNING for ``worker_id`` from ``now``, one attempt more, a lease of ``lease`` seconds."""
    return {
        "status": Status.RUNNING,
        "attempts": F("attempts") + 1,
        "alone": False,
        "worker_id": worker_id,
        "lease_until": clock.now_plus(lease),
        "started_at": Coalesce(F("started_at"), now),
        "last_attempted_at": now,
    }


def finished(at: clock.Moment | None = None) -> dict[str, Any]:
    return {"finished_at": clock.now_plus(0, at=at), "lease_until": None}


def ready_again(delay: float, *, timer: bool = False, at: clock.Moment | None = None) -> dict[str, Any]:
    """Back to READY, due ``delay`` after ``at`` (the transition's moment; now by default); the dispatcher sends
    it then, unless the caller's ``timer`` starts it.

    A worker that schedules a near retry starts it on time itself (see runner.Runner._start_later).
    """
    due = clock.now_plus(delay, at=at)
    sent = due if timer and 0 < delay <= conf.get().LOCAL_RETRY_HORIZON else None
    return {
        "status": Status.READY,
        "run_after": due,
        "notified_at": sent,
        "lease_until": None,
    }


def error_fields(error: BaseException) -> dict[str, str]:
    kind = type(error)
    return {
        "error_class": f"{kind.__module__}.{kind.__qualname__}",
        "error_message": text.storable(str(error), text.MESSAGE_LIMIT),
        "error_traceback": text.storable("".join(traceback.format_exception(error)), text.TRACEBACK_LIMIT)
        if error.__traceback__
        else "",
    }


def finish_attempt(
    task: TaskRecord,
    outcome: str,
    details: dict[str, str] | None = None,
    *,
    at: clock.Moment | None = None,
    **fields: Any,
) -> None:
    """Write the history row of the attempt that just ended (at ``at``, the transition's moment; now by default)."""
    assert task.last_attempted_at is not None
    TaskAttempt.objects.create(
        task_id=task.pk,
        number=task.attempts,
        worker_id=task.worker_id,
        started_at=task.last_attempted_at,
        finished_at=clock.now_plus(0, at=at),
        outcome=outcome,
        **(details or {}),
        **fields,
    )


def record_failure(
    task: TaskRecord, decision: RetryDecision | None, details: dict[str, str], *, lost: bool = False, **extra: Any
) -> None:
    error = f"{details['error_class'].rsplit('.', 1)[-1]}: {details['error_message'][:200]}"
    if decision is not None:
        change = "lost" if lost else "retry_scheduled"
        events.record(change, task, delay=round(decision.delay, 3), error=error, **extra)
    else:
        events.record("lost" if lost else "failed", task, error=error, **extra)
        if lost:
            events.record("failed", task, error=error, **extra)


def log_lost_claim(task: TaskRecord) -> None:
    logger.warning("Finished after losing the claim; the result is discarded", extra=task.log_fields())
