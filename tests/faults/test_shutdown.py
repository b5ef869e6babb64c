"""SIGTERM (every deploy sends one) during a long task: it finishes within the grace period, or is handed back."""

import signal
from uuid import UUID

import pytest
from django.tasks.base import TaskResultStatus as Status

from retry.models import Outcome, TaskRecord
from tests import tasks
from tests.effects.models import Run
from tests.faults.conftest import Faults, unfinished, wait_for
from tests.faults.counts import Counts, count

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def started(key: str) -> bool:
    return Run.objects.filter(key=key).exists()


def outcomes(task_id: UUID | str) -> list[str]:
    return list(TaskRecord.objects.get(pk=task_id).attempt_set.order_by("id").values_list("outcome", flat=True))


@pytest.mark.timeout(60)
def test_a_task_shorter_than_the_grace_period_finishes_after_sigterm(faults: Faults) -> None:
    worker = faults.worker(RETRY_SHUTDOWN_GRACE=10)
    ids = {"graceful": tasks.sleeps.enqueue(key="graceful", seconds=2).id}
    wait_for(lambda: started("graceful"), 30, "the worker to start the task")

    worker.signal(signal.SIGTERM)

    assert worker.wait(15) == 0
    task = TaskRecord.objects.get(pk=ids["graceful"])
    assert (task.status, task.attempts) == (Status.SUCCESSFUL, 1)
    assert outcomes(task.pk) == [Outcome.SUCCEEDED]
    assert count(ids) == Counts(lost=0, duplicated=0, unexpected=0, recovered=0)


@pytest.mark.timeout(60)
def test_a_task_longer_than_the_grace_period_is_handed_back_uncharged_and_another_worker_finishes_it(
    faults: Faults,
) -> None:
    faults.dispatcher()
    first = faults.worker("worker-1", RETRY_SHUTDOWN_GRACE=0.5)
    ids = {"handed-back": tasks.sleeps.enqueue(key="handed-back", seconds=4).id}
    wait_for(lambda: started("handed-back"), 30, "the first worker to start the task")

    first.signal(signal.SIGTERM)

    wait_for(lambda: TaskRecord.objects.get(pk=ids["handed-back"]).status == Status.READY, 5, "the hand-back")
    assert TaskRecord.objects.get(pk=ids["handed-back"]).attempts == 0
    faults.worker("worker-2")
    wait_for(lambda: unfinished(ids.values()) == 0, 30, "another worker to finish the task")
    task = TaskRecord.objects.get(pk=ids["handed-back"])
    assert (task.status, task.attempts) == (Status.SUCCESSFUL, 1)
    assert outcomes(task.pk) == [Outcome.RELEASED, Outcome.SUCCEEDED]
    assert count(ids) == Counts(lost=0, duplicated=0, unexpected=0, recovered=1)
    # The first worker's thread cannot be interrupted: the process exits once the task function returns.
    assert first.wait(10) == 0
