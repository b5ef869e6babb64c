"""The fixture tasks of Django's own Tasks tests (tests/tasks/tasks.py in Django's source), for this backend."""

from __future__ import annotations

from typing import Any

from django.tasks import TaskContext, task


@task()
def noop_task(*args: object, **kwargs: object) -> None:
    return None


@task
def noop_task_from_bare_decorator(*args: object, **kwargs: object) -> None:
    return None


@task()
async def noop_task_async(*args: object, **kwargs: object) -> None:
    return None


@task()
def calculate_meaning_of_life() -> int:
    return 42


@task(max_attempts=1)  # type: ignore[call-overload, untyped-decorator]  # Django's stubs know no retry options; this module tests Django's own decorator
def failing_task_value_error() -> None:
    raise ValueError("This Task failed due to ValueError")


@task(max_attempts=1)  # type: ignore[call-overload, untyped-decorator]  # Django's stubs know no retry options; this module tests Django's own decorator
def complex_exception() -> None:
    raise ValueError(ValueError("This task failed"))


@task()
def complex_return_value() -> object:
    return lambda: True  # neither JSON nor picklable


@task(takes_context=True)
def get_task_id(context: TaskContext[Any, Any]) -> str:
    return context.task_result.id


@task(takes_context=True)
def test_context(context: TaskContext[Any, Any], attempt: int) -> None:
    assert isinstance(context, TaskContext)
    assert context.attempt == attempt
