"""Periodic tasks: the schedules table (RETRY_PERIODIC loaded into it, operators' edits kept), each enabled
schedule enqueued once per period however many dispatchers run."""

import logging
import math
import zoneinfo
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, IntegrityError, transaction

from retry import arguments, conf, registry, text
from retry.backend import RetryBackend
from retry.exceptions import InvalidTaskArguments, TaskNotRegistered
from retry.models import PeriodicRun, Schedule

logger = logging.getLogger("retry.schedules")
KEYS = ("task", "every", "cron", "timezone", "args", "kwargs")
#: What a RETRY_PERIODIC entry sets on its row (the operator alone enables and disables).
DEFINITION = ("task_path", "every", "cron", "timezone", "args", "kwargs")
#: Characters of a schedule's name and of its task's path the table keeps.
NAME_LIMIT, PATH_LIMIT = 100, 255
#: The longest interval: ten years of seconds (a longer one would never run, and overflows dates).
EVERY_LIMIT = 315_360_000


def problem(spec: object, name: object = "schedule") -> str | None:
    """What is wrong with one RETRY_PERIODIC entry, or None (the system check retry.E002 names it)."""
    if said := name_problem(name):
        return said
    if not isinstance(spec, dict):
        return f"must be a dict with 'task' and 'every' or 'cron', not {spec!r}."
    if unknown := sorted(set(spec) - set(KEYS)):
        return f"unknown keys: {', '.join(map(repr, unknown))} (an entry takes {', '.join(KEYS)})."
    return (
        task_problem(spec.get("task"))
        or period_problem(spec)
        or zone_problem(spec.get("timezone", "UTC"))
        or arguments_problem(spec)
    )


def name_problem(name: object) -> str | None:
    if not isinstance(name, str) or not name:
        return f"the name must be a non-empty string, not {name!r}."
    if said := text.problem(name):
        return f"the name {said}."
    return None if len(name) <= NAME_LIMIT else f"the name is {len(name)} characters long; the limit is {NAME_LIMIT}."


def task_problem(path: object) -> str | None:
    if not isinstance(path, str) or not path:
        return "needs 'task', the dotted path of a task."
    if said := text.problem(path):
        return f"the task's path {said}."
    if len(path) > PATH_LIMIT:
        return f"the task's path is {len(path)} characters long; the limit is {PATH_LIMIT}."
    try:
        backend = registry.load(path).get_backend()
    except (TaskNotRegistered, ImproperlyConfigured) as error:
        return str(error)
    return None if isinstance(backend, RetryBackend) else f"{path} must use the retry backend."


def period_problem(spec: dict[str, Any]) -> str | None:
    if "every" in spec and "cron" in spec:
        return "has both 'every' and 'cron': give one."
    if "every" in spec:
        every = spec["every"]
        number = isinstance(every, int | float) and not isinstance(every, bool) and math.isfinite(every)
        if not number or every <= 0:
            return f"'every' must be a positive number of seconds, not {every!r}."
        return (
            None if every <= EVERY_LIMIT else f"'every' is {every!r} seconds; the limit is {EVERY_LIMIT} (ten years)."
        )
    if "cron" in spec:
        cron = spec["cron"]
        return None if isinstance(cron, str) and croniter.is_valid(cron) else f"{cron!r} is not a cron expression."
    return "needs 'every' (seconds) or 'cron' (an expression)."


def zone_problem(name: object) -> str | None:
    try:
        zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not a known time zone (an IANA name such as 'UTC' or 'Europe/Paris')."
    return None if isinstance(name, str) else f"the time zone must be a name, not {name!r}."


def arguments_problem(spec: dict[str, Any]) -> str | None:
    if not isinstance(spec.get("args", []), list | tuple):
        return f"'args' must be a list, not {spec['args']!r}."
    if not isinstance(spec.get("kwargs", {}), dict):
        return f"'kwargs' must be a dict, not {spec['kwargs']!r}."
    try:
        arguments.check(spec.get("args", []), spec.get("kwargs", {}))
    except InvalidTaskArguments as error:
        return str(error)
    return None


def _local(spec: dict[str, Any], now: datetime) -> datetime:
    """``now`` in the schedule's time zone (UTC unless it names one)."""
    return now.astimezone(zoneinfo.ZoneInfo(spec.get("timezone", "UTC")))


def period_start(spec: dict[str, Any], now: datetime) -> datetime:
    """The start of the period ``now`` falls in: a multiple of ``every`` seconds, or the cron's last firing in its
    time zone."""
    if "every" in spec:
        every = float(spec["every"])
        epoch = now.timestamp()
        return datetime.fromtimestamp(epoch - epoch % every, tz=UTC)
    local = _local(spec, now)
    return croniter(spec["cron"], local + timedelta(microseconds=1)).get_prev(datetime).astimezone(UTC)  # type: ignore[no-any-return]


def next_start(spec: dict[str, Any], now: datetime) -> datetime:
    """The start of the period after the one ``now`` falls in."""
    if "every" in spec:
        return period_start(spec, now) + timedelta(seconds=float(spec["every"]))
    local = _local(spec, now)
    return croniter(spec["cron"], local).get_next(datetime).astimezone(UTC)  # type: ignore[no-any-return]


def enqueue_due(now: datetime) -> int:
    """Enqueue each enabled schedule whose current period has not been enqueued yet; returns how many were.

    Each schedule stands alone: one that fails (a task this deploy no longer has) is logged and the others, and
    the rest of the dispatcher's pass, go on.
    """
    if _loaded is not conf.get():
        try:
            load_settings()
        except Exception:  # the table as it is still runs; the next pass loads again
            logger.exception("RETRY_PERIODIC not loaded into the schedules table; the schedules there go on")
    enqueued = 0
    for schedule in Schedule.objects.filter(enabled=True):
        try:
            enqueued += _enqueue_if_new(schedule.name, schedule.spec(), now)
        except Exception:
            logger.exception("Periodic task not enqueued; the other schedules go on", extra={"schedule": schedule.name})
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


#: The settings last loaded into the table by this process (conf.get() is made anew when settings change).
_loaded: object = None


def load_settings() -> int:
    """Load RETRY_PERIODIC into the schedules table; how many rows it wrote. Running it again changes nothing.

    A new entry becomes an enabled row. A changed entry changes its row, unless an operator edited that row (an
    operator's edit wins). An entry gone from the settings takes its row with it, unless an operator edited it.
    Enabling and disabling are the operator's alone. Entries the system check refuses are skipped, and so is an
    entry the database refuses (logged): the others are loaded.
    """
    global _loaded
    entries = {}
    for name, spec in (conf.get().PERIODIC or {}).items():
        if said := problem(spec, name):
            logger.error("RETRY_PERIODIC entry not loaded: %s", said, extra={"schedule": name})
        else:
            entries[name] = spec
    rows = {row.name: row for row in Schedule.objects.all()}
    written = 0
    for name, spec in entries.items():
        try:
            written += _write(name, definition(spec), rows.get(name))
        except (DatabaseError, TypeError, ValueError):
            logger.exception("RETRY_PERIODIC entry not loaded: the database refused it", extra={"schedule": name})
    gone = [row.pk for name, row in rows.items() if name not in entries and row.source == Schedule.Source.SETTINGS]
    written += Schedule.objects.filter(pk__in=gone, edited_at__isnull=True).delete()[0]
    _loaded = conf.get()
    return written


def definition(spec: dict[str, Any]) -> dict[str, Any]:
    """The row's fields a RETRY_PERIODIC entry gives."""
    return {
        "task_path": spec["task"],
        "every": float(spec["every"]) if "every" in spec else None,
        "cron": spec.get("cron", ""),
        "timezone": spec.get("timezone", "UTC"),
        "args": list(spec.get("args", [])),
        "kwargs": dict(spec.get("kwargs", {})),
    }


def differs(row: Schedule, fields: dict[str, Any]) -> bool:
    return any(getattr(row, name) != value for name, value in fields.items())


def _write(name: str, fields: dict[str, Any], row: Schedule | None) -> int:
    """Write one entry in a savepoint of its own, so a refusal leaves the other entries' writes usable."""
    try:
        with transaction.atomic(using=conf.database()):
            if row is None:
                Schedule.objects.create(name=name, source=Schedule.Source.SETTINGS, **fields)
                return 1
            if row.source == Schedule.Source.SETTINGS and row.edited_at is None and differs(row, fields):
                return Schedule.objects.filter(pk=row.pk, edited_at__isnull=True).update(**fields)
            return 0
    except IntegrityError:  # another process loaded it first
        return 0


def set_enabled(names: Iterable[str], enabled: bool) -> int:
    """Enable or disable the schedules ``names``; how many changed. The dispatcher's next pass follows."""
    return Schedule.objects.filter(name__in=list(names)).exclude(enabled=enabled).update(enabled=enabled)


def reset_to_settings(names: Iterable[str]) -> int:
    """Forget the operator's edits of the settings' schedules ``names``: they follow RETRY_PERIODIC again."""
    forgotten = Schedule.objects.filter(name__in=list(names), source=Schedule.Source.SETTINGS, edited_at__isnull=False)
    changed = forgotten.update(edited_at=None, edited_by="")
    load_settings()
    return changed
