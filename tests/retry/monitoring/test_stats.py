"""Every dashboard figure against rows with known timestamps, the scaling advice, the query count as the table grows."""

import time
from datetime import datetime
from typing import cast

import pytest
from django.db import connection
from django.tasks.base import TaskResultStatus as Status
from django.test.utils import CaptureQueriesContext
from pytest_django import Settings

from retry.models import Outcome, TaskRecord
from retry.monitoring import figures, stats
from tests.retry.rows import NOW, attempt, heartbeat, task

pytestmark = [pytest.mark.services, pytest.mark.django_db]


def figures_of(queue: str, now: datetime = NOW) -> figures.QueueFigures:
    return next(q for q in stats.snapshot(now).queues if q.queue == queue)


def test_backlog_counts_and_the_oldest_ready_age(emails_backlog: None) -> None:
    emails = figures_of("emails")
    assert emails.ready == 3  # due now, retries included; the retry due in a minute is not
    assert emails.oldest_ready_age == pytest.approx(30, abs=0.01)
    assert (emails.running, emails.waiting_retry, emails.dead) == (2, 2, 3)


def test_queues_without_tasks_show_zeros(emails_backlog: None) -> None:
    webhooks = figures_of("webhooks")
    assert (webhooks.ready, webhooks.running, webhooks.dead, webhooks.advised_workers) == (0, 0, 0, 0)
    assert webhooks.oldest_ready_age is None
    assert [q.queue for q in stats.snapshot(NOW).queues] == ["default", "emails", "maintenance", "webhooks"]


def test_wait_percentiles_cover_first_starts_in_the_window_only(db: None) -> None:
    for wait in range(1, 21):  # waits of 1 .. 20 s, started a minute ago
        task(enqueued=60 + wait, started=60, finished=59, status=Status.SUCCESSFUL, attempts=1)
    task(enqueued=2200, started=1200, finished=1199, status=Status.SUCCESSFUL, attempts=1)  # 20 min ago: outside
    default = figures_of("default")
    assert default.wait_p50 == pytest.approx(10.5, abs=0.01)
    assert default.wait_p95 == pytest.approx(19.05, abs=0.01)


def test_rates_per_minute_over_the_window(db: None) -> None:
    for _ in range(30):
        task(status=Status.SUCCESSFUL, enqueued=120, started=100, finished=90, attempts=1)
    for _ in range(3):
        task(status=Status.FAILED, enqueued=120, started=100, finished=60, attempts=3)
    task(status=Status.SUCCESSFUL, enqueued=2000, started=1990, finished=1980, attempts=1)  # before the window
    default = figures_of("default")
    assert default.succeeded_per_minute == pytest.approx(30 / 15)
    assert default.failed_per_minute == pytest.approx(3 / 15)
    assert default.arrived_per_minute == pytest.approx(33 / 15)


def test_attempts_by_outcome_and_the_duration_histogram(db: None) -> None:
    record = task(status=Status.SUCCESSFUL, enqueued=100, started=90, finished=10, attempts=3)
    attempt(record, 1, started=90, seconds=0.02, outcome=Outcome.RETRIED, error_class="builtins.ValueError")
    attempt(record, 2, started=60, seconds=0.3, outcome=Outcome.RETRIED, error_class="builtins.ValueError")
    attempt(record, 3, started=20, seconds=2.0)
    attempt(record, 4, started=3000, seconds=1.0)  # finished before the window
    default = figures_of("default")
    assert default.attempts == {Outcome.RETRIED: 2, Outcome.SUCCEEDED: 1}
    buckets = dict(default.durations.buckets)
    assert (buckets[0.01], buckets[0.05], buckets[0.5], buckets[1.0], buckets[5.0]) == (0, 1, 2, 2, 3)
    assert default.durations.count == 3
    assert default.durations.sum == pytest.approx(2.32, abs=0.01)


def test_workers_are_listed_and_stale_ones_marked(db: None, settings: Settings) -> None:
    settings.RETRY_WORKER_STALE_AFTER = 60
    heartbeat("oven:101:a", seen=5, current_tasks=["f00d"])
    heartbeat("oven:102:b", seen=600, pid=102)
    heartbeat("oven:103:d", seen=1, pid=103, kind="dispatcher", queues=[])
    snapshot = stats.snapshot(NOW)
    stale = {w.process_id: w.stale for w in snapshot.workers}
    assert stale == {"oven:101:a": False, "oven:102:b": True, "oven:103:d": False}
    assert snapshot.live_workers == 1
    assert next(w for w in snapshot.workers if w.pid == 101).current_tasks == ["f00d"]


def test_recent_failures_come_newest_first_with_their_error(db: None) -> None:
    task(
        status=Status.FAILED, finished=300, error_class="builtins.KeyError", error_message="'order'", task_path="a.old"
    )
    task(
        status=Status.FAILED,
        finished=30,
        error_class="orders.webhooks.Refused",
        error_message="HTTP 500",
        task_path="a.new",
    )
    failures = stats.snapshot(NOW).failures
    assert [(f.task_path, f.error) for f in failures] == [
        ("a.new", "Refused: HTTP 500"),
        ("a.old", "KeyError: 'order'"),
    ]


def test_a_queue_over_its_threshold_is_in_alarm(emails_backlog: None, settings: Settings) -> None:
    settings.RETRY_BACKLOG_ALARM = {"emails": 20, "*": 100}
    task("default", enqueued=50)
    snapshot = {q.queue: q for q in stats.snapshot(NOW).queues}
    assert (snapshot["emails"].alarm, snapshot["emails"].threshold) == (True, 20)
    assert (snapshot["default"].alarm, snapshot["default"].threshold) == (False, 100)


@pytest.mark.parametrize(
    ("arrival_rate", "mean_duration", "ready", "drain_within", "slots", "workers"),
    [
        (0.0, None, 0, 60, 8, 0),  # nothing to do
        (0.0, None, 5, 60, 8, 1),  # a backlog but no duration yet: at least one
        (2.0, 0.5, 0, 60, 8, 1),  # one busy slot
        (100.0, 1.0, 0, 60, 8, 13),  # 100 busy slots
        (100.0, 1.0, 600, 60, 8, 14),  # plus 10 slots to drain 600 tasks within a minute
        (0.0, 2.0, 120, 30, 4, 2),  # only the backlog: 8 slots
    ],
)
def test_scaling_advice_follows_littles_law(
    arrival_rate: float, mean_duration: float | None, ready: int, drain_within: int, slots: int, workers: int
) -> None:
    advised = stats.advise(
        arrival_rate=arrival_rate, mean_duration=mean_duration, ready=ready, drain_within=drain_within, slots=slots
    )
    assert advised == workers


def test_scaling_advice_from_the_window(db: None, settings: Settings) -> None:
    settings.RETRY_BACKLOG_ALARM = {"*": 60}
    heartbeat("oven:101:a", seen=1, concurrency=2, queues=["default"])
    for number in range(60):  # with the 30 below, 90 arrivals in 15 minutes, 10 s each: 1 busy slot
        record = task(status=Status.SUCCESSFUL, enqueued=800 - number, started=700 - number, finished=600, attempts=1)
        attempt(record, 1, started=700 - number, seconds=10.0)
    for _ in range(30):  # 30 ready tasks of 10 s within 60 s: 5 busy slots
        task(enqueued=10)
    # (1 + 5) slots / 2 per worker → 3 workers
    assert figures_of("default").advised_workers == 3


def bulk_tasks(count: int) -> None:
    statuses = [Status.SUCCESSFUL] * 6 + [Status.FAILED, Status.READY, Status.READY, Status.RUNNING]
    queues = ["default", "emails", "webhooks", "maintenance"]
    rows = [
        task(
            queues[i % 4],
            statuses[i % 10],
            enqueued=i % 1800 + 10,
            started=i % 1800 + 5,
            finished=i % 1800 if statuses[i % 10] in (Status.SUCCESSFUL, Status.FAILED) else None,
            attempts=1,
            save=False,
        )
        for i in range(count)
    ]
    TaskRecord.objects.bulk_create(rows, batch_size=2000)


def grow_to(count: int) -> None:
    """Copy the task rows in SQL, with fresh ids, until there are ``count``: quicker than building them in Python."""
    new_id = "gen_random_uuid()" if connection.vendor == "postgresql" else "lower(hex(randomblob(16)))"
    columns = ", ".join(cast(str, f.column) for f in TaskRecord._meta.concrete_fields if f.column != "id")
    table = TaskRecord._meta.db_table
    with connection.cursor() as cursor:
        while (have := TaskRecord.objects.count()) < count:
            cursor.execute(
                f"INSERT INTO {table} (id, {columns}) SELECT {new_id}, {columns} FROM {table} LIMIT %s",
                [count - have],
            )


def queries_of_snapshot() -> int:
    with CaptureQueriesContext(connection) as captured:
        stats.snapshot(NOW)
    return len(captured.captured_queries)


@pytest.mark.timeout(120)
def test_the_dashboard_makes_the_same_few_queries_from_1000_to_100000_tasks(db: None) -> None:
    started = time.monotonic()
    bulk_tasks(1000)
    small = queries_of_snapshot()
    grow_to(100_000)
    assert TaskRecord.objects.count() == 100_000
    large = queries_of_snapshot()
    assert small == large <= 8
    assert time.monotonic() - started < 60
