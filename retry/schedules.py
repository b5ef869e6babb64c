"""Periodic tasks declared in RETRY_PERIODIC, each enqueued once per period however many dispatchers run."""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction

from retry import conf, registry
from retry.backend import RetryBackend
from retry.models import PeriodicRun

logger = logging.getLogger("retry.schedules")


def period_start(spec: dict[str, Any], now: datetime) -> datetime:
    """The start of the period ``now`` falls in: a multiple of ``every`` seconds, or the cron's last firing."""
    if "every" in spec:
        every = float(spec["every"])
        if every <= 0:
            raise ImproperlyConfigured(f"RETRY_PERIODIC: 'every' must be positive, not {every!r}.")
        epoch = now.timestamp()
        return datetime.fromtimestamp(epoch - epoch % every, tz=UTC)
    if "cron" in spec:
        return croniter(spec["cron"], now + timedelta(microseconds=1)).get_prev(datetime)  # type: ignore[no-any-return]
    raise ImproperlyConfigured("RETRY_PERIODIC entries need 'every' (seconds) or 'cron' (an expression).")


def enqueue_due(now: datetime) -> int:
    """Enqueue each schedule whose current period has not been enqueued yet; returns how many were."""
    return sum(_enqueue_if_new(name, spec, now) for name, spec in (conf.get().PERIODIC or {}).items())


def _enqueue_if_new(name: str, spec: dict[str, Any], now: datetime) -> bool:
    start = period_start(spec, now)
    with transaction.atomic():
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
        with transaction.atomic():
            PeriodicRun.objects.create(name=name, period_start=start)
    except IntegrityError:
        return False
    return True
