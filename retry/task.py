"""The task class of the retry backend, Django's Task plus retry options, and ``task``, its typed decorator."""

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Concatenate, Literal, TypedDict, Unpack, cast, overload

from django.core.exceptions import ImproperlyConfigured
from django.tasks import TaskContext
from django.tasks import task as django_task
from django.tasks.base import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_PRIORITY, DEFAULT_TASK_QUEUE_NAME, Task

from retry import conf, policy
from retry.exceptions import PolicyMisconfigured, RetryError

if TYPE_CHECKING:
    _GenericTask = Task
else:

    @dataclass(frozen=True, slots=True, kw_only=True)
    class _GenericTask[**P, R](Task):
        """Django's Task with the type parameters its stubs give it (at run time Django's takes none)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryTask[**P, R](_GenericTask[P, R]):
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


def _reconstruct(cls: type[RetryTask[..., Any]], kwargs: dict[str, Any]) -> RetryTask[..., Any]:
    """The task a pickle names, found again by its module path (as Django's ``Task._reconstruct``)."""
    task: RetryTask[..., Any] = cls._reconstruct(kwargs)  # type: ignore[attr-defined]
    return task


class RetryOptions(TypedDict, total=False):
    """The options ``task`` takes beyond Django's: the fields of RetryTask."""

    max_attempts: int | None
    base_delay: float | None
    factor: float | None
    max_delay: float | None
    jitter: float | None
    retry_on: tuple[type[BaseException], ...]
    give_up_on: tuple[type[BaseException], ...]
    time_limit: float | None
    max_age: float | None
    ignore_result: bool


type _Context = TaskContext[Any, Any]


@overload
def task[**P, R](
    function: Callable[Concatenate[_Context, P], R],
    /,
    *,
    priority: int = ...,
    queue_name: str = ...,
    backend: str = ...,
    takes_context: Literal[True],
    **options: Unpack[RetryOptions],
) -> RetryTask[P, R]: ...
@overload
def task[**P, R](
    function: Callable[P, R],
    /,
    *,
    priority: int = ...,
    queue_name: str = ...,
    backend: str = ...,
    takes_context: Literal[False] = False,
    **options: Unpack[RetryOptions],
) -> RetryTask[P, R]: ...
@overload
def task[**P, R](
    *,
    priority: int = ...,
    queue_name: str = ...,
    backend: str = ...,
    takes_context: Literal[True],
    **options: Unpack[RetryOptions],
) -> Callable[[Callable[Concatenate[_Context, P], R]], RetryTask[P, R]]: ...
@overload
def task[**P, R](
    *,
    priority: int = ...,
    queue_name: str = ...,
    backend: str = ...,
    takes_context: Literal[False] = False,
    **options: Unpack[RetryOptions],
) -> Callable[[Callable[P, R]], RetryTask[P, R]]: ...
def task(
    function: Callable[..., Any] | None = None,
    /,
    *,
    priority: int = DEFAULT_TASK_PRIORITY,
    queue_name: str = DEFAULT_TASK_QUEUE_NAME,
    backend: str = DEFAULT_TASK_BACKEND_ALIAS,
    takes_context: bool = False,
    **options: Unpack[RetryOptions],
) -> RetryTask[..., Any] | Callable[[Callable[..., Any]], RetryTask[..., Any]]:
    """Django's ``@task`` with the retry options typed: ``@task(queue_name="emails", max_attempts=8)``.

    The task keeps its function's parameters and return type for ``enqueue``, ``call`` and ``get_result``.
    Its backend must be a RetryBackend; the task is made and checked by that backend, as Django's ``@task`` does.
    """
    from django.tasks import task_backends

    def wrapper(func: Callable[..., Any]) -> RetryTask[..., Any]:
        if not issubclass(task_backends[backend].task_class, RetryTask):
            path = f"{func.__module__}.{func.__qualname__}"
            raise RetryError(f"{path} uses the backend {backend!r}, which is not a RetryBackend.")
        made = django_task(  # type: ignore[call-overload]  # the stubs know Django's options alone
            priority=priority, queue_name=queue_name, backend=backend, takes_context=takes_context, **options
        )(func)
        return cast(RetryTask[..., Any], made)

    return wrapper if function is None else wrapper(function)
