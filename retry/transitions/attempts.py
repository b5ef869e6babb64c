"""The transitions of an attempt: claimed, succeeded, failed (retried or dead), released, its lease renewed.

Completions are fenced on (id, attempt, worker), so a worker that lost its lease overwrites nothing.
"""

from collections.abc import Sequence
from typing import Any

from django.db import connections, router, transaction
from django.db.models import F, Q
from django.tasks.base import TaskResultStatus as Status

from retry import clock, conf, controls, events, sql
from retry.models import Outcome, TaskRecord
from retry.policy import RetryDecision
from retry.transitions import cancelling, limits, rows


def claim(task_id: str, worker_id: str) -> TaskRecord | None:
    """READY and due → RUNNING for ``worker_id``, with a fresh lease; None if the task is not claimable."""
    claimed = claim_many([task_id], worker_id)
    return claimed[0] if claimed else None


def claim_many(
    task_ids: list[str], worker_id: str, *, queues: Sequence[str] = (), more: int = 0, lease: float | None = None
) -> list[TaskRecord]:
    """``claim`` for many tasks in one statement; returns the rows that were claimable (each once).

    With ``more``, up to that many other due tasks of ``queues`` are claimed too, highest priority and
    oldest first: a worker with free slots takes a backlog from the database instead of one message at
    a time. Their messages, when they come, find them claimed and are dropped. The claim lasts ``lease`` seconds
    (its backend's LEASE). Paused queues are left out, and task limits kept (retry.transitions.limits).
    """
    lease = lease or conf.get().LEASE
    seen = controls.current()
    if seen.paused:
        queues = [queue for queue in queues if queue not in seen.paused]
    more = more if queues else 0
    if not task_ids and not more:
        return []
    connection = connections[router.db_for_write(TaskRecord)]
    if seen.limited or (seen.paused and task_ids):
        tasks: list[TaskRecord] = limits.claim(
            task_ids, worker_id, queues=queues, more=more, lease=lease, paused=seen.paused
        )
    elif connection.vendor == "postgresql":
        tasks = sql.claim_due(connection, task_ids, queues, more, worker_id, lease)
    else:
        now = clock.now_plus(0)
        claimable = rows.claimable(now)
        wanted = Q(pk__in=task_ids)
        if more:
            backlog = claimable.filter(queue__in=queues).order_by("-priority", "run_after").values("pk")[:more]
            wanted |= Q(pk__in=backlog)
        tasks = rows.update_returning(claimable.filter(wanted), **rows.claimed_by(worker_id, lease, now))
    for task in tasks:
        events.record("started", task, worker_id=worker_id)
    return tasks


def succeed(task: TaskRecord, return_value: Any, duration: float) -> bool:
    """RUNNING → SUCCESSFUL (or removed, for ``ignore_result`` tasks); False if the claim was lost."""
    return succeed_many([(task, return_value, duration)])[0]


def succeed_many(results: list[tuple[TaskRecord, Any, float]]) -> list[bool]:
    """``succeed`` for many tasks, in one statement on PostgreSQL; whether each one's claim still held.

    All or nothing: a caller that sees it raise may write each success again on its own.
    """
    if any(task.ignore_result for task, _, _ in results):  # their rows are deleted by statements of their own
        with transaction.atomic(using=conf.database()):
            return _succeed_many(results)
    return _succeed_many(results)


def _succeed_many(results: list[tuple[TaskRecord, Any, float]]) -> list[bool]:
    connection = connections[router.db_for_write(TaskRecord)]
    kept = [(task, value) for task, value, _ in results if not task.ignore_result]
    if not kept:
        won_ids = set()
    elif connection.vendor == "postgresql":
        won_ids = sql.succeed(connection, kept)
    else:
        with transaction.atomic(using=conf.database()):
            won_ids = {
                task.pk
                for task, value in kept
                if rows.update(rows.fenced(task), task, status=Status.SUCCESSFUL, return_value=value, **rows.finished())
            }
            for task, _ in kept:
                if task.pk in won_ids:
                    rows.finish_attempt(task, Outcome.SUCCEEDED)
    outcomes = []
    for task, value, duration in results:
        won = rows.fenced(task).delete()[1].get("retry.TaskRecord", 0) > 0 if task.ignore_result else task.pk in won_ids
        if won:
            task.status, task.return_value = Status.SUCCESSFUL, value
            events.record("succeeded", task, duration=round(duration, 6))
        else:
            rows.log_lost_claim(task)
        outcomes.append(won)
    return outcomes


def fail(task: TaskRecord, error: BaseException, decision: RetryDecision | None, duration: float) -> bool:
    """RUNNING → READY after the decided delay, or → FAILED when the policy gives up; False if the claim was lost.

    A task an operator asked to stop is never retried: it ends cancelled instead (and this returns False).
    """
    how = f"it then failed ({type(error).__name__}) and is not retried"
    if cancelling.stop_cancelled(task, how):
        return False
    details = rows.error_fields(error)
    with transaction.atomic(using=conf.database()):
        at = clock.moment()
        if decision is None:
            won = rows.update(rows.fenced(task), task, status=Status.FAILED, **details, **rows.finished(at)) > 0
        else:  # a request that landed since the check above is seen here, in the retry's own transaction
            unasked = rows.fenced(task).filter(cancel_requested_at__isnull=True)
            won = rows.update(unasked, task, **rows.ready_again(decision.delay, timer=True, at=at), **details) > 0
            if not won and cancelling.stop_cancelled(task, how):
                return False
        if not won:
            rows.log_lost_claim(task)
            return False
        outcome = Outcome.FAILED if decision is None else Outcome.RETRIED
        rows.finish_attempt(task, outcome, details, at=at, next_delay=decision.delay if decision else None)
        rows.record_failure(task, decision, details, duration=round(duration, 6))
    return True


def release(task: TaskRecord) -> bool:
    """RUNNING → READY at once, the attempt not charged: the worker is shutting down (a task asked to stop ends
    cancelled instead, in the same transaction)."""
    with transaction.atomic(using=conf.database()):
        unasked, at = rows.fenced(task).filter(cancel_requested_at__isnull=True), clock.moment()
        if not rows.update(unasked, task, attempts=F("attempts") - 1, **rows.ready_again(0, at=at)):
            return cancelling.stop_cancelled(task, "its worker shut down before it ended")  # or the claim was lost
        rows.finish_attempt(task, Outcome.RELEASED, at=at)
        task.attempts -= 1
        events.record("released", task)
    return True


def begin_alone(task: TaskRecord) -> bool:
    """Mark the attempt under way as having its worker to itself; False if the claim was lost."""
    return rows.update(rows.fenced(task), task, alone=True) > 0


def renew_leases(worker_id: str, task_ids: list[str], lease: float | None = None) -> int:
    """Extend the claims ``worker_id`` still holds on ``task_ids``.

    Rows locked by another statement are skipped, never waited for: that statement is ending their attempt
    (a batch of successes of this same worker, say), and waiting on a batch that waits on this one is a deadlock.
    """
    if not task_ids:
        return 0
    with transaction.atomic(using=conf.database()):
        held = TaskRecord.objects.running().filter(pk__in=task_ids, worker_id=worker_id)
        free = list(held.select_for_update(skip_locked=True).values_list("pk", flat=True))
        return TaskRecord.objects.filter(pk__in=free).update(lease_until=clock.now_plus(lease or conf.get().LEASE))
