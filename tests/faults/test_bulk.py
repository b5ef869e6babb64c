"""A bulk enqueue drained by the Procfile's worker and dispatcher (`project.settings`, PostgreSQL and Redis): every
task runs once, though only the first ones got a message. 1,000 tasks, ten times WAKE_UP, keep the test short
(tests/retry/test_bulk.py writes 5,000)."""

from pathlib import Path

import pytest

from retry import bulk
from retry.models import TaskRecord
from tests import outside_tasks
from tests.faults.conftest import Faults, unfinished, wait_for

pytestmark = [pytest.mark.services, pytest.mark.timeout(240)]
TASKS = 1000


def test_a_worker_drains_a_bulk_enqueue_running_each_task_once(production: Faults, tmp_path: Path) -> None:
    trace = str(tmp_path / "runs")
    production.dispatcher()
    production.worker()
    results = bulk.enqueue_many(outside_tasks.record, [{"path": trace, "key": f"cake-{n}"} for n in range(TASKS)])
    assert production.flush_outbox()
    ids = [result.id for result in results]

    wait_for(lambda: unfinished(ids) == 0, 180, "every task to finish")
    assert TaskRecord.objects.filter(pk__in=ids, status="SUCCESSFUL").count() == TASKS
    assert outside_tasks.runs(trace) == {f"cake-{n}": 1 for n in range(TASKS)}
