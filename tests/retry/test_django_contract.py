"""Django's Tasks contract, as Django's own tests/tasks state it, kept by this backend with a real worker.

Each test carries the name of the Django test whose semantics it checks (test_tasks.py, test_immediate_backend.py,
test_dummy_backend.py of Django's source distribution); the immediate backend's checks run here on a worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import pickle
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from django.tasks import (
    DEFAULT_TASK_QUEUE_NAME,
    TaskResult,
    TaskResultStatus,
    default_task_backend,
    signals,
    task,
    task_backends,
)
from django.tasks.base import TASK_MAX_PRIORITY, TASK_MIN_PRIORITY, Task
from django.tasks.exceptions import InvalidTask, InvalidTaskBackend, TaskResultDoesNotExist, TaskResultMismatch
from django.test import override_settings
from django.utils import timezone
from django.utils.module_loading import import_string

from retry.backend import RetryBackend
from retry.worker.process import RetryWorker
from tests.retry import contract_tasks as test_tasks
from tests.retry.conftest import wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


async def finished(result: TaskResult[Any, Any]) -> TaskResult[Any, Any]:
    """The result once the worker has finished the task."""
    await wait_for(lambda: result.task.get_result(result.id).is_finished, what=f"{result.task.name} to finish")
    return await result.task.aget_result(result.id)


@pytest.fixture
def task_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """What Django's ``django.tasks`` logger says."""
    with caplog.at_level(logging.DEBUG, logger="django.tasks"):
        yield caplog


#: As unittest's assertLogs writes them: with the exception, if any.
LOG_LINE = logging.Formatter("%(levelname)s %(message)s")


def lines(logs: pytest.LogCaptureFixture, task_id: str) -> list[str]:
    found = [record for record in logs.records if record.name == "django.tasks" and task_id in record.getMessage()]
    return [LOG_LINE.format(record) for record in found]


async def logged(logs: pytest.LogCaptureFixture, task_id: str, count: int) -> list[str]:
    """Django's log lines about a task, once ``count`` have come (the worker logs from its own threads)."""
    await wait_for(lambda: len(lines(logs, task_id)) >= count, what=f"{count} django.tasks log lines")
    await asyncio.sleep(0.1)  # and no more come
    return lines(logs, task_id)


# test_tasks.py


def test_using_correct_backend() -> None:
    assert default_task_backend == task_backends["default"]
    assert isinstance(task_backends["default"], RetryBackend)
    assert default_task_backend.alias == "default"


def test_task_decorator() -> None:
    assert isinstance(test_tasks.noop_task, Task)
    assert isinstance(test_tasks.noop_task_async, Task)
    assert isinstance(test_tasks.noop_task_from_bare_decorator, Task)


def test_enqueue_task() -> None:
    result = test_tasks.noop_task.enqueue()
    assert result.status == TaskResultStatus.READY
    assert result.task == test_tasks.noop_task
    assert (result.args, result.kwargs) == ([], {})


async def test_enqueue_task_async() -> None:
    result = await test_tasks.noop_task.aenqueue()
    assert result.status == TaskResultStatus.READY
    assert result.task == test_tasks.noop_task
    assert (result.args, result.kwargs) == ([], {})


def test_enqueue_with_invalid_argument() -> None:
    with pytest.raises(TypeError, match="Unsupported type"):
        test_tasks.noop_task.enqueue(datetime.now())


async def test_aenqueue_with_invalid_argument() -> None:
    with pytest.raises(TypeError, match="Unsupported type"):
        await test_tasks.noop_task.aenqueue(datetime.now())


def test_using_priority_queue_name_and_run_after() -> None:
    now = timezone.now()
    assert test_tasks.noop_task.using(priority=1).priority == 1
    assert test_tasks.noop_task.using(queue_name="emails").queue_name == "emails"
    assert test_tasks.noop_task.using(run_after=now).run_after == now
    assert (test_tasks.noop_task.priority, test_tasks.noop_task.queue_name) == (0, DEFAULT_TASK_QUEUE_NAME)
    assert test_tasks.noop_task.run_after is None


def test_using_unknown_backend() -> None:
    with pytest.raises(InvalidTaskBackend, match=re.escape("The connection 'unknown' doesn't exist.")):
        test_tasks.noop_task.using(backend="unknown")


def test_using_creates_new_instance_and_chains() -> None:
    now = timezone.now()
    assert test_tasks.noop_task.using() == test_tasks.noop_task
    assert test_tasks.noop_task.using() is not test_tasks.noop_task
    run_after_task = test_tasks.noop_task.using(run_after=now)
    priority_task = run_after_task.using(priority=10)
    assert (priority_task.priority, priority_task.run_after, run_after_task.priority) == (10, now, 0)


async def test_refresh_result() -> None:
    result = await test_tasks.noop_task.aenqueue()
    original = dataclasses.asdict(result)
    await sync_to_async(result.refresh)()
    assert dataclasses.asdict(result) == original
    await result.arefresh()
    assert dataclasses.asdict(result) == original


def test_naive_datetime() -> None:
    with pytest.raises(InvalidTask, match=re.escape("run_after must be an aware datetime.")):
        test_tasks.noop_task.using(run_after=datetime.now())


@pytest.mark.parametrize("priority", [-101, 101, 3.1])
def test_invalid_priority(priority: float) -> None:
    message = f"priority must be a whole number between {TASK_MIN_PRIORITY} and {TASK_MAX_PRIORITY}."
    with pytest.raises(InvalidTask, match=re.escape(message)):
        test_tasks.noop_task.using(priority=priority)  # type: ignore[arg-type]  # a float, on purpose


def test_valid_priorities() -> None:
    for priority in (100, -100, 0):
        assert test_tasks.noop_task.using(priority=priority).priority == priority


def test_unknown_queue_name() -> None:
    with pytest.raises(InvalidTask, match=re.escape("Queue 'queue-2' is not valid for backend.")):
        test_tasks.noop_task.using(queue_name="queue-2")


async def test_call_task() -> None:
    assert test_tasks.calculate_meaning_of_life.call() == 42
    assert await test_tasks.calculate_meaning_of_life.acall() == 42
    assert await test_tasks.noop_task_async.acall() is None
    assert await sync_to_async(test_tasks.noop_task_async.call)() is None


def test_get_result() -> None:
    result = default_task_backend.enqueue(test_tasks.noop_task, (), {})  # type: ignore[arg-type]  # Task.enqueue passes a tuple
    assert test_tasks.noop_task.get_result(result.id) == result


async def test_get_result_async() -> None:
    result = await default_task_backend.aenqueue(test_tasks.noop_task, (), {})  # type: ignore[arg-type]  # as Task.aenqueue does
    assert await test_tasks.noop_task.aget_result(result.id) == result


def test_get_result_keeps_what_using_gave() -> None:
    later = timezone.now() + timedelta(hours=1)
    result = test_tasks.noop_task.using(priority=7, queue_name="emails", run_after=later).enqueue()
    stored = test_tasks.noop_task.get_result(result.id)
    assert (stored.task.priority, stored.task.queue_name, stored.task.run_after) == (7, "emails", later)
    assert stored == result


async def test_get_missing_result() -> None:
    with pytest.raises(TaskResultDoesNotExist):
        await sync_to_async(test_tasks.noop_task.get_result)("123")
    with pytest.raises(TaskResultDoesNotExist):
        await test_tasks.noop_task.aget_result("123")


async def test_get_incorrect_result() -> None:
    result = await default_task_backend.aenqueue(test_tasks.noop_task_async, (), {})  # type: ignore[arg-type]  # as Task.aenqueue does
    with pytest.raises(TaskResultMismatch, match="Task does not match"):
        await sync_to_async(test_tasks.noop_task.get_result)(result.id)
    with pytest.raises(TaskResultMismatch, match="Task does not match"):
        await test_tasks.noop_task.aget_result(result.id)


def test_invalid_function() -> None:
    with pytest.raises(InvalidTask, match=re.escape("Task function must be defined at a module level.")):
        task()(any)


def test_name_and_module_path() -> None:
    assert (test_tasks.noop_task.name, test_tasks.noop_task_async.name) == ("noop_task", "noop_task_async")
    assert test_tasks.noop_task.module_path == "tests.retry.contract_tasks.noop_task"
    assert import_string(test_tasks.noop_task.module_path) is test_tasks.noop_task
    assert import_string(test_tasks.noop_task_async.module_path) is test_tasks.noop_task_async


def test_pickle_task() -> None:
    for pickled in (test_tasks.noop_task, test_tasks.noop_task.using(priority=3, queue_name="emails")):
        assert pickle.loads(pickle.dumps(pickled)) == pickled


def test_unpickle_arbitrary_string() -> None:
    with pytest.raises(ValueError, match=re.escape("Expected 'does.not.exist.fake_task' to point to a Task instance.")):
        Task._reconstruct({"func": "does.not.exist.fake_task"})  # type: ignore[attr-defined]  # private, not in the stubs


def test_unpickle_non_task_object() -> None:
    with pytest.raises(ValueError, match=re.escape("Expected 'builtins.any' to point to a Task instance.")):
        Task._reconstruct({"func": "builtins.any"})  # type: ignore[attr-defined]  # private, not in the stubs


def test_get_backend() -> None:
    assert test_tasks.noop_task.backend == "default"
    assert isinstance(test_tasks.noop_task.get_backend(), RetryBackend)


def test_run_after_in_decorator() -> None:
    with pytest.raises(TypeError, match=re.escape("run_after cannot be defined statically with the @task decorator.")):
        task(run_after=timezone.now())(test_tasks.calculate_meaning_of_life.func)  # type: ignore[call-overload]  # refused, on purpose


def test_pickle_task_result() -> None:
    result = test_tasks.noop_task.enqueue()
    assert pickle.loads(pickle.dumps(result)) == result


def test_takes_context_without_taking_context() -> None:
    with pytest.raises(
        InvalidTask, match=re.escape("Task takes context but does not have a first argument of 'context'.")
    ):
        task(takes_context=True)(test_tasks.calculate_meaning_of_life.func)


# test_immediate_backend.py, with a worker instead of the immediate backend


@pytest.mark.parametrize("noop", [test_tasks.noop_task, test_tasks.noop_task_async])
async def test_enqueue_task_runs(worker: RetryWorker, noop: Task[..., None]) -> None:
    result = await finished(await noop.aenqueue(1, two=3))
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.is_finished is True
    assert result.started_at is not None and result.enqueued_at is not None
    assert result.started_at >= result.enqueued_at
    assert result.last_attempted_at is not None
    assert result.finished_at is not None and result.started_at is not None
    assert result.finished_at >= result.started_at
    assert result.return_value is None
    assert result.task == noop
    assert (result.args, result.kwargs, result.attempts) == ([1], {"two": 3}, 1)


async def test_catches_exception(worker: RetryWorker, task_logs: pytest.LogCaptureFixture) -> None:
    result = await finished(await test_tasks.failing_task_value_error.aenqueue())
    errors = [line for line in await logged(task_logs, result.id, 3) if line.startswith("ERROR")]
    assert len(errors) == 1
    assert "This Task failed due to ValueError" in errors[0]
    assert result.status == TaskResultStatus.FAILED
    with pytest.raises(ValueError, match="Task failed"):
        result.return_value  # noqa: B018
    assert result.finished_at is not None and result.started_at is not None and result.enqueued_at is not None
    assert result.finished_at >= result.started_at >= result.enqueued_at
    assert result.errors[0].exception_class is ValueError
    assert result.errors[0].traceback.endswith("ValueError: This Task failed due to ValueError\n")
    assert (result.task, result.args, result.kwargs) == (test_tasks.failing_task_value_error, [], {})


async def test_complex_exception(worker: RetryWorker, task_logs: pytest.LogCaptureFixture) -> None:
    result = await finished(await test_tasks.complex_exception.aenqueue())
    assert [line for line in await logged(task_logs, result.id, 3) if line.startswith("ERROR")]
    assert result.status == TaskResultStatus.FAILED
    assert result._return_value is None  # type: ignore[attr-defined]  # private, not in the stubs
    assert result.errors[0].exception_class is ValueError
    assert 'ValueError(ValueError("This task failed"))' in result.errors[0].traceback


async def test_complex_return_value(worker: RetryWorker, task_logs: pytest.LogCaptureFixture) -> None:
    result = await finished(await test_tasks.complex_return_value.aenqueue())
    assert [line for line in await logged(task_logs, result.id, 3) if line.startswith("ERROR")]
    assert result.status == TaskResultStatus.FAILED
    assert result.attempts == 1  # never JSON, so never tried again
    assert result._return_value is None  # type: ignore[attr-defined]  # private, not in the stubs
    assert issubclass(result.errors[0].exception_class, TypeError)
    assert "Unsupported type" in result.errors[0].traceback


async def test_task_error_invalid_exception_and_unknown_module(worker: RetryWorker) -> None:
    result = await finished(await test_tasks.failing_task_value_error.aenqueue())
    assert len(result.errors) == 1
    object.__setattr__(result.errors[0], "exception_class_path", "subprocess.run")
    with pytest.raises(ValueError, match=re.escape("'subprocess.run' does not reference a valid exception.")):
        result.errors[0].exception_class  # noqa: B018
    object.__setattr__(result.errors[0], "exception_class_path", "does.not.exist")
    with pytest.raises(ImportError):
        result.errors[0].exception_class  # noqa: B018


async def test_result(worker: RetryWorker) -> None:
    result = await finished(await default_task_backend.aenqueue(test_tasks.calculate_meaning_of_life, [], {}))
    assert (result.status, result.return_value) == (TaskResultStatus.SUCCESSFUL, 42)


async def test_enqueue_logs(worker: RetryWorker, task_logs: pytest.LogCaptureFixture) -> None:
    result = await test_tasks.noop_task.aenqueue()
    enqueued, running, successful = await logged(task_logs, result.id, 3)
    assert "enqueued" in enqueued and result.id in enqueued
    assert "state=RUNNING" in running and result.id in running
    assert "state=SUCCESSFUL" in successful and result.id in successful


async def test_failed_logs(worker: RetryWorker, task_logs: pytest.LogCaptureFixture) -> None:
    result = await test_tasks.failing_task_value_error.aenqueue()
    _, running, failed = await logged(task_logs, result.id, 3)
    assert "state=RUNNING" in running and result.id in running
    assert "state=FAILED" in failed and result.id in failed


async def test_successful_task_no_none_in_logs(worker: RetryWorker, task_logs: pytest.LogCaptureFixture) -> None:
    result = await finished(await test_tasks.noop_task.aenqueue())
    assert not [line for line in await logged(task_logs, result.id, 3) if "None" in line]


def test_check() -> None:
    assert default_task_backend.check() == []


async def test_takes_context(worker: RetryWorker) -> None:
    result = await finished(await test_tasks.get_task_id.aenqueue())
    assert result.return_value == result.id


async def test_context(worker: RetryWorker) -> None:
    result = await finished(await test_tasks.test_context.aenqueue(1))
    assert result.status == TaskResultStatus.SUCCESSFUL


async def test_validate_on_enqueue() -> None:
    task_with_custom_queue_name = test_tasks.noop_task.using(queue_name="emails")
    with override_settings(TASKS={"default": {"BACKEND": "retry.backend.RetryBackend", "QUEUES": ["queue-1"]}}):
        with pytest.raises(InvalidTask, match="Queue 'emails' is not valid for backend"):
            await sync_to_async(task_with_custom_queue_name.enqueue)()
        with pytest.raises(InvalidTask, match="Queue 'emails' is not valid for backend"):
            await task_with_custom_queue_name.aenqueue()


# test_dummy_backend.py: what a result says before the worker takes it, and after a refresh


def test_enqueued_result_before_it_runs() -> None:
    result = test_tasks.noop_task.enqueue(1, two=3)
    assert (result.status, result.is_finished, result.attempts) == (TaskResultStatus.READY, False, 0)
    assert (result.started_at, result.last_attempted_at, result.finished_at) == (None, None, None)
    with pytest.raises(ValueError, match="Task has not finished yet"):
        result.return_value  # noqa: B018


async def test_refresh_result_after_it_ran(worker: RetryWorker) -> None:
    result = await test_tasks.calculate_meaning_of_life.aenqueue()
    await finished(result)
    await result.arefresh()
    assert (result.status, result.return_value, result.attempts) == (TaskResultStatus.SUCCESSFUL, 42, 1)


# django.tasks.signals


@pytest.fixture
def sent() -> Iterator[list[tuple[str, TaskResult[Any, Any]]]]:
    """Each task signal as (name, task_result), in the order sent."""
    received: list[tuple[str, TaskResult[Any, Any]]] = []
    receivers = {}
    for name in ("task_enqueued", "task_started", "task_finished"):
        receivers[name] = lambda sender, task_result, _name=name, **kwargs: received.append((_name, task_result))
        getattr(signals, name).connect(receivers[name], weak=False)
    yield received
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


def of(sent: list[tuple[str, TaskResult[Any, Any]]], task_id: str) -> list[tuple[str, TaskResult[Any, Any]]]:
    return [(name, result) for name, result in sent if result.id == task_id]


async def test_signals_of_a_successful_task(worker: RetryWorker, sent: list[tuple[str, TaskResult[Any, Any]]]) -> None:
    result = await test_tasks.calculate_meaning_of_life.aenqueue()
    await wait_for(lambda: len(of(sent, result.id)) == 3, what="three signals")
    assert [(name, r.status) for name, r in of(sent, result.id)] == [
        ("task_enqueued", TaskResultStatus.READY),
        ("task_started", TaskResultStatus.RUNNING),
        ("task_finished", TaskResultStatus.SUCCESSFUL),
    ]
    assert of(sent, result.id)[2][1].return_value == 42


async def test_signals_of_a_failed_task(worker: RetryWorker, sent: list[tuple[str, TaskResult[Any, Any]]]) -> None:
    result = await test_tasks.failing_task_value_error.aenqueue()
    await wait_for(lambda: len(of(sent, result.id)) == 3, what="three signals")
    assert [(name, r.status) for name, r in of(sent, result.id)][1:] == [
        ("task_started", TaskResultStatus.RUNNING),
        ("task_finished", TaskResultStatus.FAILED),
    ]
    assert of(sent, result.id)[2][1].errors[-1].exception_class is ValueError


def test_task_enqueued_is_sent_once_the_task_is_committed(sent: list[tuple[str, TaskResult[Any, Any]]]) -> None:
    with transaction.atomic():
        result = test_tasks.noop_task.enqueue()
        assert sent == []
    assert [(name, r.id) for name, r in sent] == [("task_enqueued", result.id)]
    with pytest.raises(RuntimeError), transaction.atomic():
        test_tasks.noop_task.enqueue()
        raise RuntimeError("rolled back")
    assert len(sent) == 1  # a rolled-back task was never enqueued
