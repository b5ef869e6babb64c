"""Django's task signals: sent after commit to every receiver, and not even built when nobody would hear them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.tasks import TaskResult
from django.tasks.base import TaskResultStatus as Status
from django.tasks.signals import task_finished, task_started

from retry import signals
from tests.retry.rows import task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The statuses of the TaskResults the signals built."""
    statuses: list[str] = []
    build = signals._result

    def counted(record: Any, status: Status) -> TaskResult[..., Any]:
        statuses.append(status)
        return build(record, status)

    monkeypatch.setattr(signals, "_result", counted)
    yield statuses


@pytest.fixture
def django_log_off() -> Iterator[None]:
    """The ``django.tasks`` logger at WARNING, as a deploy with quiet logs has it."""
    logger = logging.getLogger("django.tasks")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


@pytest.mark.usefixtures("django_log_off")
def test_a_change_nobody_hears_builds_no_result(built: list[str]) -> None:
    row = task(status=Status.RUNNING, attempts=1)
    signals.changed("started", row, None)
    signals.changed("succeeded", row, None)
    assert built == []


@pytest.mark.usefixtures("django_log_off")
def test_a_failure_is_heard_while_the_django_logger_writes_errors(built: list[str]) -> None:
    signals.changed("failed", task(status=Status.FAILED, attempts=1), None)
    assert built == [Status.FAILED]


@pytest.mark.usefixtures("django_log_off")
def test_a_receiver_of_its_own_hears_every_change_after_commit(built: list[str]) -> None:
    heard: list[tuple[str, str]] = []

    def receiver(sender: Any, task_result: TaskResult[..., Any], **kwargs: Any) -> None:
        heard.append((task_result.id, task_result.status))

    row = task(status=Status.RUNNING, attempts=1)
    task_started.connect(receiver)
    task_finished.connect(receiver)
    try:
        with transaction.atomic():
            signals.changed("started", row, None)
            signals.changed("succeeded", row, None)
            assert heard == []
    finally:
        task_started.disconnect(receiver)
        task_finished.disconnect(receiver)
    assert heard == [(str(row.pk), Status.RUNNING), (str(row.pk), Status.SUCCESSFUL)]


def test_django_log_lines_are_written_while_their_logger_is_on(caplog: pytest.LogCaptureFixture) -> None:
    row = task(status=Status.RUNNING, attempts=1)
    with caplog.at_level(logging.INFO, logger="django.tasks"):
        signals.changed("started", row, None)
    assert [r.getMessage() for r in caplog.records if r.name == "django.tasks"] == [
        f"Task id={row.pk} path={row.task_path} state=RUNNING"
    ]
