"""The dispatcher's transitions: lost attempts recovered (uncharged, then alone), overdue tasks expired, old rows
purged; time is moved by writing due times and leases in the past."""

from datetime import timedelta

import pytest
from django.tasks.base import TaskResultStatus as Status
from django.utils import timezone
from pytest_django import Settings

from retry import transitions
from retry.dispatcher import Dispatcher
from retry.models import RUN_ALONE_AFTER, Outcome, TaskAttempt, TaskRecord
from tests.retry.conftest import enqueued

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
LONG_AGO = timedelta(hours=1)


def claimed(key: str = "k", worker: str = "worker-1") -> TaskRecord:
    record = transitions.claim(str(enqueued(key).pk), worker)
    assert record is not None
    return record


def test_a_lost_lease_is_a_recovery_not_charged_to_the_policy_and_the_task_is_retried() -> None:
    record = claimed()
    TaskRecord.objects.filter(pk=record.pk).update(lease_until=timezone.now() - LONG_AGO)

    assert Dispatcher().tick()["recovered"] == 1

    recovered = TaskRecord.objects.get(pk=record.pk)
    attempt = TaskAttempt.objects.get(task=record)
    assert (recovered.status, recovered.attempts, recovered.recoveries, recovered.failures) == (Status.READY, 1, 1, 0)
    assert recovered.error_class == "retry.exceptions.LeaseLost"
    assert attempt.outcome == Outcome.LOST
    assert attempt.next_delay == pytest.approx(0.05)


def test_a_task_whose_worker_dies_every_time_ends_failed_not_in_a_loop() -> None:
    record = enqueued()
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


def test_a_task_lost_while_it_waited_for_its_turn_alone_is_recovered_uncharged() -> None:
    record = enqueued()
    TaskRecord.objects.filter(pk=record.pk).update(attempts=RUN_ALONE_AFTER, recoveries=RUN_ALONE_AFTER)
    assert transitions.claim(str(record.pk), "worker-1") is not None  # it dies before its turn: never alone
    TaskRecord.objects.filter(pk=record.pk).update(lease_until=timezone.now() - LONG_AGO)
    Dispatcher().tick()
    lost = TaskRecord.objects.get(pk=record.pk)
    assert (lost.status, lost.recoveries, lost.failures) == (Status.READY, RUN_ALONE_AFTER + 1, 0)


def test_a_task_not_started_by_its_deadline_fails_as_expired_instead_of_running_late() -> None:
    record = enqueued(expires_at=timezone.now() - timedelta(seconds=1))
    assert transitions.claim(str(record.pk), "worker-1") is None  # too late to start
    assert Dispatcher().tick()["expired"] == 1
    expired = TaskRecord.objects.get(pk=record.pk)
    assert (expired.status, expired.error_class) == (Status.FAILED, "retry.exceptions.TaskExpired")


def test_finished_tasks_are_purged_after_their_retention(settings: Settings) -> None:
    settings.RETRY_RESULT_RETENTION = 3600
    settings.RETRY_FAILED_RETENTION = 7200
    now = timezone.now()
    old_success = enqueued("a", status=Status.SUCCESSFUL, finished_at=now - timedelta(hours=2))
    young_failure = enqueued("b", status=Status.FAILED, finished_at=now - timedelta(hours=1))
    old_failure = enqueued("c", status=Status.FAILED, finished_at=now - timedelta(hours=3))
    waiting = enqueued("d", enqueued_at=now - timedelta(days=30))

    assert transitions.purge(now, batch=100) == 2
    assert set(TaskRecord.objects.values_list("pk", flat=True)) == {young_failure.pk, waiting.pk}
    assert not TaskRecord.objects.filter(pk__in=[old_success.pk, old_failure.pk]).exists()
