"""Log lines carry the task's fields in both formats; Sentry is set up by SENTRY_DSN and tagged with the task."""

import gzip
import http.server
import json
import logging
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, cast

import pytest
import redis
from django.conf import settings
from django.db import connections
from django.test import override_settings

from retry import logs
from retry.models import TaskRecord
from retry.outbox import outbox
from tests import processes, tasks
from tests.conftest import SHARED_REDIS
from tests.retry.rows import task

BASE_DIR = Path(__file__).resolve().parents[2]
FIELDS = {"task_id": "7d1c", "task_name": "orders.tasks.send_ready_email", "queue": "emails", "attempt": 2}


def record(**extra: object) -> logging.LogRecord:
    made = logging.makeLogRecord({"name": "retry.tasks", "levelno": logging.WARNING, "levelname": "WARNING"})
    made.msg, made.args = "task %s", ("retry_scheduled",)
    made.__dict__.update(extra)
    return made


def test_the_text_format_ends_with_every_field_as_key_value() -> None:
    line = logs.KeyValueFormatter().format(record(**FIELDS, delay=0.5, error="Refused: HTTP 503", note=""))
    assert line.endswith(
        "WARNING retry.tasks task retry_scheduled task_id=7d1c task_name=orders.tasks.send_ready_email"
        ' queue=emails attempt=2 delay=0.5 error="Refused: HTTP 503" note=""'
    )


def test_the_text_format_keeps_a_traceback_below_the_fields() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        failing = record(**FIELDS, exc_info=sys.exc_info())
    first, *rest = logs.KeyValueFormatter().format(failing).splitlines()
    assert first.endswith("attempt=2")
    assert rest[0].startswith("Traceback") and rest[-1] == "ValueError: boom"


def test_the_json_format_has_every_field() -> None:
    entry = json.loads(logs.JsonFormatter().format(record(**FIELDS, delay=0.5)))
    assert entry["message"] == "task retry_scheduled"
    assert {key: entry[key] for key in [*FIELDS, "delay"]} == {**FIELDS, "delay": 0.5}


def test_settings_pick_the_key_value_formatter_for_text() -> None:
    formatters = cast(dict[str, Any], settings.LOGGING)["formatters"]
    assert formatters["text"] == {"()": "retry.logs.KeyValueFormatter"}
    assert formatters["json"] == {"()": "retry.logs.JsonFormatter"}


def test_tagging_without_sentry_does_nothing() -> None:
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


def test_sentry_starts_with_a_dsn_and_tags_the_task() -> None:
    environment = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONDONTWRITEBYTECODE": "1"}
    environment["SENTRY_DSN"] = "https://public@127.0.0.1:9/1"  # nothing is sent: no event is captured
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=environment, cwd=BASE_DIR, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split() == ["True", "True"], done.stderr


def test_json_log_times_are_utc_whatever_the_time_zone() -> None:
    environment = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "project.settings", "LOG_FORMAT": "json"}
    environment |= {"TIME_ZONE": "Asia/Tokyo", "DATABASE_URL": "sqlite:///:memory:"}  # UTC+9 all year
    code = "import logging; logging.getLogger('retry.tasks').warning('probe')"
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        env=environment,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    (line,) = [json.loads(line) for line in done.stderr.splitlines() if '"probe"' in line]
    logged_at = datetime.strptime(line["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - logged_at) < timedelta(minutes=5)  # not 9 hours off


class SentryReceiver(http.server.BaseHTTPRequestHandler):
    """Takes Sentry envelopes on 127.0.0.1, as a Sentry server would, and keeps their events."""

    events: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        lines = body.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                self.events.append(json.loads(payload))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sentry_events() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SentryReceiver)
    SentryReceiver.events = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://public@127.0.0.1:{server.server_address[1]}/1", SentryReceiver.events
    server.shutdown()
    server.server_close()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """This process and the worker it starts share a Redis channel layer with a prefix of their own."""
    prefix = f"logs-{uuid.uuid4().hex[:10]}"
    config = {"hosts": [SHARED_REDIS], "prefix": prefix, "expiry": 60}
    with override_settings(
        CHANNEL_LAYERS={"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": config}}
    ):
        yield prefix
        outbox.flush(timeout=5)
    client = redis.Redis.from_url(SHARED_REDIS)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(90)
def test_a_task_failure_reaches_sentry_with_its_exception_grouped_by_task_and_exception(
    sentry_events: tuple[str, list[dict[str, Any]]], redis_prefix: str, tmp_path: Path
) -> None:
    dsn, received = sentry_events
    env = processes.test_settings_env(connections["default"].settings_dict, SHARED_REDIS, redis_prefix, SENTRY_DSN=dsn)
    worker = processes.Process("worker", processes.manage("runworker", "tasks.default"), env, tmp_path).start()
    try:
        failing = [tasks.always_fails.enqueue("sentry-a").id, tasks.gives_up_on_key_error.enqueue("sentry-b").id]
        deadline = time.monotonic() + 60
        while TaskRecord.objects.filter(pk__in=failing).exclude(status="FAILED").exists():
            assert time.monotonic() < deadline, worker.log()
            time.sleep(0.1)
        worker.stop(grace=15)  # Sentry sends what it holds as the process ends
    finally:
        worker.kill()
    events = [event for event in received if event.get("tags", {}).get("task_id") in failing]
    by_task = {event["tags"]["task_id"]: event for event in events}
    assert len(events) == len(by_task) == 2, [event.get("message") or event.get("logentry") for event in received]
    always, key_error = by_task[failing[0]], by_task[failing[1]]
    assert [value["type"] for value in always["exception"]["values"]] == ["Flaky"]
    assert always["fingerprint"] == ["tests.tasks.always_fails", "tests.tasks.Flaky"]
    assert key_error["fingerprint"] == ["tests.tasks.gives_up_on_key_error", "builtins.KeyError"]
    retries = [crumb for crumb in always["breadcrumbs"]["values"] if crumb.get("category") == "retry.attempt"]
    assert [crumb["data"]["outcome"] for crumb in retries] == ["RETRIED", "RETRIED"]
