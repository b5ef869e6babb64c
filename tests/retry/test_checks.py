"""Bad periodic entries are refused by a system check naming them, and one that slips through harms no other."""

import json
from datetime import timedelta

import pytest
from pytest_django import Settings

from retry import checks, clock
from retry.dispatcher import Dispatcher
from retry.models import TaskRecord
from retry.outbox import outbox
from tests import tasks
from tests.project.test_startup import COMMANDS, run

GOOD = {"task": "tests.tasks.record", "every": 60, "kwargs": {"key": "good"}}
BAD_ENTRIES = [
    # (entry, what the check says about it)
    ({"task": "tests.tasks.recrod", "every": 60}, "tests.tasks.recrod cannot be imported"),
    ({"task": "tests.tasks.Flaky", "every": 60}, "tests.tasks.Flaky is not a task"),
    ({"every": 60}, "needs 'task'"),
    ({"task": "tests.tasks.record", "cron": "61 * * * *"}, "'61 * * * *' is not a cron expression"),
    ({"task": "tests.tasks.record", "cron": 5}, "5 is not a cron expression"),
    ({"task": "tests.tasks.record", "every": 0}, "'every' must be a positive number of seconds, not 0"),
    ({"task": "tests.tasks.record", "every": -5}, "'every' must be a positive number of seconds, not -5"),
    ({"task": "tests.tasks.record", "every": "hourly"}, "'every' must be a positive number of seconds, not 'hourly'"),
    ({"task": "tests.tasks.record", "every": float("inf")}, "'every' must be a positive number of seconds, not inf"),
    ({"task": "tests.tasks.record"}, "needs 'every' (seconds) or 'cron' (an expression)"),
    ({"task": "tests.tasks.record", "every": 60, "cron": "* * * * *"}, "has both 'every' and 'cron'"),
    ({"task": "tests.tasks.record", "every": 60, "args": "x"}, "'args' must be a list"),
    ({"task": "tests.tasks.record", "every": 60, "kwargs": []}, "'kwargs' must be a dict"),
    ({"task": "tests.tasks.record", "evry": 60}, "unknown keys: 'evry'"),
    ("tests.tasks.record", "must be a dict"),
]


def periodic_errors() -> list[str]:
    return [message.msg for message in checks.check_periodic() if message.id == "retry.E002"]


@pytest.mark.parametrize(("entry", "said"), BAD_ENTRIES)
def test_a_bad_periodic_entry_fails_the_system_check_naming_it(
    settings: Settings, entry: dict[str, object] | str, said: str
) -> None:
    settings.RETRY_PERIODIC = {"good": GOOD, "nightly": entry}
    [error] = periodic_errors()
    assert error.startswith("RETRY_PERIODIC['nightly']: ") and said in error


def test_good_periodic_entries_pass_the_check(settings: Settings) -> None:
    settings.RETRY_PERIODIC = {"good": GOOD, "cron": {"task": "tests.tasks.record", "cron": "*/5 * * * *"}}
    assert periodic_errors() == []
    settings.RETRY_PERIODIC = ["not", "a", "dict"]
    assert periodic_errors() == ["RETRY_PERIODIC must be a dict of {name: entry}, not a list."]


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_bad_entry_that_reaches_the_dispatcher_stops_nothing_else(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.RETRY_PERIODIC = {"typo": {"task": "tests.tasks.recrod", "every": 60}, "good": GOOD}
    far_retry = tasks.record.enqueue("far")
    outbox.flush()
    TaskRecord.objects.filter(pk=far_retry.id).update(notified_at=None, run_after=clock.db_now() - timedelta(hours=1))

    report = Dispatcher().tick()

    assert report["scheduled"] == 1 and report["sent"] >= 1
    assert TaskRecord.objects.filter(idempotency_key__startswith="periodic:good:").count() == 1
    assert TaskRecord.objects.get(pk=far_retry.id).notified_at is not None
    [logged] = [record for record in caplog.records if record.name == "retry.schedules" and record.levelname == "ERROR"]
    assert vars(logged)["schedule"] == "typo"


@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_periodic_entry_stops_every_process_naming_it(command: str) -> None:
    entry = {"nightly": {"task": "orders.tasks.clean_up", "cron": "0 25 * * *"}}
    result = run(COMMANDS[command], {"RETRY_PERIODIC": json.dumps(entry)})
    assert result.returncode != 0
    assert "(retry.E002) RETRY_PERIODIC['nightly']: '0 25 * * *' is not a cron expression" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("path", ["ws/tasks/", "ws/tasks", "ops/task-feed/", "a.b/c~d_e-f/"])
def test_a_feed_path_as_path_writes_it_passes_the_check(settings: Settings, path: str) -> None:
    settings.RETRY_FEED_PATH = path
    assert checks.check_feed_path() == []


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/ws/tasks/", "RETRY_FEED_PATH must not start with '/': write 'ws/tasks/', as path() does."),
        ("", "not ''"),
        ("/", "not '/'"),
        ("ws//tasks/", "not 'ws//tasks/'"),
        ("ws/<int:queue>/", "not 'ws/<int:queue>/'"),
        ("ws/../admin/", "not 'ws/../admin/'"),
        ("ws/tasks/?v=1", "not 'ws/tasks/?v=1'"),
        ("ws tasks/", "not 'ws tasks/'"),
        (5, "not 5"),
    ],
)
def test_a_malformed_feed_path_fails_the_check_naming_it(settings: Settings, path: str | int, said: str) -> None:
    settings.RETRY_FEED_PATH = path
    [error] = checks.check_feed_path()
    assert error.id == "retry.E004"
    assert error.msg.startswith("RETRY_FEED_PATH must ") and said in error.msg


@pytest.mark.parametrize("command", ["check", "daphne"])
def test_a_malformed_feed_path_stops_the_web_process_naming_it(command: str) -> None:
    result = run(COMMANDS[command], {"RETRY_FEED_PATH": "/ws/tasks/"})
    assert result.returncode != 0
    assert "(retry.E004) RETRY_FEED_PATH must not start with '/'" in result.stderr
    assert "Traceback" not in result.stderr
