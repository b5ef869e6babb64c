"""The retry layer's API beyond Django's: ``task``, the typed ``@task`` with the retry options, and ``enqueue``
with an idempotency key and a start-by deadline."""

from __future__ import annotations

from typing import Any

from django.tasks.base import Task, TaskResult

from retry.backend import backend_of, to_result
from retry.task import task

__all__ = ["enqueue", "task"]


def enqueue(
    task: Task[..., Any], *args: Any, idempotency_key: str | None = None, max_age: float | None = None, **kwargs: Any
) -> TaskResult[..., Any]:
    """Enqueue ``task``; while a task with ``idempotency_key`` is unfinished, return it instead of a second one.

    ``max_age``: seconds from its due time by which the task must have started, or it fails as expired.
    """
    backend = backend_of(task)
    record = backend.enqueue_record(task, args, kwargs, idempotency_key=idempotency_key, max_age=max_age)
    return to_result(record, backend.alias, task)
