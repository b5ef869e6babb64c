"""The task class of the retry backend: Django's Task plus retry options given to ``@task``."""

from dataclasses import dataclass, fields
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.tasks.base import Task

from retry import conf, policy
from retry.exceptions import PolicyMisconfigured


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryTask(Task):  # type: ignore[type-arg]
    """A Django Task with retry options; ``@task(queue_name="emails", max_attempts=8)`` makes one.

    Each option left at None takes the operator's override, then the RETRY_* setting.
    """

    max_attempts: int | None = None
    base_delay: float | None = None
    factor: float | None = None
    max_delay: float | None = None
    jitter: float | None = None
    #: Exception classes worth a retry (default: all but ``give_up_on``).
    retry_on: tuple[type[BaseException], ...] = ()
    #: Exception classes that end the task at once.
    give_up_on: tuple[type[BaseException], ...] = ()
    #: Seconds an attempt may run.
    time_limit: float | None = None
    #: Seconds after enqueue by which the task must have started, or it fails as expired.
    max_age: float | None = None
    #: Successful runs leave no row behind.
    ignore_result: bool = False

    def __post_init__(self) -> None:
        """Refuse options that make a policy unable to work under its backend's settings, or retry sooner than
        RETRY_MIN_DELAY."""
        Task.__post_init__(self)  # not super(): slots=True makes a new class that zero-argument super() misses
        try:
            defaults = conf.for_backend(self.backend)
        except ImproperlyConfigured:
            return  # the system check retry.E001 names the setting at fault
        numbers = defaults.policy().with_numbers(self.policy_numbers())
        for name, problem in policy.problems(numbers, floor=defaults.MIN_DELAY).items():
            raise PolicyMisconfigured(f"{self.module_path}: {name} {problem}.")

    def __reduce__(self) -> tuple[Any, ...]:
        # Django's Task pickles as the bound classmethod ``cls._reconstruct``; Twisted (which daphne imports)
        # registers a pickler for bound methods that cannot load classmethods, so name a plain function.
        kwargs = {field.name: getattr(self, field.name) for field in fields(self)}
        kwargs["func"] = self.module_path
        return (_reconstruct, (type(self), kwargs))

    def policy_numbers(self) -> dict[str, Any]:
        names = ("max_attempts", "base_delay", "factor", "max_delay", "jitter")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


def _reconstruct(cls: type[RetryTask], kwargs: dict[str, Any]) -> RetryTask:
    """The task a pickle names, found again by its module path (as Django's ``Task._reconstruct``)."""
    task: RetryTask = cls._reconstruct(kwargs)  # type: ignore[attr-defined]
    return task
