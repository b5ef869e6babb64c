"""Periodic tasks declared in RETRY_PERIODIC, each enqueued once per period however many dispatchers run."""

import logging
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction

from retry import conf, registry
from retry.backend import RetryBackend
from retry.exceptions import TaskNotRegistered
from retry.models import PeriodicRun

logger = logging.getLogger("retry.schedules")
KEYS = ("task", "every", "cron", "args", "kwargs")


def problem(spec: object) -> str | None:
    """What is wrong with one RETRY_PERIODIC entry, or None (the system check retry.E002 names it)."""
    if not isinstance(spec, dict):
        return f"must be a dict with 'task' and 'every' or 'cron', not {spec!r}."
    if unknown := sorted(set(spec) - set(KEYS)):
        return f"unknown keys: {', '.join(map(repr, unknown))} (an entry takes {', '.join(KEYS)})."
    return _task_problem(spec.get("task")) or _period_problem(spec) or _arguments_problem(spec)


def _task_problem(path: object) -> str | None:
    if not isinstance(path, str) or not path:
        return "needs 'task', the dotted path of a task."
    try:
        backend = registry.load(path).get_backend()
    except (TaskNotRegistered, ImproperlyConfigured) as error:
        return str(error)
    return None if isinstance(backend, RetryBackend) else f"{path} must use the retry backend."


def _period_problem(spec: dict[str, Any]) -> str | None:
    if "every" in spec and "cron" in spec:
        return "has both 'every' and 'cron': give one."
    if "every" in spec:
        every = spec["every"]
        number = isinstance(every, int | float) and not isinstance(every, bool) and math.isfinite(every)
        return None if number and every > 0 else f"'every' must be a positive number of seconds, not {every!r}."
    if "cron" in spec:
        cron = spec["cron"]
        return None if isinstance(cron, str) and croniter.is_valid(cron) else f"{cron!r} is not a cron expression."
    return "needs 'every' (seconds) or 'cron' (an expression)."


def _arguments_problem(spec: dict[str, Any]) -> str | None:
    if not isinstance(spec.get("args", []), list | tuple):
        return f"'args' must be a list, not {spec['args']!r}."
    if not isinstance(spec.get("kwargs", {}), dict):
        return f"'kwargs' must be a dict, not {spec['kwargs']!r}."
    return None


def period_start(spec: dict[str, Any], now: datetime) -> datetime:
    """The start of the period ``now`` falls in: a multiple of ``every`` seconds, or the cron's last firing."""
    if "every" in spec:
        every = float(spec["every"])
        epoch = now.timestamp()
        return datetime.fromtimestamp(epoch - epoch % every, tz=UTC)
    return croniter(spec["cron"], now + timedelta(microseconds=1)).get_prev(datetime)  # type: ignore[no-any-return]


def enqueue_due(now: datetime) -> int:
    """Enqueue each schedule whose current period has not been enqueued yet; returns how many were.

    Each schedule stands alone: one that fails (a bad entry the system check did not see) is logged and the
    others, and the rest of the dispatcher's pass, go on.
    """
    enqueued = 0
    for name, spec in (conf.get().PERIODIC or {}).items():
        try:
            enqueued += _enqueue_if_new(name, spec, now)
        except Exception:
            logger.exception("Periodic task not enqueued; the other schedules go on", extra={"schedule": name})
    return enqueued


def _enqueue_if_new(name: str, spec: dict[str, Any], now: datetime) -> bool:
    start = period_start(spec, now)
    with transaction.atomic(using=conf.database()):
        if not _claim_period(name, start):
            return False
        task = registry.load(spec["task"])
        backend = task.get_backend()
        assert isinstance(backend, RetryBackend), f"{spec['task']} must use the retry backend"
        key = f"periodic:{name}:{start.isoformat()}"
        record = backend.enqueue_record(task, spec.get("args", ()), spec.get("kwargs", {}), idempotency_key=key)
        PeriodicRun.objects.filter(name=name).update(task=record)
    logger.info(
        "Periodic task enqueued", extra={"schedule": name, "period_start": start.isoformat(), **record.log_fields()}
    )
    return True


def _claim_period(name: str, start: datetime) -> bool:
    """True for the one dispatcher that moves the schedule to ``start``."""
    if PeriodicRun.objects.filter(name=name, period_start__lt=start).update(period_start=start):
        return True
    try:
        with transaction.atomic(using=conf.database()):
            PeriodicRun.objects.create(name=name, period_start=start)
    except IntegrityError:
        return False
    return True
