"""The task state machine: the only code that writes a task's status, attempts or lease.

Each transition is one conditional UPDATE on the state it expects; 0 rows updated means another
process won (a duplicate message, a late finisher, a second dispatcher), and the caller moves on.
Completions are fenced on (id, attempt, worker), so a worker that lost its lease overwrites nothing.
"""

import functools
import json
import logging
import traceback
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import connections, router, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.tasks.base import TaskResultStatus as Status

from retry import clock, conf, events, policy, registry, text
from retry.exceptions import LeaseLost, TaskCancelled, TaskExpired
from retry.messages import channel_for, run_message
from retry.models import Outcome, TaskAttempt, TaskRecord
from retry.outbox import outbox
from retry.policy import RetryDecision

logger = logging.getLogger("retry.transitions")


def claim(task_id: str, worker_id: str) -> TaskRecord | None:
    """READY and due → RUNNING for ``worker_id``, with a fresh lease; None if the task is not claimable."""
    claimed = claim_many([task_id], worker_id)
    return claimed[0] if claimed else None


def claim_many(task_ids: list[str], worker_id: str, *, queues: Sequence[str] = (), more: int = 0) -> list[TaskRecord]:
    """``claim`` for many tasks in one statement; returns the rows that were claimable (each once).

    With ``more``, up to that many other due tasks of ``queues`` are claimed too, highest priority and
    oldest first: a worker with free slots takes a backlog from the database instead of one message at
    a time. Their messages, when they come, find them claimed and are dropped.
    """
    more = more if queues else 0
    if not task_ids and not more:
        return []
    connection = connections[router.db_for_write(TaskRecord)]
    if connection.vendor == "postgresql":
        limits = [value for queue in queues for value in (queue, more)] if more else []
        params: list[Any] = [sorted(set(task_ids)), *limits, more, worker_id, conf.get().LEASE]
        with connection.cursor() as cursor:
            cursor.execute(claim_sql(len(queues) if more else 0), params)
            tasks = [_record_from_row(connection, row) for row in cursor.fetchall()]
    else:
        now = clock.now_plus(0)
        claimable = (
            TaskRecord.objects.ready()
            .filter(run_after__lte=now)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        )
        wanted = Q(pk__in=task_ids)
        if more:
            backlog = claimable.filter(queue__in=queues).order_by("-priority", "run_after").values("pk")[:more]
            wanted |= Q(pk__in=backlog)
        tasks = _update_returning(
            claimable.filter(wanted),
            status=Status.RUNNING,
            attempts=F("attempts") + 1,
            alone=False,
            worker_id=worker_id,
            lease_until=clock.now_plus(conf.get().LEASE),
            started_at=Coalesce(F("started_at"), now),
            last_attempted_at=now,
        )
    for task in tasks:
        events.record("started", task, worker_id=worker_id)
    return tasks


#: One queue's backlog, in the order of its index (retry_task_backlog), so a pass reads ``LIMIT`` rows
#: however long the backlog is. Rows locked by another transaction are skipped, never waited for: another
#: worker is claiming them, or the dispatcher is sending their message again.
BACKLOG_SQL = """backlog_{number} AS (
    SELECT id, priority, run_after FROM retry_taskrecord
    WHERE status = 'READY' AND queue = %s AND run_after <= STATEMENT_TIMESTAMP()
        AND (expires_at IS NULL OR expires_at > STATEMENT_TIMESTAMP())
    ORDER BY priority DESC, run_after
    LIMIT %s
    FOR UPDATE SKIP LOCKED
)"""
CLAIM_SQL = """
WITH named AS (
    SELECT id FROM retry_taskrecord
    WHERE id = ANY(%s::uuid[]) AND status = 'READY' AND run_after <= STATEMENT_TIMESTAMP()
        AND (expires_at IS NULL OR expires_at > STATEMENT_TIMESTAMP())
    FOR UPDATE SKIP LOCKED
){backlogs}, backlog AS (
    {backlog}
), best AS (
    SELECT id FROM backlog ORDER BY priority DESC, run_after LIMIT %s
)
UPDATE retry_taskrecord
SET status = 'RUNNING', attempts = attempts + 1, alone = false, worker_id = %s,
    lease_until = STATEMENT_TIMESTAMP() + make_interval(secs => %s),
    started_at = COALESCE(started_at, STATEMENT_TIMESTAMP()), last_attempted_at = STATEMENT_TIMESTAMP()
WHERE id IN (SELECT id FROM named UNION SELECT id FROM best)
RETURNING {columns}
"""


@functools.cache
def claim_sql(queues: int) -> str:
    """The claim statement for a worker taking the backlog of ``queues`` queues (0: only the named tasks)."""
    backlogs = "".join(",\n" + BACKLOG_SQL.format(number=number) for number in range(queues))
    backlog = "\n    UNION ALL\n    ".join(f"SELECT * FROM backlog_{number}" for number in range(queues))
    columns = ", ".join(str(field.column) for field in TaskRecord._meta.concrete_fields)
    return CLAIM_SQL.format(
        backlogs=backlogs,
        backlog=backlog or "SELECT NULL::uuid AS id, 0 AS priority, NULL::timestamptz AS run_after WHERE false",
        columns=columns,
    )


def _record_from_row(connection: Any, row: tuple[Any, ...]) -> TaskRecord:
    """A row of CLAIM_SQL's RETURNING as a TaskRecord (JSON columns come from the database as text)."""
    fields = TaskRecord._meta.concrete_fields
    values = [
        field.from_db_value(value, None, connection) if hasattr(field, "from_db_value") else value
        for field, value in zip(fields, row, strict=True)
    ]
    return TaskRecord.from_db(connection.alias, [field.attname for field in fields], values)


def succeed(task: TaskRecord, return_value: Any, duration: float) -> bool:
    """RUNNING → SUCCESSFUL (or removed, for ``ignore_result`` tasks); False if the claim was lost."""
    return succeed_many([(task, return_value, duration)])[0]


def succeed_many(results: list[tuple[TaskRecord, Any, float]]) -> list[bool]:
    """``succeed`` for many tasks, in one statement on PostgreSQL; whether each one's claim still held."""
    connection = connections[router.db_for_write(TaskRecord)]
    kept = [(task, value) for task, value, _ in results if not task.ignore_result]
    if not kept:
        won_ids = set()
    elif connection.vendor == "postgresql":
        won_ids = _succeed_in_one_statement(connection, kept)
    else:
        with transaction.atomic():
            won_ids = {
                task.pk
                for task, value in kept
                if _update(_fenced(task), task, status=Status.SUCCESSFUL, return_value=value, **_finished())
            }
            for task, _ in kept:
                if task.pk in won_ids:
                    _finish_attempt(task, Outcome.SUCCEEDED)
    outcomes = []
    for task, value, duration in results:
        won = _fenced(task).delete()[1].get("retry.TaskRecord", 0) > 0 if task.ignore_result else task.pk in won_ids
        if won:
            task.status, task.return_value = Status.SUCCESSFUL, value
            events.record("succeeded", task, duration=round(duration, 6))
        else:
            _log_lost_claim(task)
        outcomes.append(won)
    return outcomes


#: The hot path on PostgreSQL: the fenced updates and the attempts' history rows in one round trip.
SUCCEED_SQL = """
WITH done AS (
    UPDATE retry_taskrecord AS task
    SET status = 'SUCCESSFUL', return_value = NULLIF(result.return_value, 'null'::jsonb),
        finished_at = STATEMENT_TIMESTAMP(), lease_until = NULL
    FROM jsonb_to_recordset(%s::jsonb) AS result(id uuid, attempts integer, worker_id text, return_value jsonb)
    WHERE task.id = result.id AND task.status = 'RUNNING' AND task.attempts = result.attempts
        AND task.worker_id = result.worker_id
    RETURNING task.id, task.attempts, task.worker_id, task.last_attempted_at, task.finished_at
)
INSERT INTO retry_taskattempt
    (task_id, number, worker_id, started_at, finished_at, outcome, error_class, error_message, error_traceback)
SELECT id, attempts, worker_id, last_attempted_at, finished_at, 'SUCCEEDED', '', '', '' FROM done
RETURNING task_id
"""


def _succeed_in_one_statement(connection: Any, results: list[tuple[TaskRecord, Any]]) -> set[uuid.UUID]:
    rows = [
        {"id": str(task.pk), "attempts": task.attempts, "worker_id": task.worker_id, "return_value": value}
        for task, value in results
    ]
    with connection.cursor() as cursor:
        cursor.execute(SUCCEED_SQL, [json.dumps(rows)])
        return {task_id for (task_id,) in cursor.fetchall()}


def fail(task: TaskRecord, error: BaseException, decision: RetryDecision | None, duration: float) -> bool:
    """RUNNING → READY after the decided delay, or → FAILED when the policy gives up; False if the claim was lost."""
    details = _error_fields(error)
    with transaction.atomic():
        if decision is None:
            won = _update(_fenced(task), task, status=Status.FAILED, **details, **_finished()) > 0
        else:
            won = _update(_fenced(task), task, **_ready_again(decision.delay, timer=True), **details) > 0
        if not won:
            _log_lost_claim(task)
            return False
        outcome = Outcome.FAILED if decision is None else Outcome.RETRIED
        _finish_attempt(task, outcome, details, next_delay=decision.delay if decision else None)
        _record_failure(task, decision, details, duration=round(duration, 6))
    return True


def release(task: TaskRecord) -> bool:
    """RUNNING → READY at once, the attempt not charged: the worker is shutting down."""
    with transaction.atomic():
        won = _update(_fenced(task), task, attempts=F("attempts") - 1, **_ready_again(0)) > 0
        if won:
            _finish_attempt(task, Outcome.RELEASED)
            task.attempts -= 1
            events.record("released", task)
    return won


def begin_alone(task: TaskRecord) -> bool:
    """Mark the attempt under way as having its worker to itself; False if the claim was lost."""
    return _update(_fenced(task), task, alone=True) > 0


def renew_leases(worker_id: str, task_ids: list[str]) -> int:
    """Extend the claims ``worker_id`` still holds on ``task_ids``.

    Rows locked by another statement are skipped, never waited for: that statement is ending their attempt
    (a batch of successes of this same worker, say), and waiting on a batch that waits on this one is a deadlock.
    """
    if not task_ids:
        return 0
    with transaction.atomic():
        held = TaskRecord.objects.running().filter(pk__in=task_ids, worker_id=worker_id)
        free = list(held.select_for_update(skip_locked=True).values_list("pk", flat=True))
        return TaskRecord.objects.filter(pk__in=free).update(lease_until=clock.now_plus(conf.get().LEASE))


def take_due(now: datetime, batch: int, queue: str) -> list[str]:
    """Mark up to ``batch`` due tasks of ``queue`` as sent and return their ids; the caller sends after commit.

    Never-sent tasks come first; then those whose message may have expired unread. Each read follows an
    index in the order taken (retry_task_backlog), so a pass costs what it takes, not what is due.
    """
    sent_before = now - timedelta(seconds=conf.get().MESSAGE_EXPIRY)
    rows: list[str] = []
    with transaction.atomic():
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
    with transaction.atomic():
        lost = list(TaskRecord.objects.lease_expired(now).select_for_update(skip_locked=True)[:batch])
        for task in lost:
            numbers = registry.default_policy().with_numbers(task.policy)
            if task.alone:
                error = LeaseLost(f"worker {task.worker_id} stopped renewing its lease while running this task alone")
                decision = policy.decide(numbers, task.failures, error)
                recovered: dict[str, Any] = {}
            else:
                error = LeaseLost(f"worker {task.worker_id} stopped renewing its lease (died, hung or over time limit)")
                decision = policy.RetryDecision(_recovery_delay(numbers, task.recoveries + 1), "recovered")
                recovered = {"recoveries": F("recoveries") + 1}
            details = _error_fields(error)
            changes = _ready_again(decision.delay) if decision else {"status": Status.FAILED, **_finished()}
            if _update(_fenced(task), task, **changes, **details, **recovered):
                next_delay = decision.delay if decision else None
                _finish_attempt(task, Outcome.LOST, details, next_delay=next_delay)
                _record_failure(task, decision, details, lost=True)
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
    with transaction.atomic():
        overdue = list(TaskRecord.objects.past_deadline(now).select_for_update(skip_locked=True)[:batch])
        for task in overdue:
            details = _error_fields(TaskExpired(f"not started by {task.expires_at:%Y-%m-%d %H:%M:%S}"))
            if _update(
                TaskRecord.objects.ready().filter(pk=task.pk), task, status=Status.FAILED, **details, **_finished()
            ):
                events.record("expired", task, error=details["error_message"])
    return len(overdue)


def retry_now(task_id: str) -> bool:
    """FAILED → READY at once with a fresh budget of attempts (an operator's manual retry)."""
    with transaction.atomic():
        fresh = {"attempts": 0, "recoveries": 0, "worker_id": "", "finished_at": None, "expires_at": None}
        tasks = TaskRecord.objects.failed().filter(pk=task_id)
        won = _update(tasks, None, **_ready_again(0), **fresh) > 0
        if won:
            task = TaskRecord.objects.get(pk=task_id)
            events.record("requeued", task)
            _send_on_commit(task)
    return won


def requeue_failed(task_path: str) -> int:
    """Retry now every dead task of ``task_path``."""
    ids = list(TaskRecord.objects.failed().filter(task_path=task_path).values_list("pk", flat=True))
    return sum(retry_now(str(pk)) for pk in ids)


def cancel(task_id: str) -> bool:
    """READY → FAILED, marked cancelled: it will not run."""
    details = _error_fields(TaskCancelled("cancelled by an operator"))
    with transaction.atomic():
        won = _update(
            TaskRecord.objects.ready().filter(pk=task_id), None, status=Status.FAILED, **details, **_finished()
        )
        if won:
            events.record("cancelled", TaskRecord.objects.get(pk=task_id))
    return won > 0


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


def _update_returning(rows: "QuerySet[TaskRecord]", **changes: Any) -> list[TaskRecord]:
    """Apply ``changes`` to ``rows`` and return them as they are now: one round trip (UPDATE … RETURNING)."""
    meta = TaskRecord._meta
    fields = meta.concrete_fields
    values = [(meta.get_field(name), None, value) for name, value in changes.items()]
    returned = rows._update(values, returning_fields=fields)  # type: ignore[attr-defined]
    names = [field.attname for field in fields]
    return [TaskRecord.from_db(rows.db, names, row) for row in returned or ()]


def _fenced(task: TaskRecord) -> "QuerySet[TaskRecord]":
    return TaskRecord.objects.running().filter(pk=task.pk, attempts=task.attempts, worker_id=task.worker_id)


def _update(rows: "QuerySet[TaskRecord]", task: TaskRecord | None, **changes: Any) -> int:
    """Apply ``changes`` to ``rows`` and mirror the plain values onto ``task``."""
    updated = rows.update(**changes)
    if updated and task is not None:
        for name, value in changes.items():
            if not hasattr(value, "resolve_expression"):
                setattr(task, name, value)
    return updated


def _finished() -> dict[str, Any]:
    return {"finished_at": clock.now_plus(0), "lease_until": None}


def _ready_again(delay: float, *, timer: bool = False) -> dict[str, Any]:
    """Back to READY, due after ``delay``; the dispatcher sends it then, unless the caller's ``timer`` starts it.

    A worker that schedules a near retry starts it on time itself (see runner.Runner._start_later).
    """
    sent = clock.now_plus(delay) if timer and 0 < delay <= conf.get().LOCAL_RETRY_HORIZON else None
    return {
        "status": Status.READY,
        "run_after": clock.now_plus(delay),
        "notified_at": sent,
        "lease_until": None,
    }


def _error_fields(error: BaseException) -> dict[str, str]:
    kind = type(error)
    return {
        "error_class": f"{kind.__module__}.{kind.__qualname__}",
        "error_message": text.storable(str(error), text.MESSAGE_LIMIT),
        "error_traceback": text.storable("".join(traceback.format_exception(error)), text.TRACEBACK_LIMIT)
        if error.__traceback__
        else "",
    }


def _finish_attempt(task: TaskRecord, outcome: str, details: dict[str, str] | None = None, **fields: Any) -> None:
    """Write the history row of the attempt that just ended."""
    assert task.last_attempted_at is not None
    TaskAttempt.objects.create(
        task_id=task.pk,
        number=task.attempts,
        worker_id=task.worker_id,
        started_at=task.last_attempted_at,
        finished_at=clock.now_plus(0),
        outcome=outcome,
        **(details or {}),
        **fields,
    )


def _record_failure(
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


def _send_on_commit(task: TaskRecord) -> None:
    TaskRecord.objects.filter(pk=task.pk).update(notified_at=clock.now_plus(0))
    task_id, channel = str(task.pk), channel_for(task.queue)
    transaction.on_commit(lambda: outbox.send(channel, run_message(task_id), lambda _: forget_sent([task_id])))


def _log_lost_claim(task: TaskRecord) -> None:
    logger.warning("Finished after losing the claim; the result is discarded", extra=task.log_fields())
