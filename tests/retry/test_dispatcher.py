"""The dispatcher pass and the transitions it drives, with time moved by writing due times and leases in the past."""

import asyncio
import copy
import logging
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.tasks.base import TaskResultStatus as Status
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from retry import clock, conf, transitions
from retry import outbox as outbox_module
from retry.dispatcher import Dispatcher
from retry.models import RUN_ALONE_AFTER, Outcome, TaskAttempt, TaskRecord
from retry.monitoring import operations
from retry.outbox import outbox
from tests import tasks
from tests.conftest import flush_channel_layer

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
LONG_AGO = timedelta(hours=1)


def enqueue(key: str = "k", **changes: object) -> TaskRecord:
    result = tasks.record.enqueue(key)
    outbox.flush()
    TaskRecord.objects.filter(pk=result.id).update(**changes)
    return TaskRecord.objects.get(pk=result.id)


#: Messages a channel holds in the full-channel tests.
CAPACITY = 5


@pytest.fixture
def small_channels(settings):
    """Gives the project's channel layer room for CAPACITY messages per channel, when called."""

    def shrink() -> None:
        layers = copy.deepcopy(settings.CHANNEL_LAYERS)
        layers["default"]["CONFIG"]["capacity"] = CAPACITY
        settings.CHANNEL_LAYERS = layers

    yield shrink
    flush_channel_layer()


def fill(queue: str, count: int) -> None:
    """Put ``count`` messages that are not task messages on a queue's channel."""

    async def send() -> None:
        for _ in range(count):
            await get_channel_layer().send(conf.get().CHANNEL_PREFIX + queue, {"type": "filler"})

    async_to_sync(send)()


def claimed(key: str = "k", worker: str = "worker-1") -> TaskRecord:
    record = transitions.claim(str(enqueue(key).pk), worker)
    assert record is not None
    return record


def test_due_tasks_without_a_live_message_are_sent(layer_messages):
    now = clock.db_now()
    never_sent = enqueue("never", notified_at=None)
    long_ago = enqueue("stale", notified_at=now - LONG_AGO)  # older than the layer's expiry: maybe lost
    just_sent = enqueue("fresh", notified_at=now)  # in flight
    not_due = enqueue("later", notified_at=None, run_after=now + LONG_AGO)
    layer_messages("default")  # drop the messages of enqueue itself

    report = Dispatcher().tick()
    outbox.flush()

    assert report["sent"] == 2
    sent = {message["id"] for message in layer_messages("default")}
    assert sent == {str(never_sent.pk), str(long_ago.pk)}
    assert str(just_sent.pk) not in sent and str(not_due.pk) not in sent
    assert Dispatcher().tick()["sent"] == 0  # marked as sent: the next pass leaves them


def test_a_full_channel_costs_a_pass_what_it_sends_not_the_backlog(small_channels, layer_messages, caplog):
    due = [enqueue(f"due-{number}") for number in range(30)]
    layer_messages("default")  # drop the messages of enqueue itself
    small_channels()
    fill("default", CAPACITY - 2)  # room for two
    TaskRecord.objects.update(notified_at=None)

    dispatcher = Dispatcher()
    for _ in range(2):
        caplog.clear()
        with CaptureQueriesContext(connection) as statements, caplog.at_level(logging.WARNING):
            report = dispatcher.tick()
            outbox.flush()
        updates = [s["sql"] for s in statements.captured_queries if s["sql"].startswith('UPDATE "retry_taskrecord"')]
        assert len(updates) <= 2  # the rows taken, then the refused ones handed back: never one per row
        assert [r.message for r in caplog.records if r.levelno >= logging.WARNING] == [
            "Channels refused task messages; their due tasks wait for backlog claims and the next pass"
        ]

    assert report["sent"] == 0  # the first pass filled the channel
    sent = [message["id"] for message in layer_messages("default") if message["type"] == "task.run"]
    assert len(sent) == 2 and set(sent) <= {str(task.pk) for task in due}
    assert TaskRecord.objects.filter(notified_at__isnull=True).count() == 28  # due, left to the backlog claims


def test_a_full_channel_holds_back_only_its_own_queue(small_channels, layer_messages):
    for number in range(10):
        enqueue(f"default-{number}")
    emails = tasks.on_emails_queue.enqueue("emails")
    outbox.flush()
    layer_messages("default"), layer_messages("emails")
    small_channels()
    fill("default", CAPACITY)
    TaskRecord.objects.update(notified_at=None)

    assert Dispatcher().tick()["sent"] == 1
    assert [message["id"] for message in layer_messages("emails")] == [str(emails.id)]


def test_a_layer_that_hangs_instead_of_refusing_does_not_hold_the_pass(layer_messages, monkeypatch, caplog):
    for number in range(3):
        enqueue(f"hung-{number}")
    assert outbox.flush()
    layer_messages("default")
    TaskRecord.objects.update(notified_at=None)

    async def hang(channel: str, messages: list) -> tuple[int, None]:
        await asyncio.Event().wait()  # a Redis that takes the call and never answers
        return 0, None

    monkeypatch.setattr(outbox, "_send_in_order", hang)
    monkeypatch.setattr(outbox_module, "SEND_NOW_TIMEOUT", 0.2)
    with caplog.at_level(logging.WARNING):
        report = Dispatcher().tick()  # returns, so recovery, schedules and heartbeats go on
    assert report["sent"] == 0
    assert TaskRecord.objects.filter(notified_at__isnull=True).count() == 3  # left to the backlog claims
    assert "Channels refused task messages" in caplog.text


def test_a_lost_lease_is_a_recovery_not_charged_to_the_policy_and_the_task_is_retried():
    record = claimed()
    TaskRecord.objects.filter(pk=record.pk).update(lease_until=timezone.now() - LONG_AGO)

    assert Dispatcher().tick()["recovered"] == 1

    recovered = TaskRecord.objects.get(pk=record.pk)
    attempt = TaskAttempt.objects.get(task=record)
    assert (recovered.status, recovered.attempts, recovered.recoveries, recovered.failures) == (Status.READY, 1, 1, 0)
    assert recovered.error_class == "retry.exceptions.LeaseLost"
    assert (attempt.outcome, attempt.next_delay) == (Outcome.LOST, pytest.approx(0.05))


def test_a_late_finisher_overwrites_nothing():
    record = claimed()
    TaskRecord.objects.filter(pk=record.pk).update(lease_until=timezone.now() - LONG_AGO)
    Dispatcher().tick()
    TaskRecord.objects.filter(pk=record.pk).update(run_after=timezone.now() - LONG_AGO)
    again = transitions.claim(str(record.pk), "worker-2")
    assert again is not None

    assert transitions.succeed(record, "late", duration=1.0) is False  # fenced on (id, attempt, worker)
    assert transitions.fail(record, ValueError("late"), None, duration=1.0) is False
    assert TaskRecord.objects.get(pk=record.pk).status == Status.RUNNING
    assert transitions.succeed(again, "on time", duration=1.0) is True
    assert TaskRecord.objects.get(pk=record.pk).return_value == "on time"


def test_a_task_whose_worker_dies_every_time_ends_failed_not_in_a_loop():
    record = enqueue()
    deaths = RUN_ALONE_AFTER + record.max_attempts  # recovered uncharged, then it runs alone: its own losses
    for attempt in range(1, deaths + 1):
        TaskRecord.objects.filter(pk=record.pk).update(run_after=timezone.now() - LONG_AGO)
        claimed = transitions.claim(str(record.pk), f"doomed-{attempt}")
        assert claimed is not None
        if claimed.runs_alone:  # as its worker does once the tasks beside it have ended
            assert transitions.begin_alone(claimed)
        TaskRecord.objects.filter(pk=record.pk).update(lease_until=timezone.now() - LONG_AGO)
        Dispatcher().tick()
    final = TaskRecord.objects.get(pk=record.pk)
    assert (final.status, final.attempts, final.recoveries) == (Status.FAILED, deaths, RUN_ALONE_AFTER)
    assert list(TaskAttempt.objects.filter(task=record).values_list("outcome", flat=True)) == [Outcome.LOST] * deaths


def test_a_task_lost_while_it_waited_for_its_turn_alone_is_recovered_uncharged():
    record = enqueue()
    TaskRecord.objects.filter(pk=record.pk).update(attempts=RUN_ALONE_AFTER, recoveries=RUN_ALONE_AFTER)
    assert transitions.claim(str(record.pk), "worker-1") is not None  # it dies before its turn: never alone
    TaskRecord.objects.filter(pk=record.pk).update(lease_until=timezone.now() - LONG_AGO)
    Dispatcher().tick()
    lost = TaskRecord.objects.get(pk=record.pk)
    assert (lost.status, lost.recoveries, lost.failures) == (Status.READY, RUN_ALONE_AFTER + 1, 0)


def test_a_task_not_started_by_its_deadline_fails_as_expired_instead_of_running_late():
    record = enqueue(expires_at=timezone.now() - timedelta(seconds=1))
    assert transitions.claim(str(record.pk), "worker-1") is None  # too late to start
    assert Dispatcher().tick()["expired"] == 1
    expired = TaskRecord.objects.get(pk=record.pk)
    assert (expired.status, expired.error_class) == (Status.FAILED, "retry.exceptions.TaskExpired")


def test_finished_tasks_are_purged_after_their_retention(settings):
    settings.RETRY_RESULT_RETENTION = 3600
    settings.RETRY_FAILED_RETENTION = 7200
    now = timezone.now()
    old_success = enqueue("a", status=Status.SUCCESSFUL, finished_at=now - timedelta(hours=2))
    young_failure = enqueue("b", status=Status.FAILED, finished_at=now - timedelta(hours=1))
    old_failure = enqueue("c", status=Status.FAILED, finished_at=now - timedelta(hours=3))
    waiting = enqueue("d", enqueued_at=now - timedelta(days=30))

    assert transitions.purge(now, batch=100) == 2
    assert set(TaskRecord.objects.values_list("pk", flat=True)) == {young_failure.pk, waiting.pk}
    assert not TaskRecord.objects.filter(pk__in=[old_success.pk, old_failure.pk]).exists()


def test_operators_retry_cancel_and_requeue(layer_messages):
    dead = [enqueue(f"dead-{i}", status=Status.FAILED, attempts=5) for i in range(3)]
    ready = enqueue("ready")
    layer_messages("default")

    assert operations.retry_now([str(dead[0].pk)], "operator") == 1
    assert transitions.retry_now(str(dead[0].pk)) is None  # no longer dead
    outbox.flush()
    assert [m["id"] for m in layer_messages("default")] == [str(dead[0].pk)]  # sent at once, not at the next pass
    assert operations.requeue_dead([tasks.record.module_path], "operator") == 2
    outbox.flush()
    assert sorted(m["id"] for m in layer_messages("default")) == sorted(str(d.pk) for d in dead[1:])
    assert set(TaskRecord.objects.filter(pk__in=[d.pk for d in dead]).values_list("status", "attempts")) == {
        (Status.READY, 0)
    }
    assert transitions.cancel(str(ready.pk)) is True
    assert transitions.cancel(str(ready.pk)) is False
    cancelled = TaskRecord.objects.get(pk=ready.pk)
    assert (cancelled.status, cancelled.error_class) == (Status.FAILED, "retry.exceptions.TaskCancelled")
    assert transitions.claim(str(ready.pk), "worker-1") is None
