"""Cancelling running tasks across processes: the Procfile's worker with `project.settings`, PostgreSQL and Redis."""

import time
from pathlib import Path

import pytest

from retry.models import Outcome, TaskAttempt, TaskRecord
from retry.monitoring import operations
from tests import outside_tasks
from tests.faults.conftest import Faults, wait_for

pytestmark = [pytest.mark.services, pytest.mark.timeout(120)]
PREFIX = "cancelled by an operator while it ran; "


def test_an_operator_in_another_process_cancels_the_tasks_a_worker_runs(production: Faults, tmp_path: Path) -> None:
    trace = str(tmp_path / "runs")
    production.dispatcher()
    production.worker()
    ids = {
        "async": outside_tasks.async_spans.enqueue(trace, "async", 60).id,
        "flag": outside_tasks.stops_when_cancelled.enqueue(trace, "flag", 60).id,
        "stubborn": outside_tasks.spans.enqueue(trace, "stubborn", 3).id,  # never looks at its flag
    }
    assert production.flush_outbox()
    wait_for(lambda: TaskRecord.objects.filter(pk__in=ids.values(), status="RUNNING").count() == 3, 30, "the starts")

    assert operations.cancel(list(ids.values()), "alice") == 3
    wait_for(lambda: TaskRecord.objects.filter(pk__in=ids.values(), status="FAILED").count() == 3, 30, "the cancels")
    time.sleep(1)  # several dispatcher passes and backlog claims later, nothing ran again

    records = {key: TaskRecord.objects.get(pk=task_id) for key, task_id in ids.items()}
    assert {key: record.error_message.removeprefix(PREFIX) for key, record in records.items()} == {
        "async": "it was stopped at once",
        "flag": "it stopped at its cancel flag",
        "stubborn": "it ran to its end without looking at its cancel flag; its outcome is discarded",
    }
    assert {record.status for record in records.values()} == {"FAILED"}
    outcomes = TaskAttempt.objects.filter(task_id__in=ids.values()).values_list("outcome", flat=True)  # type: ignore[misc]
    assert set(outcomes) == {Outcome.CANCELLED}
    ran = outside_tasks.runs(trace)
    assert ran == {"async-start": 1, "flag-start": 1, "flag-stopped": 1, "stubborn-start": 1, "stubborn-end": 1}
