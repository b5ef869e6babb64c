"""Which retry policy a task runs under, resolved in one place and one order."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.tasks.base import Task
from django.utils.module_loading import import_string

from retry import conf, models, policy
from retry.exceptions import TaskNotRegistered
from retry.task import RetryTask

logger = logging.getLogger("retry.registry")
#: Seconds an operator's override is cached in each process before it is read again.
OVERRIDE_CACHE_SECONDS = 5.0
_overrides: dict[str, dict[str, Any]] = {}
_overrides_read_at = float("-inf")


def default_policy(backend: str = "") -> policy.RetryPolicy:
    """The policy of a backend's tasks without options or an override: RETRY_<NAME>, then its OPTIONS."""
    return conf.for_backend(backend or conf.default_backend()).policy()


def policy_for(task: Task[..., Any]) -> policy.RetryPolicy:
    """The policy for new runs of ``task``: the operator's override, else the task's options, else the settings.

    An override that breaks the policy's rules (a row written around the admin form) is ignored, and said so.
    """
    code = code_policy(task)
    override = overrides().get(task.module_path)
    if not override:
        return code
    resolved = code.with_numbers(override)
    if broken := policy.problems(resolved, floor=conf.get().MIN_DELAY):
        logger.warning("Retry policy override ignored", extra={"task_path": task.module_path, "problems": broken})
        return code
    return resolved


def code_policy(task: Task[..., Any]) -> policy.RetryPolicy:
    """The policy of the code: the task's options, else the settings."""
    resolved = default_policy(task.backend)
    if isinstance(task, RetryTask):
        resolved = policy.RetryPolicy(
            **{**resolved.snapshot(), **task.policy_numbers()}, retry_on=task.retry_on, give_up_on=task.give_up_on
        )
    return resolved


def policy_of(record: models.TaskRecord, task: Task[..., Any] | None) -> policy.RetryPolicy:
    """The policy a stored task runs under: the numbers it was enqueued with, the exception rules of the code."""
    rules = policy_for(task) if task is not None else default_policy()
    return rules.with_numbers(record.policy)


def overrides() -> dict[str, dict[str, Any]]:
    """The operators' policy overrides by task path, read at most every few seconds."""
    global _overrides, _overrides_read_at
    if time.monotonic() - _overrides_read_at > OVERRIDE_CACHE_SECONDS:
        _overrides = {row.task_path: row.numbers() for row in models.PolicyOverride.objects.all()}
        _overrides_read_at = time.monotonic()
    return _overrides


def forget_overrides() -> None:
    """Read the overrides again on next use (after an operator saves one)."""
    global _overrides_read_at
    _overrides_read_at = float("-inf")


def load(task_path: str) -> Task[..., Any]:
    """The Task object a row names, or TaskNotRegistered."""
    try:
        found = import_string(task_path)
    except BaseException as error:  # whatever the module raises on import (SystemExit too) fails its tasks alone
        detail = str(error) if isinstance(error, ImportError) else repr(error)
        raise TaskNotRegistered(f"{task_path} cannot be imported: {detail}") from error
    if not isinstance(found, Task):
        raise TaskNotRegistered(f"{task_path} is not a task (decorate it with @task).")
    return found
