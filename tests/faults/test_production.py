"""The Procfile's worker and dispatcher with `project.settings` and environment variables run tasks to the end."""

from pathlib import Path

import pytest

from retry.models import TaskRecord
from tests import outside_tasks
from tests.faults.conftest import Faults, enqueue_many, unfinished, wait_for

pytestmark = pytest.mark.services


def test_tasks_run_once_each_under_the_production_settings(production: Faults, tmp_path: Path) -> None:
    trace = str(tmp_path / "runs")
    production.dispatcher()
    production.worker()
    ids = enqueue_many(outside_tasks.record, [f"cake-{n}" for n in range(20)], path=trace)
    assert production.flush_outbox()
    wait_for(lambda: unfinished(ids.values()) == 0, 30, "every task to finish")
    assert set(TaskRecord.objects.filter(pk__in=ids.values()).values_list("status", flat=True)) == {"SUCCESSFUL"}
    assert outside_tasks.runs(trace) == {key: 1 for key in ids}
    assert {process.env["DJANGO_SETTINGS_MODULE"] for process in production.processes} == {"project.settings"}
