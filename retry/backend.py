"""The Django Tasks backend: each enqueue writes a row in the caller's transaction and sends its id after commit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.sql import InsertQuery
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.base import Task, TaskError, TaskResult
from django.tasks.base import TaskResultStatus as Status
from django.tasks.exceptions import TaskResultDoesNotExist

from retry import arguments, clock, conf, events, messages, models, registry, signals
from retry.exceptions import RetryError
from retry.task import RetryTask


class RetryBackend(BaseTaskBackend):
    """Durable tasks with retries, stored in the database and run by Channels workers."""

    task_class = RetryTask
    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def enqueue[**P, R](self, task: Task[P, R], args: Any, kwargs: Any) -> TaskResult[P, R]:
        return cast("TaskResult[P, R]", to_result(self.enqueue_record(task, args, kwargs), self.alias, task))

    def enqueue_record(
        self,
        task: Task[..., Any],
        args: Any,
        kwargs: Any,
        *,
        idempotency_key: str | None = None,
        max_age: float | None = None,
    ) -> models.TaskRecord:
        """Write the task's row; with ``idempotency_key``, an unfinished task with that key is returned instead."""
        self.validate_task(task)
        args, kwargs = arguments.check(args, kwargs)
        record = build_record(task, args, kwargs, idempotency_key=idempotency_key, max_age=max_age)
        using = router.db_for_write(models.TaskRecord)
        if idempotency_key is None:
            insert(record, using)
        else:
            try:
                with transaction.atomic(using=using):
                    insert(record, using)
            except IntegrityError:
                return models.TaskRecord.objects.using(using).get(
                    idempotency_key=idempotency_key, status__in=models.UNFINISHED
                )
        events.record("enqueued", record)
        signals.enqueued(record, task, self.alias)
        if record.notified_at is not None:
            messages.send_after_commit(record, using)
        return record

    def get_result(self, result_id: str) -> TaskResult[..., Any]:
        try:
            record = models.TaskRecord.objects.get(pk=result_id)
        except (models.TaskRecord.DoesNotExist, ValidationError):
            raise TaskResultDoesNotExist(result_id) from None
        return to_result(record, self.alias)


def build_record(
    task: Task[..., Any], args: list[Any], kwargs: dict[str, Any], *, idempotency_key: str | None, max_age: float | None
) -> models.TaskRecord:
    return record_builder(task, max_age)(args, kwargs, idempotency_key)


#: Builds the row of one call from its checked arguments and its idempotency key.
type RecordBuilder = Callable[[list[Any], dict[str, Any], str | None], models.TaskRecord]


def record_builder(task: Task[..., Any], max_age: float | None) -> RecordBuilder:
    """Builds the rows of ``task``'s calls: its policy, time limit and due time are worked out once, now."""
    policy = registry.policy_for(task)
    snapshot = policy.snapshot()
    now = clock.now()
    run_after = task.run_after or now
    options = task if isinstance(task, RetryTask) else None
    max_age = max_age if max_age is not None else getattr(options, "max_age", None)
    time_limit = getattr(options, "time_limit", None) or conf.for_backend(task.backend).TIME_LIMIT
    ignore_result = getattr(options, "ignore_result", False)
    expires_at = run_after + timedelta(seconds=max_age) if max_age is not None else None
    # Due now: sent after commit. Later: the dispatcher sends it when due.
    notified_at = now if run_after <= now else None

    def build(args: list[Any], kwargs: dict[str, Any], idempotency_key: str | None) -> models.TaskRecord:
        return models.TaskRecord(
            task_path=task.module_path,
            queue=task.queue_name,
            priority=task.priority,
            args=args,
            kwargs=kwargs,
            max_attempts=policy.max_attempts,
            policy=dict(snapshot),
            time_limit=time_limit,
            ignore_result=ignore_result,
            idempotency_key=idempotency_key,
            enqueued_at=now,
            run_after=run_after,
            requested_run_after=task.run_after,
            expires_at=expires_at,
            notified_at=notified_at,
        )

    return build


def insert(record: models.TaskRecord, using: str) -> None:
    """INSERT the new row as ``record.save(force_insert=True)`` does, with a statement compiled once per database.

    Model.save builds the same INSERT again for every row, which costs an enqueue more CPU than the INSERT.
    The row has no parents, relations or signal receivers that save() would also see to.
    """
    connection = connections[using]
    params = [field.get_db_prep_save(field.pre_save(record, True), connection) for field in INSERTED]
    with connection.cursor() as cursor:
        cursor.execute(insert_sql(connection), params)
    record._state.adding = False
    record._state.db = using


INSERTED = models.TaskRecord._meta.local_concrete_fields
_insert_sql: dict[str, str] = {}


def insert_sql(connection: BaseDatabaseWrapper) -> str:
    """Django's own INSERT of a TaskRecord for ``connection``'s kind of database."""
    if connection.vendor not in _insert_sql:
        query = InsertQuery(models.TaskRecord)
        query.insert_values(INSERTED, [models.TaskRecord()])
        [(sql, _)] = query.get_compiler(connection=connection).as_sql()
        _insert_sql[connection.vendor] = sql
    return _insert_sql[connection.vendor]


def backend_of(task: Task[..., Any]) -> RetryBackend:
    """``task``'s backend, refused unless it is a RetryBackend."""
    backend = task.get_backend()
    if not isinstance(backend, RetryBackend):
        raise RetryError(f"{task.module_path} uses the backend {task.backend!r}, which is not a RetryBackend.")
    return backend


def to_result(
    record: models.TaskRecord, alias: str, task: Task[..., Any] | None = None, *, history: bool = True
) -> TaskResult[..., Any]:
    """The row as Django's TaskResult; without ``history`` (no query), its errors and workers are the latest only."""
    task = task or task_of(record)
    if history:
        attempts = list(record.attempt_set.all()) if record.attempts else []
        errors = [(a.error_class, a.error_traceback) for a in attempts if a.error_class]
        worker_ids = [a.worker_id for a in attempts if a.outcome != models.Outcome.RELEASED]
        worker_ids += [record.worker_id] if record.status == Status.RUNNING else []  # the attempt under way
    else:
        errors = [(record.error_class, record.error_traceback)] if record.error_class else []
        worker_ids = [record.worker_id] if record.worker_id else []
    result = TaskResult(
        task=task,
        id=str(record.pk),
        status=Status(record.status),
        enqueued_at=record.enqueued_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
        last_attempted_at=record.last_attempted_at,
        args=record.args,
        kwargs=record.kwargs,
        backend=alias,
        errors=[TaskError(exception_class_path=path, traceback=traceback) for path, traceback in errors],
        worker_ids=worker_ids,
    )
    object.__setattr__(result, "_return_value", record.return_value)
    return result


def task_of(record: models.TaskRecord) -> Task[..., Any]:
    """The task a row names, with the priority, queue and run_after it was enqueued with."""
    task = registry.load(record.task_path)
    given = (record.priority, record.queue, record.requested_run_after)
    if given == (task.priority, task.queue_name, task.run_after):
        return task
    return replace(task, priority=record.priority, queue_name=record.queue, run_after=record.requested_run_after)
