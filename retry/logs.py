"""Structured log lines: `extra` fields become key=value pairs, or JSON with LOG_FORMAT=json."""

import json
import logging
from typing import Any

# Attributes every LogRecord has; anything else was passed through `extra`.
STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in record.__dict__.items() if key not in STANDARD_ATTRS}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and every `extra` field."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **extra_fields(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


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
    try:
        import sentry_sdk
    except ImportError:
        return
    if sentry_sdk.is_initialized():
        for key, value in record.log_fields().items():
            sentry_sdk.set_tag(key, value)
