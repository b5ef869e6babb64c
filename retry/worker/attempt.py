"""One attempt, in a worker thread: call a plain task function with its context (and cancel flag), and record a
failure as the policy decides."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError, DataError, IntegrityError
from django.tasks.base import Task, TaskContext

from retry import backend, events, logs, policy, registry, transitions
from retry.models import TaskRecord
from retry.worker import threads

logger = logging.getLogger("retry.worker.attempt")


@dataclass(frozen=True)
class Finished:
    """What became of an attempt."""

    record: TaskRecord
    retry_delay: float | None = None


class Cancellation:
    """An operator's request to stop one attempt, as its worker saw it.

    Plain flags: the worker's loop raises ``requested`` and the task's thread reads it, and an attribute is read
    and written whole (no lock or Event to make for every attempt).
    """

    __slots__ = ("heeded", "requested")

    def __init__(self) -> None:
        self.requested = False
        #: The task looked at the flag after it was raised: it stopped because it was asked.
        self.heeded = False

    def request(self) -> None:
        self.requested = True

    def check(self) -> bool:
        if self.requested:
            self.heeded = True
            return True
        return False


# Django's TaskContext is a frozen dataclass, generic in its stubs only (which do not say it is frozen).
if TYPE_CHECKING:
    BaseContext = TaskContext[Any, Any]
else:
    BaseContext = TaskContext


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryTaskContext(BaseContext):  # type: ignore[misc]
    """What a task declared with ``takes_context=True`` receives from the retry backend."""

    cancellation: Cancellation = field(default_factory=Cancellation)

    def cancel_requested(self) -> bool:
        """Whether an operator asked this attempt to stop: a long task looks now and then, and returns."""
        return self.cancellation.check()


def context_for(record: TaskRecord, task: Task[..., Any], cancellation: Cancellation) -> tuple[Any, ...]:
    if not task.takes_context:
        return ()
    result = backend.to_result(record, task.backend, task)
    return (RetryTaskContext(task_result=result, cancellation=cancellation),)


def call_sync(record: TaskRecord, task: Task[..., Any], cancellation: Cancellation) -> tuple[Any, BaseException | None]:
    """Call a plain task function in this worker thread: its return value, or the error it raised."""
    logs.tag_task(record)
    try:
        context = threads.in_db_thread(context_for, record, task, cancellation)
        return task.func(*context, *record.args, **record.kwargs), None
    except BaseException as error:  # SystemExit and KeyboardInterrupt too: they end the task, not the process
        return None, error


def succeed_alone(record: TaskRecord, value: Any, duration: float) -> bool:
    """Record one success; a value the database refuses fails its task at once (every retry would be refused)."""
    try:
        return transitions.succeed(record, value, duration)
    except (DataError, IntegrityError) as refused:
        fail(record, refused, duration, retry=False)
        return False
    except DatabaseError:  # a deadlock, a timeout: this row waits for its lease, the others are still written
        logger.exception("Could not record a success; the task runs again after its lease", extra=record.log_fields())
        return False


def fail(
    record: TaskRecord, error: BaseException, duration: float, *, retry: bool = True, at_least: float = 0.0
) -> Finished:
    """Record a failed attempt as the policy decides (another attempt, ``at_least`` seconds later), or give up."""
    logs.tag_task(record)
    task_policy = registry.policy_of(record, _task_or_none(record))
    decision = policy.decide(task_policy, record.failures, error) if retry else None
    if decision is not None and decision.delay < at_least:
        decision = dataclasses.replace(decision, delay=at_least)
    with events.raising(error):
        won = transitions.fail(record, error, decision, duration)
    return Finished(record, decision.delay if won and decision else None)


def _task_or_none(record: TaskRecord) -> Task[..., Any] | None:
    try:
        return registry.load(record.task_path)
    except Exception:
        return None
