"""Every task state change: one structured log line, a small event for the live boards and dashboard, Django's
task signal (retry/signals.py) and, for a failed task, a Sentry report (retry/logs.py).

Events travel on the channel layer's group, which is at most once: a lost event never loses a task,
and listeners re-read the database when they miss one. The events of each moment (BATCH_WINDOW) go out
together as one ``{"type": "task.changes", "version": 1, "events": [...]}`` group message.
"""

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from typing import Any

from django.db import transaction

from retry import conf, logs, models, signals
from retry.outbox import outbox

logger = logging.getLogger("retry.tasks")

#: Log level of each change: trouble is louder than routine.
LEVELS = {
    "enqueued": logging.INFO,
    "started": logging.INFO,
    "succeeded": logging.INFO,
    "retry_scheduled": logging.WARNING,
    "lost": logging.WARNING,
    "failed": logging.ERROR,
    "expired": logging.ERROR,
    "cancel_requested": logging.WARNING,
    "cancelled": logging.WARNING,
    "enqueued_many": logging.INFO,
    "released": logging.INFO,
    "requeued": logging.INFO,
}
EVENT_VERSION = 1

_raised: contextvars.ContextVar[BaseException | None] = contextvars.ContextVar("retry_task_raised", default=None)


@contextlib.contextmanager
def raising(error: BaseException) -> Iterator[None]:
    """While a task's failure ``error`` is recorded, the changes it causes carry it (to Django's signal, to Sentry)."""
    token = _raised.set(error)
    try:
        yield
    finally:
        _raised.reset(token)


def record(change: str, task: models.TaskRecord, **details: Any) -> None:
    """Log ``change`` of ``task``; once the transaction commits, publish it, send its signal, report a failure."""
    fields = {"change": change, **task.log_fields(), "status": task.status, **details}
    logger.log(LEVELS.get(change, logging.INFO), "task %s", change, extra=fields)
    _publish({"type": "task.changed", "version": EVENT_VERSION, "max_attempts": task.max_attempts, **fields})
    error = _raised.get()
    signals.changed(change, task, error)
    logs.report_on_commit(change, task, error)


def record_many(change: str, tasks: list[models.TaskRecord]) -> None:
    """Log ``change`` of ``tasks`` (of one task function and queue) in one line, and publish it as one event."""
    fields = {"change": change, "task_name": tasks[0].task_path, "queue": tasks[0].queue, "count": len(tasks)}
    logger.log(LEVELS.get(change, logging.INFO), "tasks %s", change, extra=fields)
    _publish({"type": "task.changed", "version": EVENT_VERSION, **fields})


def _publish(event: dict[str, Any]) -> None:
    """Publish ``event`` to the events group once the transaction commits."""
    transaction.on_commit(
        lambda: outbox.publish(conf.get().EVENTS_GROUP, event, batch_type="task.changes"), using=conf.database()
    )
