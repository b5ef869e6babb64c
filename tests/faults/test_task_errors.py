"""A task raises what would end a process (SystemExit, exit(), KeyboardInterrupt): it fails alone."""

import pytest
from django.tasks.base import TaskResultStatus as Status

from retry.models import Outcome, TaskRecord
from tests import tasks
from tests.effects.models import Run
from tests.faults.conftest import unfinished, wait_for
from tests.faults.counts import Counts, count

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["SystemExit", "exit", "KeyboardInterrupt"])
def test_a_task_that_raises_what_ends_a_process_fails_alone_and_its_worker_runs_on(faults, how):
    faults.dispatcher()
    worker = faults.worker()
    bystanders = {"bystander": tasks.sleeps.enqueue(key="bystander", seconds=2).id}
    wait_for(lambda: Run.objects.filter(key="bystander").exists(), 30, "the worker to start the bystander")
    ender = tasks.ends_its_process.enqueue(key="ender", how=how).id

    wait_for(lambda: unfinished([ender, *bystanders.values()]) == 0, 20, "both tasks to finish")

    task = TaskRecord.objects.get(pk=ender)
    assert (task.status, task.attempts) == (Status.FAILED, 2)
    assert task.error_class == ("builtins.KeyboardInterrupt" if how == "KeyboardInterrupt" else "builtins.SystemExit")
    assert list(task.attempt_set.values_list("outcome", flat=True)) == [Outcome.RETRIED, Outcome.FAILED]
    # The one not SUCCESSFUL is the task that raised; the bystander ran once, untouched.
    assert count({**bystanders, "ender": ender}) == Counts(lost=1, duplicated=0, unexpected=0, recovered=0)
    assert (worker.alive(), worker.starts) == (True, 1)
