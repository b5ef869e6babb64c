"""A plain (sync) task runs past its time limit: its thread runs on, but its slot is freed and it is retried."""

from pathlib import Path

import pytest
from django.tasks.base import TaskResultStatus as Status

from retry.models import Outcome, TaskRecord
from tests import outside_tasks
from tests.faults.conftest import Faults, enqueue_many, unfinished, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.mark.timeout(90)
def test_a_sync_task_past_its_time_limit_frees_its_slot_and_is_retried_once_its_lease_ends(
    production: Faults, tmp_path: Path
) -> None:
    trace = str(tmp_path / "runs")
    production.dispatcher()
    production.worker(RETRY_CONCURRENCY=1)
    slow = outside_tasks.overruns_once.enqueue(path=trace, key="slow", seconds=8).id
    wait_for(lambda: outside_tasks.runs(trace)["slow"] == 1, 30, "the slow task to start")
    quick = enqueue_many(outside_tasks.record, [f"quick-{number}" for number in range(3)], path=trace)

    # The only slot is taken by a thread that sleeps 8 s, yet the quick tasks and the retry run long before that.
    wait_for(lambda: unfinished([slow, *quick.values()]) == 0, 6, "the quick tasks and the retry to finish")
    assert outside_tasks.runs(trace)["slow-late"] == 0
    task = TaskRecord.objects.get(pk=slow)
    first, second = task.attempt_set.order_by("number")
    assert (first.outcome, first.error_class) == (Outcome.RETRIED, "builtins.TimeoutError")
    assert "time limit" in first.error_message
    assert (second.started_at - first.finished_at).total_seconds() >= 1  # the retry waits for the lease (1 s)
    assert (task.status, task.return_value) == (Status.SUCCESSFUL, 2)

    wait_for(lambda: outside_tasks.runs(trace)["slow-late"] == 1, 15, "the first thread to end at last")
    task.refresh_from_db()
    assert (task.status, task.attempts, task.return_value) == (Status.SUCCESSFUL, 2, 2)  # its late outcome: discarded
