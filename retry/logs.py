"""Structured log lines: `extra` fields become key=value pairs, or JSON with LOG_FORMAT=json; task failures in Sentry.

Imported while Django configures logging, before the apps are ready: no models at module level.
"""

import contextlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

#: The changes that end a task as FAILED: each is one Sentry event.
REPORTED = frozenset({"failed", "expired"})

with contextlib.suppress(ImportError):
    from sentry_sdk.integrations.logging import ignore_logger

    # A failure reaches Sentry as an event of its own (report_failure), not as these loggers' lines: those
    # carry no exception ("task failed"), or the same one again (Django's), and would all group as one issue.
    ignore_logger("retry.tasks")
    ignore_logger("django.tasks")

# Attributes every LogRecord has; anything else was passed through `extra`.
STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in record.__dict__.items() if key not in STANDARD_ATTRS}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and every `extra` field."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": utc_time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **extra_fields(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def utc_time(record: logging.LogRecord) -> str:
    """The record's time in UTC, whatever TIME_ZONE the process runs in (Django sets it as the local time)."""
    moment = datetime.fromtimestamp(record.created, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{int(record.msecs):03d}Z"


class KeyValueFormatter(logging.Formatter):
    """One readable line: time, level, logger, message, then every `extra` field as key=value."""

    def __init__(self, fmt: str = "%(asctime)s %(levelname)s %(name)s %(message)s", **kwargs: Any) -> None:
        super().__init__(fmt, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        pairs = " ".join(f"{key}={_text(value)}" for key, value in extra_fields(record).items())
        if not pairs:
            return line
        head, newline, rest = line.partition("\n")  # keep a traceback below the fields
        return f"{head} {pairs}{newline}{rest}"


def _text(value: Any) -> str:
    """A value that stays one token: quoted when it has spaces, quotes or is empty."""
    text = str(value)
    if not text or any(char in text for char in ' "=\n'):
        return json.dumps(text)
    return text


def tag_task(record: Any) -> None:
    """Tag error reports with the task being run, when Sentry is set up (SENTRY_DSN)."""
    sentry_sdk = _sentry()
    if sentry_sdk is not None:
        for key, value in record.log_fields().items():
            sentry_sdk.set_tag(key, value)


def report_on_commit(change: str, record: Any, error: BaseException | None) -> None:
    """Once ``change`` is committed, report it to Sentry if it failed the task (and Sentry is set up)."""
    if change in REPORTED and _sentry() is not None:
        transaction.on_commit(lambda: report_failure(change, record, error), using=record._state.db, robust=True)


def report_failure(change: str, record: Any, error: BaseException | None) -> None:
    """One Sentry event for a failed task: its exception (``error``, when it raised one), grouped by task and
    exception type, with the task's fields as tags and its earlier failed attempts as breadcrumbs."""
    sentry_sdk = _sentry()
    if sentry_sdk is None:
        return
    kind = f"{type(error).__module__}.{type(error).__qualname__}" if error is not None else record.error_class
    with sentry_sdk.new_scope() as scope:
        scope.fingerprint = [record.task_path, kind]
        for key, value in record.log_fields().items():
            scope.set_tag(key, value)
        for attempt in record.attempt_set.filter(outcome__in=["RETRIED", "LOST"]).order_by("number"):
            scope.add_breadcrumb(
                category="retry.attempt",
                level="warning",
                message=f"attempt {attempt.number} {attempt.outcome}: {attempt.error_class}: {attempt.error_message}",
                data={"attempt": attempt.number, "outcome": attempt.outcome, "worker_id": attempt.worker_id},
                timestamp=attempt.finished_at,
            )
        if error is not None:
            sentry_sdk.capture_exception(error)
        else:
            sentry_sdk.capture_message(f"{record.task_path} {change}: {record.error_message}", level="error")


def _sentry() -> Any:
    """The Sentry SDK when SENTRY_DSN set it up, else None."""
    try:
        import sentry_sdk
    except ImportError:
        return None
    return sentry_sdk if sentry_sdk.is_initialized() else None
