"""Batch actions: retry, cancel or purge everything a filter matches, BATCH_SIZE tasks a transaction, by a task of
its own (retry.monitoring.batch_task), its progress written on its audit row; the request that starts one returns
at once, however many tasks match.

The batch task runs on the first queue of the default retry backend (conf.default_backend(), conf.queues()) at the
highest priority (100), so it goes ahead of that queue's backlog. Run again (a retry after a failure, a duplicate
message), it carries on after the last batch that committed; one that finished does nothing more.
"""

from collections.abc import Callable

from django.db import transaction
from django.tasks.base import TaskResultStatus as Status

from retry import clock, conf, models
from retry.monitoring import operations, search

Running = models.AuditEntry.State.RUNNING
#: The statuses each action on a filter changes: it goes through the matches in them, the others are left alone.
ELIGIBLE = {
    "retry_now": (Status.FAILED,),
    "cancel": (Status.READY, Status.RUNNING),
    "purge": models.FINISHED,
}
#: The batch task's path: a filter never matches the batch actions themselves (one would cancel another).
BATCH_TASK = "retry.monitoring.batch_task.run_batch_action"


def matches(action: str, task_filter: search.TaskFilter) -> models.TaskQuerySet:
    """The tasks of ``task_filter`` that ``action`` would change now, batch actions left out."""
    return task_filter.tasks().filter(status__in=ELIGIBLE[action]).exclude(task_path=BATCH_TASK)


def start(action: str, task_filter: search.TaskFilter, operator: str, *, enqueue: bool = True) -> models.AuditEntry:
    """Write the action's audit row with the count of the tasks that match now, and enqueue its task.

    Without ``enqueue`` the caller runs it (``run``), as the terminal does to show its progress.
    """
    if action not in ELIGIBLE:
        raise ValueError(f"{action!r} is no action on a filter; they are {', '.join(ELIGIBLE)}.")
    with transaction.atomic(using=conf.database()):
        entry = models.AuditEntry.objects.create(
            at=clock.now(),
            operator=operator[:150],
            action=action,
            filter=task_filter.as_dict(),
            total=matches(action, task_filter).count(),
            state=Running,
        )
        if enqueue:
            enqueue_task(entry)
    extra = {"action": action, "operator": operator, "filter": entry.filter, "total": entry.total}
    operations.logger.warning(
        "Operator %s started %s on %s: %d task(s) match",
        operator,
        action,
        task_filter.describe(),
        entry.total,
        extra=extra,
    )
    return entry


def enqueue_task(entry: models.AuditEntry) -> None:
    """Enqueue the task that runs ``entry``'s batches (or carries them on), and note it on the row."""
    from retry.monitoring import batch_task  # its @task reads TASKS: not before a batch is wanted

    alias = conf.default_backend()
    chosen = batch_task.run_batch_action.using(backend=alias, queue_name=conf.queues(alias)[0])
    entry.task_id = str(chosen.enqueue(entry.pk).id)
    entry.save(update_fields=["task_id"])


def run(
    entry_id: int, progress: Callable[[models.AuditEntry], None] | None = None, *, most: int | None = None
) -> models.AuditEntry:
    """Take the audit row's action to its end, batch after batch; ``progress`` sees the row after each.

    With ``most``, stop once this call has gone through that many tasks: the row stays RUNNING, to carry on.
    """
    entry = models.AuditEntry.objects.get(pk=entry_id)
    tasks = matches(entry.action, search.read(entry.filter or {}))
    step = operations.BATCH_ACTIONS[entry.action]
    begun = entry.processed
    while entry.state == Running and (most is None or entry.processed - begun < most):
        entry = next_batch(entry.pk, tasks, step)
        if progress is not None:
            progress(entry)
    return entry


def interrupt(entry_id: int) -> None:
    """Mark a batch action that stopped before its end, and that nothing carries on, as interrupted."""
    models.AuditEntry.objects.filter(pk=entry_id, state=Running).update(
        state=models.AuditEntry.State.INTERRUPTED, finished_at=clock.now()
    )


def next_batch(entry_id: int, tasks: models.TaskQuerySet, step: Callable[[list[str]], int]) -> models.AuditEntry:
    """One batch, with the progress it makes, in one transaction; the row is locked so that two runs take turns."""
    with transaction.atomic(using=conf.database()):
        entry = models.AuditEntry.objects.select_for_update().get(pk=entry_id)
        if entry.state != Running:
            return entry
        after = tasks.filter(pk__gt=entry.cursor) if entry.cursor else tasks
        ids = [str(pk) for pk in after.order_by("pk").values_list("pk", flat=True)[: operations.BATCH_SIZE]]
        entry.changed += step(ids) if ids else 0
        entry.processed += len(ids)
        entry.cursor = ids[-1] if ids else entry.cursor
        if len(ids) < operations.BATCH_SIZE:
            entry.state, entry.finished_at = models.AuditEntry.State.DONE, clock.now()
        entry.save(update_fields=["changed", "processed", "cursor", "state", "finished_at"])
    return entry
