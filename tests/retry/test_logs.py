"""Log lines carry the task's fields in both formats; Sentry is set up by SENTRY_DSN and tagged with the task."""

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from retry import events, logs
from tests.retry.rows import task

BASE_DIR = Path(__file__).resolve().parents[2]
FIELDS = {"task_id": "7d1c", "task_name": "orders.tasks.send_ready_email", "queue": "emails", "attempt": 2}


def record(**extra) -> logging.LogRecord:
    made = logging.makeLogRecord({"name": "retry.tasks", "levelno": logging.WARNING, "levelname": "WARNING"})
    made.msg, made.args = "task %s", ("retry_scheduled",)
    made.__dict__.update(extra)
    return made


def test_the_text_format_ends_with_every_field_as_key_value():
    line = logs.KeyValueFormatter().format(record(**FIELDS, delay=0.5, error="Refused: HTTP 503", note=""))
    assert line.endswith(
        "WARNING retry.tasks task retry_scheduled task_id=7d1c task_name=orders.tasks.send_ready_email"
        ' queue=emails attempt=2 delay=0.5 error="Refused: HTTP 503" note=""'
    )


def test_the_text_format_keeps_a_traceback_below_the_fields():
    try:
        raise ValueError("boom")
    except ValueError:
        failing = record(**FIELDS, exc_info=sys.exc_info())
    first, *rest = logs.KeyValueFormatter().format(failing).splitlines()
    assert first.endswith("attempt=2")
    assert rest[0].startswith("Traceback") and rest[-1] == "ValueError: boom"


def test_the_json_format_has_every_field():
    entry = json.loads(logs.JsonFormatter().format(record(**FIELDS, delay=0.5)))
    assert entry["message"] == "task retry_scheduled"
    assert {key: entry[key] for key in [*FIELDS, "delay"]} == {**FIELDS, "delay": 0.5}


def test_settings_pick_the_key_value_formatter_for_text():
    assert settings.LOGGING["formatters"]["text"] == {"()": "retry.logs.KeyValueFormatter"}
    assert settings.LOGGING["formatters"]["json"] == {"()": "retry.logs.JsonFormatter"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "details", "level"),
    [
        ("started", {"worker_id": "oven:1:a"}, logging.INFO),
        ("succeeded", {"duration": 0.25}, logging.INFO),
        ("retry_scheduled", {"delay": 10.0, "error": "KeyError: 'x'"}, logging.WARNING),
        ("failed", {"error": "KeyError: 'x'"}, logging.ERROR),
        ("cancelled", {}, logging.WARNING),
    ],
)
def test_every_state_change_logs_one_line_with_the_task_fields(caplog, change, details, level):
    row = task("emails", attempts=2)
    caplog.set_level(logging.INFO, logger="retry.tasks")
    events.record(change, row, **details)
    (line,) = [r for r in caplog.records if r.name == "retry.tasks"]
    assert line.levelno == level
    expected = {"change": change, "task_id": str(row.pk), "task_name": row.task_path, "queue": "emails", "attempt": 2}
    assert {key: getattr(line, key) for key in [*expected, *details]} == {**expected, **details}
    assert f"task_id={row.pk}" in logs.KeyValueFormatter().format(line)


def test_tagging_without_sentry_does_nothing():
    logs.tag_task(task(save=False))


PROBE = """
import django, sentry_sdk
django.setup()
from retry import logs
from tests.retry.rows import task
record = task("emails", save=False)
logs.tag_task(record)
print(sentry_sdk.is_initialized(), sentry_sdk.get_isolation_scope()._tags == record.log_fields(), flush=True)
"""


def test_sentry_starts_with_a_dsn_and_tags_the_task():
    environment = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONDONTWRITEBYTECODE": "1"}
    environment["SENTRY_DSN"] = "https://public@127.0.0.1:9/1"  # nothing is sent: no event is captured
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=environment, cwd=BASE_DIR, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split() == ["True", "True"], done.stderr
