"""Graceful shutdown inside one worker: running tasks finish within the grace period or go back uncharged."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connections
from django.tasks import Task
from django.tasks.base import TaskResultStatus as Status
from pytest_django import Settings

from retry import conf
from retry.models import Outcome, TaskAttempt, TaskRecord
from retry.outbox import outbox
from retry.worker import outcomes
from tests import processes, tasks
from tests.conftest import SHARED_REDIS, redis_channel_layer, running_worker
from tests.retry.conftest import wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


async def stop_while_running(task: Task[..., Any], *, seconds: float) -> TaskRecord:
    """Start a worker, enqueue ``task``, ask the worker to stop once the task runs, and return the task's row."""
    async with running_worker(conf.queues(), dispatcher=False):
        result = await task.aenqueue("shutdown", seconds=seconds)
        await wait_for(lambda: TaskRecord.objects.filter(status="RUNNING").exists(), what="the task to start")
    return await TaskRecord.objects.aget(pk=result.id)


@pytest.mark.parametrize("task", [tasks.sleeps, tasks.async_sleeps])
async def test_a_task_shorter_than_the_grace_period_finishes(
    layer: Any, settings: Settings, task: Task[..., Any]
) -> None:
    settings.RETRY_SHUTDOWN_GRACE = 5
    record = await stop_while_running(task, seconds=0.5)
    assert (record.status, record.attempts) == (Status.SUCCESSFUL, 1)


@pytest.mark.parametrize("task", [tasks.sleeps, tasks.async_sleeps])
async def test_a_task_longer_than_the_grace_period_goes_back_to_ready_uncharged(
    layer: Any, settings: Settings, task: Task[..., Any]
) -> None:
    settings.RETRY_SHUTDOWN_GRACE = 0.2
    record = await stop_while_running(task, seconds=3)
    assert (record.status, record.attempts, record.notified_at) == (Status.READY, 0, None)
    outcomes = [a.outcome async for a in TaskAttempt.objects.filter(task_id=record.pk)]
    assert outcomes == [Outcome.RELEASED]
    if task is tasks.sleeps:  # the thread cannot be stopped; when it ends, its result is discarded
        await asyncio.sleep(3)
        assert (await TaskRecord.objects.aget(pk=record.pk)).status == Status.READY


@pytest.fixture
def redis_events(tmp_path: Path) -> Iterator[tuple[Any, str, dict[str, str], Path]]:
    """A Redis channel layer with a prefix of its own, a channel in the events group, and the env of a worker."""
    with redis_channel_layer("shutdown") as layer:
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(conf.get().EVENTS_GROUP, channel)
        env = processes.test_settings_env(
            connections["default"].settings_dict, SHARED_REDIS, layer.prefix, RETRY_SHUTDOWN_GRACE="0.2"
        )
        yield layer, channel, env, tmp_path


def changes_of(layer: Any, channel: str, task_id: str) -> list[str]:
    async def drain() -> list[str]:
        found: list[str] = []
        while True:
            try:
                message = await asyncio.wait_for(layer.receive(channel), 0.5)
            except TimeoutError:
                return found
            found += [event["change"] for event in message["events"] if event["task_id"] == task_id]

    return async_to_sync(drain)()


@pytest.mark.timeout(60)
def test_a_stopping_worker_process_sends_the_events_of_its_stop_before_it_exits(
    redis_events: tuple[Any, str, dict[str, str], Path],
) -> None:
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


async def test_a_task_that_returned_before_the_grace_period_ended_is_written_successful_not_handed_back(
    layer: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The quick task's success waits for its sibling's (outcomes.SIBLING_WAIT, long here) when the grace period
    # ends: its function has returned, so its outcome is written; handing it back would run it a second time.
    settings.RETRY_SHUTDOWN_GRACE = 0.3
    settings.RETRY_CONCURRENCY = 2
    monkeypatch.setattr(outcomes, "SIBLING_WAIT", 2.0)
    # Both wait before the worker starts, so one claim takes them together however loaded the machine is.
    quick = await tasks.sleeps.aenqueue("quick", seconds=0.0)
    slow = await tasks.sleeps.aenqueue("slow", seconds=3.0)
    async with running_worker(conf.queues(), dispatcher=False):
        await wait_for(lambda: TaskRecord.objects.filter(status="RUNNING").count() == 2, what="both tasks to start")
    quick_row, slow_row = [await TaskRecord.objects.aget(pk=result.id) for result in (quick, slow)]
    assert (quick_row.status, quick_row.attempts) == (Status.SUCCESSFUL, 1)
    assert [a.outcome async for a in TaskAttempt.objects.filter(task_id=quick_row.pk)] == [Outcome.SUCCEEDED]
    assert (slow_row.status, slow_row.attempts) == (Status.READY, 0)
