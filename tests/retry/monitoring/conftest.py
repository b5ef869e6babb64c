"""Rows the monitoring tests read figures from."""

import pytest
from django.tasks.base import TaskResultStatus as Status

from tests.retry.rows import task


@pytest.fixture
def emails_backlog(db: None) -> None:
    """The emails queue: three ready (one a retry come due), a retry due later, two running, three dead, one done."""
    task("emails", enqueued=30)
    task("emails", enqueued=10)
    task("emails", enqueued=300, due=5, attempts=1)  # a retry that has come due
    task("emails", enqueued=300, due=-60, attempts=2)  # a retry an hour... a minute from now
    task("emails", status=Status.RUNNING, enqueued=40, started=20, attempts=1)
    task("emails", status=Status.RUNNING, enqueued=40, started=20, attempts=1)
    for _ in range(3):
        task("emails", status=Status.FAILED, enqueued=9000, started=8000, finished=7200, attempts=3)
    task("emails", status=Status.SUCCESSFUL, enqueued=9000, started=8000, finished=7200, attempts=1)
