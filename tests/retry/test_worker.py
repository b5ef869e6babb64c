"""Tasks run by a real worker over the channel layer: in-memory and SQLite, then Redis and PostgreSQL."""

import pytest
from asgiref.sync import sync_to_async
from django.tasks.base import TaskResultStatus as Status

from retry.models import Outcome, TaskAttempt, TaskRecord
from tests import tasks
from tests.retry.conftest import all_finished, effects, runs, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def row(result) -> TaskRecord:  # type: ignore[no-untyped-def]
    return TaskRecord.objects.get(pk=result.id)


async def test_a_task_runs_and_succeeds(worker):
    result = await tasks.record.aenqueue("plain")
    await wait_for(all_finished, what="the task to finish")
    await result.arefresh()
    assert result.status == Status.SUCCESSFUL
    assert result.return_value == "plain"
    assert await sync_to_async(effects)("plain") == 1
