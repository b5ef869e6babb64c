"""A task raises what would end a process (SystemExit, exit(), KeyboardInterrupt): it fails alone."""

from pathlib import Path

import pytest
from django.tasks.base import TaskResultStatus as Status

from retry.models import Outcome, TaskRecord
from tests import outside_tasks
from tests.faults.conftest import Faults, unfinished, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["SystemExit", "exit", "KeyboardInterrupt"])
def test_a_task_that_raises_what_ends_a_process_fails_alone_and_its_worker_runs_on(
    production: Faults, tmp_path: Path, how: str
) -> None:
    trace = str(tmp_path / "runs")
    production.dispatcher()
    worker = production.worker()
    bystander = outside_tasks.sleep_then_record.enqueue(path=trace, key="bystander", seconds=2).id
    wait_for(lambda: TaskRecord.objects.filter(pk=bystander, status="RUNNING").exists(), 30, "the bystander to start")
    ender = outside_tasks.ends_its_process.enqueue(path=trace, key="ender", how=how).id

    wait_for(lambda: unfinished([ender, bystander]) == 0, 20, "both tasks to finish")

    task = TaskRecord.objects.get(pk=ender)
    assert (task.status, task.attempts) == (Status.FAILED, 2)
    assert task.error_class == ("builtins.KeyboardInterrupt" if how == "KeyboardInterrupt" else "builtins.SystemExit")
    assert list(task.attempt_set.values_list("outcome", flat=True)) == [Outcome.RETRIED, Outcome.FAILED]
    beside = TaskRecord.objects.get(pk=bystander)
    assert (beside.status, beside.attempts) == (Status.SUCCESSFUL, 1)
    assert outside_tasks.runs(trace) == {"bystander": 1, "ender": 2}
    assert (worker.alive(), worker.starts) == (True, 1)


@pytest.mark.timeout(60)
def test_a_task_whose_module_exits_on_import_fails_alone_and_its_worker_runs_on(
    production: Faults, tmp_path: Path
) -> None:
    trace = str(tmp_path / "runs")
    broken = outside_tasks.record.enqueue(path=trace, key="broken")
    TaskRecord.objects.filter(pk=broken.id).update(task_path="tests.exits_on_import.record")
    fine = outside_tasks.record.enqueue(path=trace, key="fine").id
    assert production.flush_outbox()
    worker = production.worker()

    wait_for(lambda: unfinished([broken.id, fine]) == 0, 30, "both tasks to finish")

    task = TaskRecord.objects.get(pk=broken.id)
    assert (task.status, task.error_class) == (Status.FAILED, "retry.exceptions.TaskNotRegistered")
    assert "tests.exits_on_import.record cannot be imported: SystemExit(7)" in task.error_message
    assert TaskRecord.objects.get(pk=fine).status == Status.SUCCESSFUL
    assert outside_tasks.runs(trace) == {"fine": 1}
    assert (worker.alive(), worker.starts) == (True, 1)
