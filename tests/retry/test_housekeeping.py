"""Housekeeping: old finished rows and heartbeats of processes gone for good go, the rest stays; the dispatcher
sweeps on its own schedule, and again at once when a sweep left old rows behind."""

import asyncio
import logging
from datetime import timedelta

import pytest
from django.tasks.base import TaskResultStatus as Status
from django.utils import timezone
from pytest_django import Settings

from retry import housekeeping
from retry.dispatcher import Dispatcher
from retry.models import Heartbeat, TaskRecord
from tests import tasks as fixture_tasks
from tests.retry.conftest import wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def heartbeat(name: str, seconds_ago: float) -> Heartbeat:
    seen = timezone.now() - timedelta(seconds=seconds_ago)
    return Heartbeat.objects.create(process_id=name, kind="worker", host="h", pid=1, started_at=seen, last_seen=seen)


def finished(count: int, *, days_ago: float, prefix: str = "old") -> list[str]:
    """``count`` successful tasks, finished ``days_ago`` days ago."""
    ids = [fixture_tasks.record.enqueue(f"{prefix}-{i}").id for i in range(count)]
    when = timezone.now() - timedelta(days=days_ago)
    TaskRecord.objects.filter(pk__in=ids).update(status=Status.SUCCESSFUL, finished_at=when)
    return ids


def remaining() -> set[str]:
    return {str(pk) for pk in TaskRecord.objects.values_list("pk", flat=True)}


def processes() -> set[str]:
    return set(Heartbeat.objects.values_list("process_id", flat=True))


def test_heartbeats_of_long_gone_workers_go(settings: Settings) -> None:
    settings.RETRY_WORKER_STALE_AFTER = 60.0
    heartbeat("gone", seconds_ago=601)
    heartbeat("quiet", seconds_ago=300)  # stale, but still shown on the dashboard for a while

    assert housekeeping.sweep(timezone.now()).stale_heartbeats == 1
    assert processes() == {"quiet"}


def test_old_finished_tasks_are_purged_in_batches(settings: Settings) -> None:
    settings.RETRY_DISPATCH_BATCH = 2
    settings.RETRY_RESULT_RETENTION = 3600.0
    finished(5, days_ago=1)
    [fresh] = finished(1, days_ago=0, prefix="fresh")

    swept = housekeeping.sweep(timezone.now())
    assert (swept.purged, swept.more_to_purge) == (5, False)
    assert remaining() == {fresh}


def test_a_backlog_of_old_rows_is_purged_over_several_sweeps(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.RETRY_DISPATCH_BATCH = 2
    monkeypatch.setattr(housekeeping, "MAX_BATCHES", 2)
    finished(5, days_ago=30)

    first = housekeeping.sweep(timezone.now())
    assert (first.purged, first.more_to_purge) == (4, True)
    second = housekeeping.sweep(timezone.now())
    assert (second.purged, second.more_to_purge) == (1, False)
    assert remaining() == set()


def test_the_dispatcher_removes_stale_heartbeats_and_reports_it(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.RETRY_WORKER_STALE_AFTER = 60.0
    heartbeat("gone", seconds_ago=3600)
    heartbeat("live", seconds_ago=1)
    dispatcher = Dispatcher()

    with caplog.at_level(logging.INFO, logger="retry.dispatcher"):
        report = dispatcher.tick()

    assert report["stale_heartbeats"] == 1
    assert processes() == {"live", dispatcher.id}
    [logged] = [r for r in caplog.records if r.getMessage() == "Dispatcher pass"]
    assert vars(logged)["stale_heartbeats"] == 1


def test_the_dispatcher_sweeps_every_purge_every_and_at_once_while_rows_are_left(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.RETRY_DISPATCH_BATCH = 2
    monkeypatch.setattr(housekeeping, "MAX_BATCHES", 1)
    finished(3, days_ago=30)
    dispatcher = Dispatcher()

    assert dispatcher.tick()["purged"] == 2
    assert dispatcher.tick()["purged"] == 1  # rows were left: the next pass sweeps again
    heartbeat("gone", seconds_ago=3600)
    assert dispatcher.tick()["stale_heartbeats"] == 0  # swept clean a moment ago: the next sweep is PURGE_EVERY away
    assert "gone" in processes()


@pytest.mark.timeout(30)
async def test_a_running_dispatcher_removes_stale_heartbeats(settings: Settings) -> None:
    settings.RETRY_DISPATCH_INTERVAL = 0.05
    await asyncio.to_thread(heartbeat, "gone", 3600)
    stop = asyncio.Event()
    running = asyncio.ensure_future(Dispatcher().run(stop))
    try:
        await wait_for(lambda: not Heartbeat.objects.filter(process_id="gone").exists(), what="the stale heartbeat")
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
