"""The operator's commands, run as an operator runs them: bad arguments get one line and a non-zero exit."""

import subprocess
import sys

import pytest
from django.db import connections

from tests import processes
from tests.project.conftest import BASE_DIR, clean_env

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def manage(*arguments: str) -> subprocess.CompletedProcess[str]:
    """`manage.py` with the production settings on the test database; a refused command must exit by itself."""
    env = {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": processes.database_url(connections["default"].settings_dict),
    }
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        env=clean_env(env),
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["tasks", "retry_now", "not-a-uuid"], "CommandError: 'not-a-uuid' is not a task id (a UUID)."),
        (["tasks", "cancel", "not-an-id"], "CommandError: 'not-an-id' is not a task id (a UUID)."),
        (["tasks", "purge", "12"], "CommandError: '12' is not a task id (a UUID)."),
        (["tasks", "requeue_dead", "no.such.task"], "CommandError: 'no.such.task' names no task."),
        (["serve", "--port", "99999"], "CommandError: --port 99999 is not a port number from 0 to 65535."),
        (
            ["runworker", "nothere"],
            "CommandError: 'nothere' is not a task channel; this project's are "
            "tasks.default, tasks.emails, tasks.webhooks, tasks.maintenance.",
        ),
        (
            ["runworker", "-Q", "emails,nothere"],
            "CommandError: 'nothere' is not a task queue; this project's are default, emails, webhooks, maintenance.",
        ),
        (["runworker", "--queue", " , "], "CommandError: --queue ' , ' names no queue."),
        (
            ["runworker", "tasks.default", "-Q", "emails"],
            "CommandError: The channels name the queues default and --queue names emails: give one or the other.",
        ),
        (["runworker", "-c", "0"], "CommandError: --concurrency '0' is not a whole number of at least 1."),
        (
            ["runworker", "--concurrency", "many"],
            "CommandError: --concurrency 'many' is not a whole number of at least 1.",
        ),
        (["runworker", "--max-tasks", "-3"], "CommandError: --max-tasks '-3' is not a whole number of at least 1."),
        (["runworker", "--max-tasks", "2.5"], "CommandError: --max-tasks '2.5' is not a whole number of at least 1."),
    ],
)
def test_a_bad_argument_gets_one_line_and_a_non_zero_exit(arguments: list[str], error: str) -> None:
    result = manage(*arguments)
    assert result.returncode != 0
    assert result.stderr.strip() == error


def test_good_arguments_still_work() -> None:
    result = manage("tasks", "cancel", "0b1c2d3e-0000-4000-8000-000000000000")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "cancel: 0 task(s) changed\n"
    result = manage("tasks", "requeue_dead", "orders.tasks.clean_up")
    assert (result.returncode, result.stdout) == (0, "requeue_dead: 0 task(s) changed\n")
