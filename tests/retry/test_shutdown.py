"""Graceful shutdown inside one worker: running tasks finish within the grace period or go back uncharged."""

import asyncio

import pytest
from channels.routing import get_default_application
from django.tasks.base import TaskResultStatus as Status

from retry import conf, runner
from retry.models import Outcome, TaskAttempt, TaskRecord
from retry.transport import outbox
from retry.worker import RetryWorker
from tests import tasks
from tests.retry.conftest import ALL_QUEUES, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


async def stop_while_running(layer, task, *, seconds: float) -> TaskRecord:  # type: ignore[no-untyped-def]
    """Start a worker, enqueue ``task``, ask the worker to stop once the task runs, and return the task's row."""
    channels = [conf.get().CHANNEL_PREFIX + queue for queue in ALL_QUEUES]
    worker = RetryWorker(get_default_application(), channels, layer, handle_signals=False)
    served = asyncio.ensure_future(worker.arun())
    result = await task.aenqueue("shutdown", seconds=seconds)
    await wait_for(lambda: TaskRecord.objects.filter(status="RUNNING").exists(), what="the task to start")
    worker.request_stop()
    await asyncio.wait_for(served, 30)
    outbox.use_loop(None)
    runner.install(None)
    return await TaskRecord.objects.aget(pk=result.id)


@pytest.mark.parametrize("task", [tasks.sleeps, tasks.async_sleeps])
async def test_a_task_shorter_than_the_grace_period_finishes(layer, settings, task):
    settings.RETRY_SHUTDOWN_GRACE = 5
    record = await stop_while_running(layer, task, seconds=0.5)
    assert (record.status, record.attempts) == (Status.SUCCESSFUL, 1)


@pytest.mark.parametrize("task", [tasks.sleeps, tasks.async_sleeps])
async def test_a_task_longer_than_the_grace_period_goes_back_to_ready_uncharged(layer, settings, task):
    settings.RETRY_SHUTDOWN_GRACE = 0.2
    record = await stop_while_running(layer, task, seconds=3)
    assert (record.status, record.attempts, record.notified_at) == (Status.READY, 0, None)
    outcomes = [a.outcome async for a in TaskAttempt.objects.filter(task_id=record.pk)]
    assert outcomes == [Outcome.RELEASED]
    if task is tasks.sleeps:  # the thread cannot be stopped; when it ends, its result is discarded
        await asyncio.sleep(3)
        assert (await TaskRecord.objects.aget(pk=record.pk)).status == Status.READY
