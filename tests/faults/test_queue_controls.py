"""Queue controls with the Procfile's processes (`project.settings` and environment variables): a concurrency
limit across three workers, a pause and a resume, and a rate limit held for a minute."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import close_old_connections, connection
from django.tasks import Task

from retry import clock, controls
from retry.models import TaskAttempt, TaskLimit, TaskRecord
from retry.monitoring import operations
from tests import outside_tasks
from tests.faults.conftest import Faults, enqueue_many, statuses, unfinished, wait_for

pytestmark = pytest.mark.services
# No process dies here: a lease of 10 s, so that no claim of a live worker on a busy machine expires (an expired
# lease makes its task READY again while its worker may still run it).
QUIET: dict[str, Any] = {"LOG_LEVEL": "warning", "RETRY_LEASE": "10"}


def limit(task: Task[..., Any], **numbers: object) -> None:
    TaskLimit.objects.create(task_path=task.module_path, **numbers)


def most_at_once(spans: list[tuple[datetime, datetime]]) -> int:
    """The largest number of spans open at one moment; a span that ends as another starts does not overlap it."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def holds_for(seconds: float, predicate: Callable[[], bool]) -> None:
    """Check ``predicate`` (it may query the database) every 0.1 s for ``seconds``: it must hold every time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        close_old_connections()
        assert predicate(), f"no longer true after {seconds - (deadline - time.monotonic()):.1f} s; {statuses()}"
        time.sleep(0.1)


@pytest.mark.timeout(240)
def test_a_concurrency_limit_of_2_holds_across_three_workers_over_200_tasks(production: Faults, tmp_path: Path) -> None:
    limit(outside_tasks.sleep_then_record, concurrency=2)
    production.dispatcher(**QUIET)
    for number in (1, 2, 3):
        production.worker(f"worker-{number}", **QUIET)
    keys = [f"cake-{n}" for n in range(200)]
    ids = enqueue_many(outside_tasks.sleep_then_record, keys, path=str(tmp_path / "runs"), seconds=0.05)
    assert production.flush_outbox()

    wait_for(lambda: unfinished(ids.values()) == 0, 200, "every task to finish")
    assert set(TaskRecord.objects.filter(pk__in=ids.values()).values_list("status", flat=True)) == {"SUCCESSFUL"}
    # Each attempt, from its claim to its recorded success, by the database's clock: the time it held a slot.
    attempts = TaskAttempt.objects.filter(task_id__in=ids.values())  # type: ignore[misc]  # Django takes a UUID's text; the plugin wants a UUID
    spans = list(attempts.values_list("started_at", "finished_at"))
    outcomes = TaskAttempt.objects.filter(task_id__in=ids.values()).values_list("outcome", flat=True)  # type: ignore[misc]  # Django takes a UUID's text; the plugin wants a UUID
    assert set(outcomes) == {"SUCCEEDED"}
    assert len(spans) == 200
    observed = most_at_once(spans)
    print(f"most tasks running at once: {observed}")
    timeline = sorted(attempts.values_list("started_at", "finished_at", "worker_id"))
    assert observed == 2, "\n".join(f"{start:%S.%f} {end:%S.%f} {worker}" for start, end, worker in timeline)
    assert (
        TaskRecord.objects.filter(pk__in=ids.values()).values("worker_id").distinct().count() >= 2
    )  # the limit is shared, not per worker


@pytest.mark.timeout(120)
def test_a_paused_queue_runs_nothing_for_5_s_lets_running_tasks_finish_and_runs_everything_once_resumed(
    production: Faults, tmp_path: Path
) -> None:
    trace = str(tmp_path / "runs")
    production.dispatcher(**QUIET)
    production.worker(**QUIET)
    running = enqueue_many(outside_tasks.sleep_then_record, ["long-1", "long-2"], path=trace, seconds=2)
    assert production.flush_outbox()
    wait_for(lambda: TaskRecord.objects.filter(status="RUNNING").count() == 2, 30, "the long tasks to start")

    operations.pause(["default"], "test")
    time.sleep(2 * controls.TTL)  # every worker has read the pause by then
    waiting = enqueue_many(outside_tasks.record, [f"cake-{n}" for n in range(20)], path=trace)
    assert production.flush_outbox()
    holds_for(5, lambda: not TaskRecord.objects.filter(pk__in=waiting.values(), attempts__gt=0).exists())
    assert unfinished(running.values()) == 0  # the tasks running at the pause finished

    operations.resume(["default"], "test")
    wait_for(lambda: unfinished(waiting.values()) == 0, 30, "every task of the resumed queue to finish")
    assert outside_tasks.runs(trace) == {key: 1 for key in [*running, *waiting]}


@pytest.mark.soak
@pytest.mark.timeout(150)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a minute's wait: run once, in the services pass")
def test_a_rate_limit_of_5_per_second_holds_within_10_percent_over_60_s(production: Faults, tmp_path: Path) -> None:
    """Waits 60 s on purpose: a rate is judged over a minute. 330 tasks, so the backlog outlasts the minute."""
    limit(outside_tasks.record, rate=5, period=1)
    production.dispatcher(**QUIET)
    for number in (1, 2):
        production.worker(f"worker-{number}", **QUIET)
    ids = enqueue_many(outside_tasks.record, [f"cake-{n}" for n in range(330)], path=str(tmp_path / "runs"))
    assert production.flush_outbox()
    wait_for(lambda: TaskRecord.objects.filter(pk__in=ids.values(), attempts__gt=0).exists(), 30, "the first start")
    first = TaskRecord.objects.filter(pk__in=ids.values()).exclude(started_at=None).earliest("started_at").started_at
    assert first is not None
    time.sleep(max(0.0, 61 - (clock.db_now() - first).total_seconds()))

    started = TaskRecord.objects.filter(pk__in=ids.values(), started_at__gte=first)
    in_minute = started.filter(started_at__lt=first + timedelta(seconds=60)).count()
    print(f"starts in the first 60 s: {in_minute} (limit 300)")
    assert 270 <= in_minute <= 330
    assert TaskRecord.objects.filter(pk__in=ids.values(), status="READY").exists()  # the backlog outlasted it
