"""A worker process dies with SIGKILL: its task runs again after the lease, and a task that kills every worker ends."""

import time
from pathlib import Path
from uuid import UUID

import pytest
from django.db import transaction
from django.tasks.base import TaskResultStatus as Status

from retry.models import Outcome, TaskAttempt, TaskRecord
from tests import outside_tasks, tasks
from tests.effects.models import Effect, Run
from tests.faults.conftest import Faults, unfinished, wait_for
from tests.faults.counts import Counts, count

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def outcomes(task_id: UUID | str) -> list[str]:
    return list(TaskRecord.objects.get(pk=task_id).attempt_set.order_by("number").values_list("outcome", flat=True))


@pytest.mark.timeout(60)
def test_a_task_whose_worker_is_killed_mid_run_runs_again_after_its_lease_and_succeeds_once(faults: Faults) -> None:
    faults.dispatcher()
    first = faults.worker("worker-1")
    ids = {"killed": tasks.sleeps.enqueue(key="killed", seconds=3).id}
    wait_for(lambda: Run.objects.filter(key="killed").exists(), 30, "the first worker to start the task")
    first.kill()
    faults.worker("worker-2")

    # Lease (1 s) + a dispatcher pass + the retry delay + a worker start + the 3 s task: well under 15 s.
    wait_for(lambda: unfinished(ids.values()) == 0, 15, "the task to run again and finish")

    task = TaskRecord.objects.get(pk=ids["killed"])
    assert (task.status, task.attempts) == (Status.SUCCESSFUL, 2)
    assert outcomes(task.pk) == [Outcome.LOST, Outcome.SUCCEEDED]
    assert Effect.objects.filter(key="killed").count() == 1
    assert count(ids) == Counts(lost=0, duplicated=0, unexpected=0, recovered=1)


@pytest.mark.timeout(90)
def test_a_task_that_kills_its_worker_every_time_ends_failed_after_max_attempts_of_its_own(faults: Faults) -> None:
    faults.dispatcher()
    worker = faults.worker("worker", supervised=True)
    task_id = tasks.kills_its_worker.enqueue(key="poison").id

    wait_for(lambda: unfinished([task_id]) == 0, 45, "the task to be given up")
    time.sleep(2)  # a loop would show as more runs and more worker restarts from here on

    task = TaskRecord.objects.get(pk=task_id)
    # Two recoveries (a loss beside others may be anyone's), then alone: three losses of its own.
    assert (task.status, task.attempts, task.recoveries) == (Status.FAILED, 5, 2)
    assert task.error_class == "retry.exceptions.LeaseLost"
    assert outcomes(task_id) == [Outcome.LOST] * 5
    assert Run.objects.filter(key="poison").count() == 5
    assert worker.starts == 6  # the first start and one restart after each death


@pytest.mark.timeout(150)
def test_a_poison_pill_ends_failed_alone_and_each_task_beside_it_succeeds_once_with_its_policy_untouched(
    production: Faults, tmp_path: Path
) -> None:
    trace = str(tmp_path / "runs")
    production.dispatcher()
    worker = production.worker("worker", supervised=True)
    with transaction.atomic():  # the pill first: it is claimed together with the bystanders, again and again
        pill = outside_tasks.poison_pill.enqueue(path=trace, key="pill").id
        bystanders = [
            outside_tasks.sleep_then_record.enqueue(path=trace, key=f"bystander-{n}", seconds=0.3).id for n in range(40)
        ]

    wait_for(lambda: unfinished([pill, *bystanders]) == 0, 120, "the pill and its bystanders to finish")

    task = TaskRecord.objects.get(pk=pill)
    assert (task.status, task.error_class) == (Status.FAILED, "retry.exceptions.LeaseLost")
    finished = TaskRecord.objects.filter(pk__in=bystanders)
    assert {task.status for task in finished} == {Status.SUCCESSFUL}
    # Lost attempts beside the pill are recoveries, not failures: no bystander's policy was spent on them.
    assert {task.failures for task in finished} == {1}
    succeeded = TaskAttempt.objects.filter(task__in=bystanders, outcome=Outcome.SUCCEEDED)  # type: ignore[misc]  # Django takes a UUID's text; the plugin wants a UUID
    assert sorted(succeeded.values_list("task_id", flat=True)) == sorted(task.pk for task in finished)
    runs = outside_tasks.runs(trace)
    assert worker.starts == runs["pill"] + 1  # one restart per death of the pill, and no loop
