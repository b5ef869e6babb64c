"""How a worker claims: with free slots it takes its queues' backlog from the database, message or not, and runs a
near retry itself."""

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.tasks.base import TaskResultStatus as Status
from pytest_django import Settings

from harness.layers import flush_channel_layer
from retry.models import TaskAttempt, TaskRecord
from tests import tasks
from tests.conftest import running_worker
from tests.retry.conftest import all_finished, enqueued, runs, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def enqueue(key: str, task=tasks.record, **changes: object) -> str:  # type: ignore[no-untyped-def]
    return str(enqueued(key, task, **changes).pk)


async def test_tasks_whose_messages_were_lost_run_from_the_backlog_without_the_dispatcher(
    settings: Settings, layer: Any
) -> None:
    settings.RETRY_CONCURRENCY = 3
    lost = [await sync_to_async(enqueue)(f"lost-{number}") for number in range(10)]
    flush_channel_layer()  # every message is gone; the rows say they were sent, so no dispatcher would resend soon
    async with running_worker(["default"], dispatcher=False) as worker:
        await sync_to_async(enqueue)("wakes-the-worker")
        await wait_for(all_finished, what="the backlog to be run")
    for key in [f"lost-{number}" for number in range(10)] + ["wakes-the-worker"]:
        assert await sync_to_async(runs)(key) == 1
    workers = await sync_to_async(lambda: set(TaskAttempt.objects.filter(task_id__in=lost).values_list("worker_id")))()  # type: ignore[misc]  # Django takes a UUID's text; the plugin wants a UUID
    assert workers == {(worker.runner.id,)}


async def test_a_near_retry_runs_on_its_worker_without_a_message(layer: Any) -> None:
    async with running_worker(["emails"], dispatcher=False):
        # No dispatcher sends the second attempt's message: only a local retry can run it.
        task = tasks.fails_then_succeeds.using(queue_name="emails")
        task_id = await sync_to_async(lambda: task.enqueue("retried-here", failures=1).id)()
        await wait_for(all_finished, what="the retry to run")
    record = await sync_to_async(TaskRecord.objects.get)(pk=task_id)
    assert (record.status, record.attempts) == (Status.SUCCESSFUL, 2)
