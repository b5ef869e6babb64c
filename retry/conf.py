"""The retry layer's settings: typed defaults, each overridable in Django settings as RETRY_<NAME>."""

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from retry import policy


@dataclass(frozen=True)
class RetrySettings:
    #: Attempts before a task is given up and left FAILED (the dead-letter state).
    MAX_ATTEMPTS: int = 5
    #: Seconds before the first retry; later delays grow from it and never fall below it.
    BASE_DELAY: float = 10.0
    #: No retry policy (settings, @task options, admin overrides) may wait less than this many seconds before a
    #: retry. Lower it only on purpose (tests).
    MIN_DELAY: float = 10.0
    #: Each retry waits this many times longer than the one before.
    BACKOFF_FACTOR: float = 2.0
    #: No delay is ever longer than this many seconds.
    MAX_DELAY: float = 3600.0
    #: Random extra wait, as a fraction of the delay (0.25: up to 25 % longer).
    JITTER: float = 0.25
    #: Seconds a task may run before it counts as lost (async tasks are cancelled then).
    TIME_LIMIT: float = 600.0
    #: Seconds a claim lasts without renewal; a dead worker's task is recovered after it.
    LEASE: float = 30.0
    #: Tasks one worker process runs at the same time.
    CONCURRENCY: int = 8
    #: Largest JSON encoding of a task's arguments, in bytes.
    MAX_ARGUMENTS_BYTES: int = 64 * 1024
    #: Seconds between two dispatcher passes.
    DISPATCH_INTERVAL: float = 1.0
    #: Rows the dispatcher sends, recovers or purges in one statement.
    DISPATCH_BATCH: int = 500
    #: Seconds after which a sent message counts as lost (the channel layer's expiry).
    MESSAGE_EXPIRY: float = 60.0
    #: Seconds a worker given SIGTERM lets running tasks finish before handing them back.
    SHUTDOWN_GRACE: float = 25.0
    #: Seconds between two worker heartbeats (lease renewals ride on them).
    HEARTBEAT_INTERVAL: float = 5.0
    #: Seconds without a heartbeat after which a worker counts as gone.
    WORKER_STALE_AFTER: float = 60.0
    #: Seconds successful tasks are kept (0: forever).
    RESULT_RETENTION: float = 7 * 24 * 3600.0
    #: Seconds failed (dead) tasks are kept (0: forever).
    FAILED_RETENTION: float = 30 * 24 * 3600.0
    #: Retries due sooner than this are started by the worker that scheduled them, on time.
    LOCAL_RETRY_HORIZON: float = 300.0
    #: Periodic tasks: {name: {"task": dotted path, "every": seconds} or {"task": ..., "cron": "*/5 * * * *"},
    #: optionally "args"/"kwargs"}.
    PERIODIC: dict[str, dict[str, Any]] | None = None
    #: Seconds the oldest ready task of a queue may wait before the backlog alarm: {queue: seconds}, "*" for the rest.
    BACKLOG_ALARM: dict[str, float] | None = None
    #: Seconds between two backlog alarm warnings about the same queue.
    BACKLOG_ALARM_INTERVAL: float = 300.0
    #: Worker processes wait for PostgreSQL to flush each commit to disk. Off by default: commits still land in
    #: order, so a database crash loses only the last instants of work, whose tasks are re-run after their
    #: lease, and never a task's effect without its completion. Enqueues (web processes) always wait.
    WORKER_SYNCHRONOUS_COMMIT: bool = False
    #: Run the task workers and the dispatcher inside the web process (`manage.py serve`).
    EMBEDDED: bool = True
    #: Channel group every task state change is published to.
    EVENTS_GROUP: str = "tasks"
    #: Channel names are this prefix plus the queue name.
    CHANNEL_PREFIX: str = "tasks."
    #: Where the task dashboard's live feed is served (a websocket path, as Django's path() writes it).
    FEED_PATH: str = "ws/tasks/"

    def policy(self) -> policy.RetryPolicy:
        """The retry policy of these settings: what a task runs under without options or an override."""
        return policy.RetryPolicy(
            max_attempts=self.MAX_ATTEMPTS,
            base_delay=self.BASE_DELAY,
            factor=self.BACKOFF_FACTOR,
            max_delay=self.MAX_DELAY,
            jitter=self.JITTER,
        )


@cache
def get() -> RetrySettings:
    """Read RETRY_<NAME> settings once; reset when a test changes settings."""
    values: dict[str, Any] = {}
    for field in fields(RetrySettings):
        if hasattr(settings, f"RETRY_{field.name}"):
            value = getattr(settings, f"RETRY_{field.name}")
            if field.type in (int, float) and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise ImproperlyConfigured(f"RETRY_{field.name} must be a number, not {value!r}.")
            if field.type is int and not isinstance(value, int):
                raise ImproperlyConfigured(f"RETRY_{field.name} must be a whole number, not {value!r}.")
            values[field.name] = value
    conf = RetrySettings(**values)
    for names, holds, words in RANGES:
        for name in names:
            if not holds(getattr(conf, name)):
                raise ImproperlyConfigured(f"RETRY_{name} must be {words}, not {getattr(conf, name)!r}.")
    for name, problem in policy.problems(conf.policy(), floor=conf.MIN_DELAY).items():
        raise ImproperlyConfigured(f"RETRY_{POLICY_SETTINGS[name]} {problem}.")
    if problem := lease_problem(conf):
        raise ImproperlyConfigured(f"RETRY_LEASE {problem}")
    return conf


def lease_problem(numbers: RetrySettings) -> str:
    """What is wrong with the lease beside the heartbeat that renews it; "" when nothing is."""
    if numbers.LEASE >= 2 * numbers.HEARTBEAT_INTERVAL:
        return ""
    return (
        f"must be at least twice RETRY_HEARTBEAT_INTERVAL ({numbers.HEARTBEAT_INTERVAL!r} s), not {numbers.LEASE!r}: "
        "leases are renewed at each heartbeat, so a task running longer than its lease would count as lost and run "
        "a second time."
    )


#: The setting behind each number of the default retry policy.
POLICY_SETTINGS = {
    "max_attempts": "MAX_ATTEMPTS",
    "base_delay": "BASE_DELAY",
    "factor": "BACKOFF_FACTOR",
    "max_delay": "MAX_DELAY",
    "jitter": "JITTER",
}


#: Counts that must be at least 1, durations that must be above zero, and those that may be zero ("forever").
AT_LEAST_ONE = ("MAX_ATTEMPTS", "CONCURRENCY", "DISPATCH_BATCH", "MAX_ARGUMENTS_BYTES")
POSITIVE = (
    "MIN_DELAY",
    "TIME_LIMIT",
    "LEASE",
    "DISPATCH_INTERVAL",
    "MESSAGE_EXPIRY",
    "HEARTBEAT_INTERVAL",
    "WORKER_STALE_AFTER",
    "BACKLOG_ALARM_INTERVAL",
)
NOT_NEGATIVE = ("SHUTDOWN_GRACE", "RESULT_RETENTION", "FAILED_RETENTION", "LOCAL_RETRY_HORIZON")
RANGES: tuple[tuple[tuple[str, ...], Callable[[float], bool], str], ...] = (
    (AT_LEAST_ONE, lambda value: value >= 1, "at least 1"),
    (POSITIVE, lambda value: value > 0, "positive"),
    (NOT_NEGATIVE, lambda value: value >= 0, "0 or more"),
)


def from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    """The RETRY_<NAME> variables set in ``environ``, each read as its setting's type.

    Numbers and booleans are read as written (booleans as 1/0, true/false, yes/no or on/off), the dict settings
    (PERIODIC, BACKLOG_ALARM) as JSON objects. A value that does not read raises ImproperlyConfigured naming it.
    """
    values: dict[str, Any] = {}
    for field in fields(RetrySettings):
        name = f"RETRY_{field.name}"
        raw = environ.get(name, "").strip()
        if raw:
            values[name] = _read(name, raw, field.type)
    return values


def _read(name: str, raw: str, kind: Any) -> Any:
    if kind is bool:
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no or on/off.")
    if kind is str:
        return raw
    if kind in (int, float):
        try:
            value = kind(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={raw!r} is not a {'whole ' if kind is int else ''}number.") from None
        if not math.isfinite(value):
            raise ImproperlyConfigured(f"{name}={raw!r} is not a finite number.")
        return value
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"{name} must be a JSON object, not {raw!r}.")
    return value


#: What a retry backend's OPTIONS may set for its own tasks and workers, over the RETRY_<NAME> settings.
OPTIONS = ("MAX_ATTEMPTS", "BASE_DELAY", "BACKOFF_FACTOR", "MAX_DELAY", "JITTER", "TIME_LIMIT", "LEASE", "CONCURRENCY")
#: The OPTIONS key naming the database of the task rows (an alias of DATABASES).
DATABASE = "DATABASE"


def backends() -> dict[str, Any]:
    """The retry layer's backends (RetryBackend or a subclass), by alias, as Django's task_backends made them."""
    from django.tasks import task_backends

    from retry.backend import RetryBackend  # the backend reads these settings: not at import

    return {alias: task_backends[alias] for alias in settings.TASKS if isinstance(task_backends[alias], RetryBackend)}


def default_backend() -> str:
    """The alias a worker serves unless told: ``default`` when it is a retry backend, else the first that is."""
    aliases = list(backends())
    return "default" if "default" in aliases or not aliases else aliases[0]


def queues(alias: str | None = None) -> list[str]:
    """The queues of the backend ``alias``, or of every retry backend, from Django's parsed configuration, in the
    order TASKS lists them."""
    found: list[str] = []
    for name, backend in backends().items():
        if alias in (None, name):
            listed = dict(settings.TASKS)[name].get("QUEUES") or []
            found += [queue for queue in listed if queue in backend.queues] + sorted(set(backend.queues) - set(listed))
    return list(dict.fromkeys(found))


def backend_of(queue: str) -> str:
    """The alias of the retry backend that serves ``queue`` (each queue belongs to one backend); "" for none."""
    return next((alias for alias, backend in backends().items() if queue in backend.queues), "")


@cache
def for_backend(alias: str) -> RetrySettings:
    """The settings a backend's tasks and workers run with: RETRY_<NAME>, then its OPTIONS."""
    options = _options(alias) if alias else {}
    if not isinstance(options, dict):
        return get()  # check_backends names it
    return replace(get(), **{name: value for name, value in options.items() if name in OPTIONS})


def option_problems(alias: str) -> list[str]:
    """What is wrong with a retry backend's OPTIONS, each naming the option."""
    options = _options(alias)
    where = f"TASKS[{alias!r}]['OPTIONS']"
    if not isinstance(options, dict):
        return [f"{where} must be a dict, not {options!r}."]
    problems = [
        f"{where} has an unknown option {name!r}; it takes {', '.join(OPTIONS)} and {DATABASE}."
        for name in options
        if name not in OPTIONS and name != DATABASE
    ]
    known = {name: value for name, value in options.items() if name in OPTIONS}
    for name, value in known.items():
        kind = int if name in AT_LEAST_ONE else int | float
        if isinstance(value, bool) or not isinstance(value, kind):
            problems.append(f"{where}[{name!r}] must be a {'whole ' if kind is int else ''}number, not {value!r}.")
        else:
            problems += [f"{where}[{name!r}] must be {words}, not {value!r}." for words in _out_of_range(name, value)]
    if problems:
        return problems
    numbers = replace(get(), **known)
    problems = [
        f"{where}: {POLICY_SETTINGS[name]} {problem}."
        for name, problem in policy.problems(numbers.policy(), floor=numbers.MIN_DELAY).items()
    ]
    if "LEASE" in known and (problem := lease_problem(numbers)):
        problems.append(f"{where}['LEASE'] {problem}")
    return problems


def _out_of_range(name: str, value: float) -> list[str]:
    return [words for names, holds, words in RANGES if name in names and not holds(value)]


def _options(alias: str) -> Any:
    return dict(settings.TASKS).get(alias, {}).get("OPTIONS") or {}


@cache
def database() -> str:
    """The database of the task rows: the retry backends' DATABASE option, else Django's default database."""
    options = [_options(alias) for alias in backends()]
    names = {str(option.get(DATABASE, "default")) for option in options if isinstance(option, dict)}
    return names.pop() if len(names) == 1 else "default"


def reset(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("RETRY_") or setting == "TASKS":
        get.cache_clear()
        for_backend.cache_clear()
        database.cache_clear()


setting_changed.connect(reset)
