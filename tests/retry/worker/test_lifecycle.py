"""Graceful shutdown inside one worker: running tasks finish within the grace period or go back uncharged."""

import asyncio
import signal
import time
import uuid

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.routing import get_default_application
from django.db import connections
from django.tasks.base import TaskResultStatus as Status
from django.test import override_settings

from retry import conf
from retry.models import Outcome, TaskAttempt, TaskRecord
from retry.outbox import outbox
from retry.worker.process import RetryWorker, runner
from tests import processes, tasks
from tests.conftest import SHARED_REDIS
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


@pytest.fixture
def redis_events(tmp_path):  # type: ignore[no-untyped-def]
    """A Redis channel layer with a prefix of its own, a channel in the events group, and the env of a worker."""
    prefix = f"shutdown-{uuid.uuid4().hex[:10]}"
    config = {"hosts": [SHARED_REDIS], "prefix": prefix, "expiry": 60}
    with override_settings(
        CHANNEL_LAYERS={"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": config}}
    ):
        layer = get_channel_layer()
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(conf.get().EVENTS_GROUP, channel)
        env = processes.test_settings_env(
            connections["default"].settings_dict, SHARED_REDIS, prefix, RETRY_SHUTDOWN_GRACE="0.2"
        )
        yield layer, channel, env, tmp_path
        outbox.flush(timeout=5)
    client = redis.Redis.from_url(SHARED_REDIS)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def changes_of(layer, channel: str, task_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    async def drain() -> list[str]:
        found = []
        while True:
            try:
                message = await asyncio.wait_for(layer.receive(channel), 0.5)
            except TimeoutError:
                return found
            found += [event["change"] for event in message["events"] if event["task_id"] == task_id]

    return async_to_sync(drain)()


@pytest.mark.timeout(60)
def test_a_stopping_worker_process_sends_the_events_of_its_stop_before_it_exits(redis_events):
    layer, channel, env, log_dir = redis_events
    worker = processes.Process("worker", processes.manage("runworker", "tasks.default"), env, log_dir).start()
    try:
        task_id = tasks.sleeps.enqueue(key="stop-events", seconds=2).id
        assert outbox.flush(timeout=5)
        deadline = time.monotonic() + 30
        while not TaskRecord.objects.filter(pk=task_id, status="RUNNING").exists():
            assert time.monotonic() < deadline, worker.log()
            time.sleep(0.05)

        worker.signal(signal.SIGTERM)

        assert worker.wait(15) == 0, worker.log()
    finally:
        worker.kill()
    assert TaskRecord.objects.get(pk=task_id).status == Status.READY  # handed back at the stop
    assert changes_of(layer, channel, task_id) == ["enqueued", "started", "released"]
