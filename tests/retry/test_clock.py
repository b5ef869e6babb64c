"""Due times, leases and heartbeat ages follow the database's clock, whatever the clock of the process says."""

import contextlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connections
from django.utils import timezone

from retry import clock, conf, heartbeats, transitions
from retry.admin import HeartbeatAdmin
from retry.dispatcher import Dispatcher
from retry.models import Heartbeat, TaskRecord
from retry.monitoring import stats
from retry.outbox import outbox
from retry.policy import RetryDecision
from tests import tasks
from tests.conftest import uses_services

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not uses_services(), reason="SQLite runs in this process: its clock is the process's"),
]
HOUR = timedelta(hours=1)


@contextlib.contextmanager
def process_clock_off_by(offset: timedelta) -> Iterator[None]:
    """This process's wall clock reads ``offset`` away from the database server's."""
    real = timezone.now
    with mock.patch("django.utils.timezone.now", side_effect=lambda: real() + offset):
        yield


def near_db_now(moment: datetime, plus: float = 0.0) -> bool:
    return abs((moment - clock.db_now()).total_seconds() - plus) < 5


@pytest.mark.parametrize("offset", [HOUR, -HOUR], ids=["ahead", "behind"])
def test_a_producer_with_a_wrong_clock_enqueues_tasks_due_by_the_database_clock(offset: timedelta) -> None:
    with process_clock_off_by(offset):
        result = tasks.record.enqueue("skewed")
        outbox.flush()

    record = TaskRecord.objects.get(pk=result.id)
    assert near_db_now(record.enqueued_at) and near_db_now(record.run_after)
    TaskRecord.objects.filter(pk=record.pk).update(notified_at=None)
    assert Dispatcher().tick()["sent"] == 1  # due now, not in an hour


@pytest.mark.parametrize("offset", [HOUR, -HOUR], ids=["ahead", "behind"])
def test_a_worker_with_a_wrong_clock_takes_leases_and_retries_by_the_database_clock(offset: timedelta) -> None:
    result = tasks.record.enqueue("lease")
    outbox.flush()
    with process_clock_off_by(offset):
        record = transitions.claim(str(result.id), "skewed-worker")
        assert record is not None
        claimed = TaskRecord.objects.get(pk=record.pk)
        assert transitions.fail(record, ValueError("again"), RetryDecision(30.0, "backoff"), duration=0.1)

    assert claimed.lease_until is not None
    assert near_db_now(claimed.lease_until, plus=conf.get().LEASE)
    assert near_db_now(TaskRecord.objects.get(pk=record.pk).run_after, plus=30)


@pytest.mark.parametrize("offset", [HOUR, -HOUR], ids=["ahead", "behind"])
def test_heartbeats_and_their_ages_follow_the_database_clock(offset: timedelta) -> None:
    heartbeats.beat("worker-on-time", heartbeats.WORKER, ["default"], 8, [])
    with process_clock_off_by(offset):
        heartbeats.beat("dispatcher-off", heartbeats.DISPATCHER, [], 0, [])
        status = heartbeats.dispatcher_status()
        workers = stats.workers_at(clock.db_now())
        alive = HeartbeatAdmin.alive(None, Heartbeat.objects.get(process_id="worker-on-time"))  # type: ignore[arg-type]

    assert status is not None and not status["stale"] and abs(status["age_seconds"]) < 5
    assert [worker.stale for worker in workers] == [False, False]
    assert alive
    written = Heartbeat.objects.get(process_id="dispatcher-off")
    assert near_db_now(written.last_seen)
    assert timedelta(0) <= written.last_seen - written.started_at < timedelta(minutes=30)  # this test process's age


def test_a_slow_reading_of_the_database_clock_leaves_a_task_enqueued_then_due_at_once() -> None:
    # The midpoint of a round trip whose request took 10 s and whose answer came at once put this process's clock
    # 5 s ahead of the database's; each task enqueued for the next minute was not due when a worker claimed it.
    real = timezone.now
    answered: list[str] = []

    def reading() -> datetime:  # before the query reached the server, this clock read 10 s short of its arrival
        return real() if answered else real() - timedelta(seconds=10)

    def query(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        answered.append(sql)
        return result

    clock._offsets.clear()
    try:
        with (
            mock.patch("django.utils.timezone.now", side_effect=reading),
            connections[conf.database()].execute_wrapper(query),
        ):
            clock.now()
        result = tasks.record.enqueue("slow reading")
        assert transitions.claim(str(result.id), "worker") is not None
    finally:
        clock._offsets.clear()
