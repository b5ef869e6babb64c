"""retry.api.task: Django's @task with the retry options, typed. It makes the same RetryTask as Django's decorator
does through the backend, refuses a backend that is not a RetryBackend, and type-checks under strict mypy."""

import copy
import re
import subprocess
import sys
import textwrap
from dataclasses import fields
from pathlib import Path

import pytest
from django.conf import settings
from django.tasks import task as django_task
from django.tasks.base import Task
from django.test import override_settings
from django.utils import timezone

from retry.api import task
from retry.exceptions import PolicyMisconfigured, RetryError
from retry.task import RetryOptions, RetryTask

ROOT = Path(__file__).resolve().parents[2]


def pick_up(key: str) -> str:
    """A task body for the decorator tests."""
    return key


def test_it_makes_the_task_djangos_decorator_makes() -> None:
    options = {"queue_name": "emails", "priority": 3, "max_attempts": 8, "time_limit": 120, "give_up_on": (KeyError,)}
    made = task(**options)(pick_up)  # type: ignore[call-overload]  # one untyped dict for both decorators
    # Django's stubs know no retry options: this compares against Django's own decorator.
    assert type(made) is RetryTask and made == django_task(**options)(pick_up)  # type: ignore[call-overload]
    assert (made.queue_name, made.max_attempts, made.time_limit, made.give_up_on) == ("emails", 8, 120, (KeyError,))
    assert made.call("k") == "k"
    assert task(pick_up) == django_task(pick_up)  # bare, as Django's


def test_it_validates_as_djangos_decorator() -> None:
    with pytest.raises(PolicyMisconfigured, match="pick_up: max_attempts must be a whole number of at least 1, not 0"):
        task(max_attempts=0)(pick_up)
    with pytest.raises(TypeError, match="run_after cannot be defined statically"):
        task(run_after=timezone.now())(pick_up)  # type: ignore[call-overload]  # wrong on purpose: it must refuse


def test_it_refuses_a_backend_that_is_not_a_retry_backend() -> None:
    immediate = {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}
    with override_settings(TASKS={"default": copy.deepcopy(settings.TASKS["default"]), "immediate": immediate}):
        assert type(django_task(backend="immediate")(pick_up)) is Task
        with pytest.raises(RetryError, match=r"pick_up uses the backend 'immediate', which is not a RetryBackend\.$"):
            task(backend="immediate")(pick_up)


def test_its_typed_options_are_the_fields_of_retry_task() -> None:
    own = {field.name for field in fields(RetryTask)} - {field.name for field in fields(Task)}
    assert set(RetryOptions.__annotations__) == own


# Each line marked `# error` must be the line of a mypy error; every other line must pass.
SNIPPET = """
    from typing import Any, assert_type

    from django.tasks import TaskContext, TaskResult

    from retry.api import task


    @task(queue_name="emails", max_attempts=8, time_limit=120)
    def send_order_email(order_id: int, kind: str) -> bool:
        return bool(order_id and kind)


    @task(takes_context=True, give_up_on=(KeyError,), base_delay=2)
    def attempt_number(context: TaskContext[Any, Any], key: str) -> int:
        return context.attempt


    @task
    def bare() -> None: ...


    sent: TaskResult[[int, str], bool] = send_order_email.enqueue(1, kind="received")
    assert_type(send_order_email.call(order_id=1, kind="ready"), bool)
    assert_type(attempt_number.call("key"), int)
    assert_type(attempt_number.enqueue(key="key").return_value, int)
    assert_type(bare.using(priority=5).enqueue().return_value, None)


    @task(max_attempts="3")  # error
    def misconfigured() -> None: ...


    send_order_email.enqueue(1, 2)  # error
    send_order_email.enqueue(order_id=1)  # error
    send_order_email.call(1, "ready", extra=True)  # error
"""


def test_mypy_checks_the_options_and_the_arguments_of_enqueue_and_call(tmp_path: Path) -> None:
    """Runs strict mypy with the project's configuration (django-stubs) on SNIPPET: a few seconds."""
    source = textwrap.dedent(SNIPPET)
    (tmp_path / "snippet.py").write_text(source)
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", ROOT / "pyproject.toml", "--no-error-summary", "snippet.py"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "MYPY_CACHE_DIR": str(ROOT / ".mypy_cache")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    expected = {number for number, line in enumerate(source.splitlines(), 1) if line.endswith("# error")}
    errors = re.findall(r"^snippet\.py:(\d+): error: (.*)$", checked.stdout, re.MULTILINE)
    assert {int(number) for number, _ in errors} == expected, checked.stdout + checked.stderr
    said = "\n".join(message for _, message in errors)
    assert 'No overload variant of "task" matches argument type "str"' in said
    assert 'Argument 2 to "enqueue" of "Task" has incompatible type "int"; expected "str"' in said
    assert 'Missing positional argument "kind" in call to "enqueue" of "Task"' in said
    assert 'Unexpected keyword argument "extra" for "call" of "Task"' in said
