"""Bulk enqueue: thousands of tasks of one task function in one statement per batch, for imports and fan-outs.

On PostgreSQL a batch without idempotency keys is one ``COPY``, which takes rows several times faster than an
``INSERT`` of as many; a batch with keys is an ``INSERT … ON CONFLICT DO NOTHING``, as on other databases.

It keeps the guarantees of ``Task.enqueue``: every call's arguments are checked before anything is written (one
bad call refuses them all, naming it), the rows are written in the caller's transaction, their messages go out
after it commits, and an idempotency key returns the unfinished task that has it instead of a second one.
Django's ``task_enqueued`` signal is sent for each task after commit; the log line and the live event are one
for the whole call (``enqueued_many``, with the count), not one per task.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, router, transaction
from django.db.models import JSONField
from django.tasks import signals as task_signals
from django.tasks.base import Task, TaskResult

from retry import arguments, backend, events, messages, models, signals
from retry.exceptions import InvalidTaskArguments

#: Rows one INSERT writes.
BATCH_SIZE = 1000
#: Due tasks of one call whose message is sent after commit: enough to wake every worker of the queue. The
#: others wait in the database, where a worker with free slots takes them in priority order (its backlog claim)
#: and the dispatcher sends them within a pass: thousands of messages at once would only overflow the channel.
WAKE_UP = 100


@dataclass(frozen=True)
class Call:
    """The arguments of one task of a bulk enqueue, and its idempotency key if any."""

    args: Sequence[Any] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None


def enqueue_many(
    task: Task[..., Any], calls: Iterable[Call | Mapping[str, Any]], *, batch_size: int = BATCH_SIZE
) -> list[TaskResult[..., Any]]:
    """Enqueue ``task`` once per call (a Call, or a dict of keyword arguments); the results in the calls' order.

    A call whose idempotency key an unfinished task has (or an earlier call of the same list) gets that task.
    """
    retry_backend = backend.backend_of(task)
    retry_backend.validate_task(task)
    build = backend.record_builder(task, max_age=None)
    records = [_record(build, index, call) for index, call in enumerate(calls)]
    using = router.db_for_write(models.TaskRecord)
    with transaction.atomic(using=using):
        chosen, new = _insert(records, using, batch_size)
        results = {record.pk: backend.to_result(record, retry_backend.alias, task, history=False) for record in chosen}
        if new:
            _announce(new, [results[record.pk] for record in new], using)
    return [results[record.pk] for record in chosen]


def _record(build: backend.RecordBuilder, index: int, call: Call | Mapping[str, Any]) -> models.TaskRecord:
    call = call if isinstance(call, Call) else Call(kwargs=call)
    try:
        args, kwargs = arguments.check(call.args, call.kwargs)
    except InvalidTaskArguments as error:
        raise InvalidTaskArguments(f"Call {index}: {error}") from None
    return build(args, kwargs, call.idempotency_key)


def _insert(
    records: list[models.TaskRecord], using: str, batch_size: int
) -> tuple[list[models.TaskRecord], list[models.TaskRecord]]:
    """INSERT ``records`` a batch at a time; each call's row (new, or the unfinished one with its key) and the new."""
    first: dict[str, models.TaskRecord] = {}  # each key's first call: the later ones get its task
    for record in records:
        if record.idempotency_key is not None:
            first.setdefault(record.idempotency_key, record)
    unique = [record for record in records if record.idempotency_key is None or first[record.idempotency_key] is record]
    due = [record for record in unique if record.notified_at is not None]
    for record in due[WAKE_UP:]:
        record.notified_at = None  # the dispatcher sends these, unless a worker takes them first
    existing: dict[str, models.TaskRecord] = {}
    new: list[models.TaskRecord] = []
    # No more rows than the database takes parameters for in one statement (SQLite builds may take 999 only).
    batch_size = max(1, min(batch_size, connections[using].ops.bulk_batch_size(backend.INSERTED, unique)))
    for start in range(0, len(unique), batch_size):
        batch = unique[start : start + batch_size]
        if any(record.idempotency_key is not None for record in batch):
            models.TaskRecord.objects.using(using).bulk_create(batch, ignore_conflicts=True)
            new += _written(batch, using, existing)
        elif connections[using].vendor == "postgresql":
            _copy(batch, using)
            new += batch
        else:
            models.TaskRecord.objects.using(using).bulk_create(batch)
            new += batch
    for record in records:
        if record.idempotency_key is not None:
            first[record.idempotency_key] = existing.get(record.idempotency_key, first[record.idempotency_key])
    chosen = [record if record.idempotency_key is None else first[record.idempotency_key] for record in records]
    return chosen, new


def _copy(batch: list[models.TaskRecord], using: str) -> None:
    """COPY ``batch`` into the task table (Django's query log shows it, as it shows any statement)."""
    connection = connections[using]
    quote = connection.ops.quote_name
    fields = backend.INSERTED
    columns = ", ".join(quote(str(column.column)) for column in fields)
    sql = f"COPY {quote(models.TaskRecord._meta.db_table)} ({columns}) FROM STDIN"
    # The rows of one call share most of their values (task, queue, times, policy numbers): each column's value is
    # made ready for the database once per COPY. The id and the JSON columns are each row's own.
    shared = [not (column.primary_key or isinstance(column, JSONField)) for column in fields]
    ready: dict[tuple[int, Any], Any] = {}

    def row(record: models.TaskRecord) -> list[Any]:
        values = []
        for index, column in enumerate(fields):
            value = column.pre_save(record, True)
            if not shared[index]:
                values.append(column.get_db_prep_save(value, connection))
                continue
            if (index, value) not in ready:
                ready[index, value] = column.get_db_prep_save(value, connection)
            values.append(ready[index, value])
        return values

    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        for record in batch:
            copy.write_row(row(record))
    for record in batch:
        record._state.adding = False
        record._state.db = using


def _written(
    batch: list[models.TaskRecord], using: str, existing: dict[str, models.TaskRecord]
) -> list[models.TaskRecord]:
    """The rows of ``batch`` its INSERT wrote; ``existing`` gets the unfinished tasks whose keys the others had."""
    rows = models.TaskRecord.objects.using(using)
    written = set(rows.filter(pk__in=[record.pk for record in batch]).values_list("pk", flat=True))
    taken = {record.idempotency_key: record for record in batch if record.pk not in written}
    for row in rows.filter(idempotency_key__in=list(taken), status__in=models.UNFINISHED):
        existing[str(row.idempotency_key)] = row
    # A key whose task finished between the INSERT and this read is free again: its row is written now.
    late = [record for key, record in taken.items() if key not in existing]
    rows.bulk_create(late)
    return [record for record in batch if record.pk in written] + late


def _announce(new: list[models.TaskRecord], results: list[TaskResult[..., Any]], using: str) -> None:
    """One log line and live event; after commit, a message for each task marked sent and Django's signal for each."""
    events.record_many("enqueued_many", new)
    for record in new:
        if record.notified_at is not None:
            messages.send_after_commit(record, using)

    def send_signals() -> None:
        for result in results:
            signals.send(task_signals.task_enqueued, result)

    transaction.on_commit(send_signals, using)
