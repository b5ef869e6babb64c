"""Django's task signals (``django.tasks.signals``), sent once the change they announce is committed.

Django's own receivers write its task log lines ("Task id=… path=… state=…" on the ``django.tasks`` logger).
A receiver that raises is logged and never disturbs the task, its transaction or the worker. A change that no
receiver would hear (only Django's log lines are connected, and their logger is off at their level) builds no
TaskResult and sends nothing: a worker pays for the signals only when someone listens.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.dispatch import Signal
from django.tasks import signals
from django.tasks.base import Task, TaskResult
from django.tasks.base import TaskResultStatus as Status

from retry import backend, clock, conf, models

logger = logging.getLogger("retry.signals")

#: The changes that start an attempt or end a task, with the status Django's signal reports.
SIGNALLED = {
    "started": (signals.task_started, Status.RUNNING),
    "succeeded": (signals.task_finished, Status.SUCCESSFUL),
    "failed": (signals.task_finished, Status.FAILED),
    "expired": (signals.task_finished, Status.FAILED),
    "cancelled": (signals.task_finished, Status.FAILED),
}


def enqueued(record: models.TaskRecord, task: Task[..., Any], alias: str) -> None:
    """Send ``task_enqueued`` once the caller's transaction commits (a rolled-back task was never enqueued)."""
    result = backend.to_result(record, alias, task)
    transaction.on_commit(lambda: send(signals.task_enqueued, result), using=conf.database())


def changed(change: str, record: models.TaskRecord, error: BaseException | None) -> None:
    """Send ``task_started`` or ``task_finished`` for ``change`` of ``record`` once it is committed.

    ``error``: the exception the task raised, when it failed by raising.
    """
    if change not in SIGNALLED:
        return
    signal, status = SIGNALLED[change]
    if not heard(signal, status):
        return
    try:
        result = _result(record, status)
    except Exception:  # e.g. a row whose task is not in this deploy: Django's signals need the Task
        logger.debug("No task signal for a task that cannot be loaded", extra=record.log_fields(), exc_info=True)
        return
    transaction.on_commit(
        lambda: send(signal, result, error if status == Status.FAILED else None), using=conf.database()
    )


#: Django's own receivers of the signals, which only write a line on the ``django.tasks`` logger.
DJANGO_LOG_LINES = frozenset({signals.log_task_started, signals.log_task_finished})
django_logger = logging.getLogger("django.tasks")


def heard(signal: Signal, status: Status) -> bool:
    """Whether sending ``signal`` for a task left in ``status`` would reach anyone: a receiver of its own, or
    Django's log line with its logger on at that line's level (ERROR for a failure, INFO otherwise)."""
    sync, asynchronous = signal._live_receivers(backend.RetryBackend)
    if asynchronous or any(receiver not in DJANGO_LOG_LINES for receiver in sync):
        return True
    return bool(sync) and django_logger.isEnabledFor(logging.ERROR if status == Status.FAILED else logging.INFO)


def send(signal: Signal, result: TaskResult[..., Any], error: BaseException | None = None) -> None:
    """Send ``signal``; with ``error``, from an except block, as Django's backends do (its receivers log it)."""
    if error is None:
        responses = signal.send_robust(backend.RetryBackend, task_result=result)
    else:
        traceback = error.__traceback__
        try:
            raise error
        except BaseException:
            responses = signal.send_robust(backend.RetryBackend, task_result=result)
        finally:
            error.__traceback__ = traceback
    for receiver, response in responses:
        if isinstance(response, Exception):
            logger.error(
                "A task signal receiver failed",
                exc_info=response,
                extra={"task_id": result.id, "receiver": getattr(receiver, "__qualname__", repr(receiver))},
            )


def _result(record: models.TaskRecord, status: Status) -> TaskResult[..., Any]:
    """The task as this change leaves it, without reading its history (a signal is sent for every attempt)."""
    task = backend.task_of(record)
    result = backend.to_result(record, task.backend, task, history=False)
    object.__setattr__(result, "status", status)
    if status != Status.RUNNING and result.finished_at is None:
        object.__setattr__(result, "finished_at", clock.now())
    return result
