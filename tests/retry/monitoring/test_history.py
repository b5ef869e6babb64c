"""The charts' roll-up against attempts with known times: counts, percentiles, backlog, hours, the mark, purges."""

import logging
from datetime import datetime, timedelta
from typing import NoReturn

import pytest
from django.db import connection
from django.tasks.base import TaskResultStatus as Status
from pytest_django import DjangoAssertNumQueries

from retry import transitions
from retry.dispatcher import Dispatcher
from retry.models import Outcome, Rollup, RollupMark
from retry.models.rollups import HOUR, MINUTE
from retry.monitoring import history
from tests.retry.rows import NOW, ago, attempt, task

pytestmark = [pytest.mark.services, pytest.mark.django_db]

#: The minute that starts two minutes before NOW, and the one before it.
THIS, BEFORE = NOW - timedelta(minutes=2), NOW - timedelta(minutes=3)


def at(minute: datetime, seconds: float) -> float:
    """Seconds before NOW of ``seconds`` into ``minute``."""
    return (NOW - minute).total_seconds() - seconds


def mark_at(moment: datetime) -> None:
    RollupMark.objects.update_or_create(name=history.MARK, defaults={"until": moment})


def roll(now: datetime = NOW) -> int:
    """Every pass until the history has caught up with ``now``; the minutes rolled up."""
    total = 0
    while minutes := history.roll_up(now, history.floor(now - history.SETTLE, MINUTE))[0]:
        total += minutes
    return total


def row(name: str, bucket: datetime, *, scope: str = Rollup.Scope.QUEUE, resolution: int = MINUTE) -> Rollup:
    return Rollup.objects.get(scope=scope, name=name, resolution=resolution, bucket=bucket)


@pytest.fixture
def minute_of_work() -> None:
    """In THIS minute: 20 successes taking 1..20 s on "emails", a retried and a dead attempt, a lost one."""
    mark_at(THIS)  # every minute before THIS is rolled up
    for seconds in range(1, 21):
        record = task("emails", Status.SUCCESSFUL, enqueued=at(BEFORE, 0), task_path="app.send", attempts=1)
        # Each waited `seconds` from enqueue (the start of BEFORE) to its start, then ran `seconds` seconds.
        attempt(record, 1, started=at(BEFORE, seconds), seconds=60)
    flaky = task("emails", Status.READY, enqueued=at(BEFORE, 0), task_path="app.flaky", attempts=2)
    attempt(flaky, 1, started=at(THIS, 1), seconds=2, outcome=Outcome.RETRIED)
    attempt(flaky, 2, started=at(THIS, 5), seconds=2, outcome=Outcome.FAILED)
    attempt(flaky, 3, started=at(THIS, 10), seconds=40, outcome=Outcome.LOST)


def test_outcomes_count_in_the_minute_their_attempt_ended_starts_in_the_minute_it_began(minute_of_work: None) -> None:
    assert roll() == 1  # BEFORE was rolled up already: only THIS minute ended since
    emails = row("emails", THIS)
    assert (emails.succeeded, emails.retried, emails.failed, emails.lost) == (20, 1, 1, 1)
    # The 20 successes began in BEFORE (rolled up already): their starts are added to BEFORE's row.
    assert emails.started == 3
    assert row("emails", BEFORE).started == 20
    flaky = row("app.flaky", THIS, scope=Rollup.Scope.TASK)
    assert (flaky.started, flaky.succeeded, flaky.retried, flaky.failed, flaky.lost) == (3, 0, 1, 1, 1)


def test_the_percentiles_are_the_nearest_rank_95th_of_the_minutes_attempts(minute_of_work: None) -> None:
    roll()
    emails = row("emails", THIS)
    # Run times: the 20 successes' 60 s each, the retried and failed attempts' 2 s; the lost attempt does not count.
    assert emails.run_p95 == pytest.approx(60, abs=0.01)
    # Waits of first attempts: 1..20 s for the successes and 61 s for the flaky task: the 20th of 21 is 20 s.
    assert emails.wait_p95 == pytest.approx(20, abs=0.01)
    send = row("app.send", THIS, scope=Rollup.Scope.TASK)
    assert send.wait_p95 == pytest.approx(19, abs=0.01)  # ceil(0.95 * 20) = 19th of 1..20


def test_a_task_deferred_on_purpose_waits_from_its_due_time_not_its_enqueue() -> None:
    mark_at(THIS)
    record = task("default", Status.SUCCESSFUL, enqueued=3600, requested_run_after=ago(at(THIS, 0)), attempts=1)
    attempt(record, 1, started=at(THIS, 3), seconds=1)
    roll()
    assert row("default", THIS).wait_p95 == pytest.approx(3, abs=0.01)


def test_each_minute_is_rolled_up_once_by_passes_and_by_other_dispatchers(minute_of_work: None) -> None:
    assert roll() == 1
    first = list(Rollup.objects.values().order_by("pk"))
    assert roll() == 0  # nothing ended since
    second = history.Writer()
    assert second.roll_up(NOW) == 0  # another dispatcher finds the mark moved: it counts nothing again
    assert list(Rollup.objects.values().order_by("pk")) == first


def test_a_later_pass_adds_to_the_rows_it_shares_with_the_earlier_one(minute_of_work: None) -> None:
    roll()
    later = NOW + timedelta(minutes=1)
    record = task("emails", Status.SUCCESSFUL, enqueued=0, task_path="app.send", attempts=1)
    attempt(record, 1, started=55, seconds=5)  # ends in the last minute before NOW
    assert roll(later) == 1
    hour = history.floor(THIS, HOUR)
    assert row("emails", hour, resolution=HOUR).succeeded == 21
    assert row("emails", NOW - timedelta(minutes=1)).succeeded == 1


def test_an_hour_row_sums_its_minutes_and_keeps_its_worst_percentile_and_backlog() -> None:
    start = history.floor(NOW, HOUR) - timedelta(hours=1)
    mark_at(start)
    for minute, seconds in ((0, 2.0), (1, 8.0), (2, 4.0)):
        record = task("default", Status.SUCCESSFUL, enqueued=at(start + timedelta(minutes=minute), 0), attempts=1)
        attempt(record, 1, started=at(start + timedelta(minutes=minute), 1), seconds=seconds)
    waiting = [task("default", enqueued=30), task("default", enqueued=20)]
    roll()
    waiting[0].delete()
    roll(NOW + timedelta(minutes=1))  # a second sample, of one task, in the same hour
    hour = row("default", start, resolution=HOUR)
    assert (hour.started, hour.succeeded) == (3, 3)
    assert hour.run_p95 == pytest.approx(8, abs=0.01)
    assert hour.ready == 2
    assert row("default", NOW - timedelta(minutes=1)).ready == 1


def test_the_backlog_is_sampled_into_the_minute_just_rolled_up() -> None:
    mark_at(THIS)
    task("emails", enqueued=90, task_path="app.send")
    task("emails", enqueued=30, task_path="app.other")
    task("emails", enqueued=30, due=-60, task_path="app.send")  # due in a minute: not in the backlog
    roll()
    last = history.floor(NOW - history.SETTLE, MINUTE) - timedelta(minutes=1)
    emails = row("emails", last)
    assert emails.ready == 2
    assert emails.oldest_ready_age == pytest.approx(90, abs=0.01)
    assert row("app.other", last, scope=Rollup.Scope.TASK).ready == 1


def test_a_pass_catches_up_a_few_minutes_at_a_time_and_the_first_pass_starts_an_hour_back() -> None:
    assert history.roll_up(NOW, history.floor(NOW, MINUTE)) == (10, history.floor(NOW, MINUTE) - timedelta(minutes=50))
    assert roll() == 49  # NOW - SETTLE is in the minute before NOW
    mark_at(NOW - timedelta(days=10))  # a dispatcher down for ten days: the minutes past their retention are skipped
    later = history.floor(NOW + timedelta(minutes=5), MINUTE)
    assert history.roll_up(later, later) == (10, later - timedelta(days=2) + timedelta(minutes=10))


def test_rows_past_their_retention_are_purged() -> None:
    for resolution, age in ((MINUTE, timedelta(days=2, minutes=1)), (HOUR, timedelta(days=30, hours=1))):
        for bucket in (history.floor(NOW, resolution) - age, history.floor(NOW, resolution)):
            Rollup.objects.create(scope="queue", name="default", resolution=resolution, bucket=bucket)
    mark_at(THIS)
    roll()  # each roll-up purges
    assert sorted(Rollup.objects.values_list("resolution", "bucket")) == [(MINUTE, NOW), (HOUR, NOW)]


@pytest.mark.django_db(transaction=True)
def test_a_failing_roll_up_is_logged_and_the_dispatchers_pass_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("rollup table is gone")

    monkeypatch.setattr(history, "count", broken)
    dispatcher = Dispatcher()
    with caplog.at_level(logging.ERROR):
        report = dispatcher.tick()
    assert report["rolled_up"] == 0 and "sent" in report and "expired" in report
    assert "Rolling up the charts' history failed" in caplog.text
    assert not RollupMark.objects.exists()  # rolled back: the next pass does the same minutes
    monkeypatch.undo()
    assert dispatcher.tick()["rolled_up"] == 10


def test_the_writer_asks_the_database_once_a_minute(django_assert_num_queries: DjangoAssertNumQueries) -> None:
    writer = history.Writer()
    writer.roll_up(NOW)
    while writer.roll_up(NOW):
        pass
    with django_assert_num_queries(0):
        assert writer.roll_up(NOW + timedelta(seconds=5)) == 0


@pytest.mark.django_db(transaction=True)
def test_a_dispatcher_skips_the_roll_up_while_another_holds_the_mark() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one dispatcher")
    import threading

    mark_at(BEFORE)
    held, release = threading.Event(), threading.Event()

    def other_dispatcher() -> None:
        from django.db import connections, transaction

        with transaction.atomic():
            history.claim(NOW)
            held.set()
            release.wait(10)
        connections.close_all()

    thread = threading.Thread(target=other_dispatcher)
    thread.start()
    held.wait(10)
    try:
        assert history.roll_up(NOW, history.floor(NOW, MINUTE)) == (0, None)  # at once, without waiting
    finally:
        release.set()
        thread.join()


def test_a_task_that_ignores_its_result_leaves_no_attempt_to_count() -> None:
    mark_at(THIS)
    record = task("default", Status.RUNNING, started=30, attempts=1, ignore_result=True, worker_id="w")
    record.last_attempted_at = record.started_at
    record.save()
    assert transitions.succeed(record, None, 1.0)
    roll()
    assert not Rollup.objects.exclude(started=0, succeeded=0).exists()
