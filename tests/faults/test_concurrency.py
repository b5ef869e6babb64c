"""Several workers and dispatchers at once, over 1,000 tasks: every task runs, and its effect happens once."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from retry.models import TaskRecord
from tests import tasks
from tests.faults.conftest import Faults, enqueue_many, unfinished, wait_for
from tests.faults.counts import Counts, count

pytestmark = pytest.mark.django_db(transaction=True)
NOTHING_WRONG = Counts(lost=0, duplicated=0, unexpected=0, recovered=0)
# No process dies in these tests: a lease of 10 s, so that claims of live workers waiting on a busy database
# (16 writers on 2 cores) do not expire.
BUSY: dict[str, Any] = {"LOG_LEVEL": "warning", "RETRY_LEASE": 10}


def keys(prefix: str, number: int) -> list[str]:
    return [f"{prefix}-{index}" for index in range(number)]


def workers_used(task_ids: dict[str, str]) -> int:
    return TaskRecord.objects.filter(pk__in=task_ids.values()).values("worker_id").distinct().count()


@pytest.mark.timeout(150)
def test_two_workers_on_one_channel_run_each_of_1000_tasks_once(faults: Faults) -> None:
    # channels-redis hands the same message to both workers now and then; the claim makes that harmless.
    # Not marked `services`: on PostgreSQL the next test puts three workers on one channel.
    faults.worker("worker-1", **BUSY)
    faults.worker("worker-2", **BUSY)
    faults.dispatcher(**BUSY)

    ids = enqueue_many(tasks.record, keys("twice", 1000))

    wait_for(lambda: unfinished(ids.values()) == 0, 120, "every task to finish")
    assert count(ids) == NOTHING_WRONG
    assert workers_used(ids) == 2


@pytest.mark.timeout(150)
@pytest.mark.services
@pytest.mark.skipif(connection.vendor != "postgresql", reason="several dispatchers need PostgreSQL; SQLite runs one")
def test_two_dispatchers_and_three_workers_run_each_of_1000_tasks_once(faults: Faults) -> None:
    for number in (1, 2):
        faults.dispatcher(f"dispatcher-{number}", **BUSY)
    for number in (1, 2, 3):
        faults.worker(f"worker-{number}", **BUSY)

    # Half are sent at once by the enqueue; the other half come due later and only the dispatchers send them.
    ids = enqueue_many(tasks.record, keys("now", 500))
    later = tasks.record.using(run_after=timezone.now() + timedelta(seconds=1))
    ids |= enqueue_many(later, keys("later", 500))

    wait_for(lambda: unfinished(ids.values()) == 0, 120, "every task to finish")
    assert count(ids) == NOTHING_WRONG
    assert workers_used(ids) == 3
