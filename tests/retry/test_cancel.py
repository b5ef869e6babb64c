"""Cancelling a running task: async tasks stop at once, plain ones see their flag, and nothing cancelled is retried."""

import asyncio
from collections.abc import Callable

import pytest
from asgiref.sync import sync_to_async
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.tasks.base import TaskResultStatus as Status
from django.tasks.signals import task_finished
from django.test import Client
from django.urls import reverse
from pytest_django import DjangoCaptureOnCommitCallbacks

from retry import transitions
from retry.models import Outcome, TaskAttempt, TaskRecord
from retry.monitoring import operations
from retry.policy import RetryDecision
from retry.worker.process import RetryWorker
from tests import tasks
from tests.retry import rows
from tests.retry.conftest import runs, wait_for

pytestmark = pytest.mark.services  # an operator's request
CANCELLED = "retry.exceptions.TaskCancelled"


async def cancel_once_running(task, **kwargs) -> TaskRecord:  # type: ignore[no-untyped-def]
    """Enqueue ``task``, cancel it once it runs, and return its row once it has ended."""
    result = await task.aenqueue(**kwargs)
    await wait_for(lambda: TaskRecord.objects.filter(pk=result.id, status="RUNNING").exists(), what="the start")
    assert await sync_to_async(operations.cancel)([result.id], "alice") == 1
    await wait_for(lambda: TaskRecord.objects.filter(pk=result.id, status="FAILED").exists(), what="the cancel")
    return await TaskRecord.objects.aget(pk=result.id)


async def outcomes(record: TaskRecord) -> list[str]:
    return [attempt.outcome async for attempt in TaskAttempt.objects.filter(task_id=record.pk).order_by("number")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
async def test_a_running_async_task_is_stopped_at_once(worker: RetryWorker) -> None:
    record = await cancel_once_running(tasks.async_sleeps, key="async", seconds=30)

    assert (record.status, record.attempts, record.error_class) == (Status.FAILED, 1, CANCELLED)
    assert record.error_message == "cancelled by an operator while it ran; it was stopped at once"
    assert await outcomes(record) == [Outcome.CANCELLED]
    assert record.cancel_requested_at is not None and record.return_value is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
async def test_a_plain_task_sees_its_flag_and_its_attempt_is_recorded_cancelled(worker: RetryWorker) -> None:
    record = await cancel_once_running(tasks.stops_when_cancelled, key="plain", seconds=30)

    assert (record.status, record.error_class) == (Status.FAILED, CANCELLED)
    assert record.error_message == "cancelled by an operator while it ran; it stopped at its cancel flag"
    assert record.return_value is None  # "stopped" is discarded with the rest of the outcome
    assert await outcomes(record) == [Outcome.CANCELLED]


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
async def test_a_plain_task_that_ignores_its_flag_runs_to_its_end_and_its_outcome_is_discarded(
    worker: RetryWorker,
) -> None:
    result = await tasks.sleeps.aenqueue(key="stubborn", seconds=2)
    await wait_for(lambda: TaskRecord.objects.filter(pk=result.id, status="RUNNING").exists(), what="the start")
    assert await sync_to_async(operations.cancel)([result.id], "alice") == 1
    await asyncio.sleep(0.5)  # its worker has seen the request (it looks every dispatcher interval)
    assert (await TaskRecord.objects.aget(pk=result.id)).status == Status.RUNNING  # a thread cannot be stopped
    await wait_for(lambda: TaskRecord.objects.filter(pk=result.id, status="FAILED").exists(), what="its end")

    record = await TaskRecord.objects.aget(pk=result.id)
    assert record.error_message == (
        "cancelled by an operator while it ran; it ran to its end without looking at its cancel flag; "
        "its outcome is discarded"
    )
    assert (record.return_value, await outcomes(record)) == (None, [Outcome.CANCELLED])
    assert await sync_to_async(runs)("stubborn") == 1  # it did run to its end


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
async def test_a_cancelled_task_is_never_run_again(worker: RetryWorker) -> None:
    record = await cancel_once_running(tasks.async_sleeps, key="once", seconds=30)
    await asyncio.sleep(1)  # several dispatcher passes and backlog claims later
    assert (await TaskRecord.objects.aget(pk=record.pk)).status == Status.FAILED
    assert await sync_to_async(runs)("once") == 1


@pytest.mark.django_db
def test_cancelling_a_ready_task_stays_immediate() -> None:
    ready = rows.task()
    assert operations.cancel([str(ready.pk)], "alice") == 1
    ready.refresh_from_db()
    assert (ready.status, ready.error_class, ready.cancel_requested_at) == (Status.FAILED, CANCELLED, None)


@pytest.mark.django_db
def test_the_admin_action_asks_a_running_task_to_stop(admin_client: Client) -> None:
    record = claimed()
    changelist = reverse("admin:retry_taskrecord_changelist")
    form = {"action": "cancel", ACTION_CHECKBOX_NAME: [str(record.pk)], "confirmed": "yes"}
    assert admin_client.post(changelist, form).status_code == 302
    record.refresh_from_db()
    assert (record.status, record.cancel_requested_at is not None) == (Status.RUNNING, True)  # its worker ends it


def claimed(key: str = "k") -> TaskRecord:
    result = tasks.record.enqueue(key=key)
    record = transitions.claim(result.id, "oven:1:abc")
    assert record is not None
    return record


@pytest.mark.django_db
def test_a_request_is_recorded_once_and_only_for_running_tasks() -> None:
    record = claimed()
    assert transitions.request_cancel(str(record.pk)) is True
    assert transitions.request_cancel(str(record.pk)) is False  # asked already
    assert transitions.request_cancel(str(rows.task().pk)) is False  # ready: cancelled at once instead
    assert transitions.cancel_requested("oven:1:abc", [str(record.pk)]) == [str(record.pk)]
    assert transitions.cancel_requested("another:2:def", [str(record.pk)]) == []  # only its own worker's


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("end", "how"),
    [
        # The task raised before its worker saw the request: the policy would retry it, the cancel wins.
        (
            lambda record: transitions.fail(record, ValueError("boom"), RetryDecision(1.0, "retry"), 0.1),
            "it then failed (ValueError) and is not retried",
        ),
        # Its worker shut down before it ended: it is not handed back to run again.
        (transitions.release, "its worker shut down before it ended"),
    ],
    ids=["failed", "released"],
)
def test_no_end_of_an_attempt_asked_to_stop_retries_it(end: Callable[[TaskRecord], object], how: str) -> None:
    record = claimed()
    transitions.request_cancel(str(record.pk))
    end(record)
    record.refresh_from_db()
    assert (record.status, record.error_message) == (Status.FAILED, f"cancelled by an operator while it ran; {how}")
    assert list(record.attempt_set.values_list("outcome", flat=True)) == [Outcome.CANCELLED]


@pytest.mark.django_db
def test_a_request_landing_between_the_check_and_the_retry_still_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    from retry.transitions import cancelling  # what retry.transitions.attempts calls stop_cancelled on

    record, check = claimed(), transitions.stop_cancelled

    def then_asked(task, how):  # type: ignore[no-untyped-def]
        stopped = check(task, how)
        monkeypatch.setattr(cancelling, "stop_cancelled", check)
        transitions.request_cancel(str(task.pk))  # the operator's request lands now
        return stopped

    monkeypatch.setattr(cancelling, "stop_cancelled", then_asked)
    assert transitions.fail(record, ValueError("boom"), RetryDecision(1.0, "retry"), 0.1) is False
    record.refresh_from_db()
    assert (record.status, record.error_class) == (Status.FAILED, CANCELLED)  # not READY to run again
    assert list(record.attempt_set.values_list("outcome", flat=True)) == [Outcome.CANCELLED]


@pytest.mark.django_db
def test_a_lost_lease_of_a_task_asked_to_stop_ends_it_cancelled_not_recovered() -> None:
    record = claimed()
    transitions.request_cancel(str(record.pk))
    TaskRecord.objects.filter(pk=record.pk).update(lease_until=rows.ago(5))
    transitions.recover_lost(rows.NOW, 10)
    record.refresh_from_db()
    assert (record.status, record.error_class, record.recoveries) == (Status.FAILED, CANCELLED, 0)


@pytest.mark.django_db
def test_a_success_recorded_before_the_worker_saw_the_request_stands() -> None:
    record = claimed()
    transitions.request_cancel(str(record.pk))
    assert transitions.succeed(record, "done", 0.1) is True
    record.refresh_from_db()
    assert (record.status, record.return_value) == (Status.SUCCESSFUL, "done")


@pytest.mark.django_db
def test_a_cancelled_task_retried_by_hand_runs_without_the_old_request() -> None:
    record = claimed()
    transitions.request_cancel(str(record.pk))
    transitions.release(record)
    assert transitions.retry_now(str(record.pk)) is not None
    record.refresh_from_db()
    assert (record.status, record.cancel_requested_at) == (Status.READY, None)


@pytest.mark.django_db
def test_the_end_of_a_cancelled_attempt_is_published_and_signalled_failed(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks, caplog: pytest.LogCaptureFixture
) -> None:
    finished = []
    receiver = lambda sender, task_result, **kwargs: finished.append(task_result.status)  # noqa: E731
    task_finished.connect(receiver)
    try:
        record = claimed()
        with django_capture_on_commit_callbacks(execute=True):
            transitions.request_cancel(str(record.pk))
            transitions.release(record)
    finally:
        task_finished.disconnect(receiver)
    assert finished == [Status.FAILED]
    changes = [vars(entry)["change"] for entry in caplog.records if entry.name == "retry.tasks"]
    assert changes[-2:] == ["cancel_requested", "cancelled"]


@pytest.mark.django_db
def test_a_batch_cancel_ends_the_ready_tasks_and_asks_the_running_ones_to_stop() -> None:
    running, ready, done = claimed("a"), rows.task(), rows.task(status=Status.SUCCESSFUL)
    assert operations.cancel_batch([str(running.pk), str(ready.pk), str(done.pk)]) == 2
    for record in (running, ready, done):
        record.refresh_from_db()
    assert (running.status, running.cancel_requested_at is not None) == (Status.RUNNING, True)
    assert (ready.status, ready.error_class) == (Status.FAILED, CANCELLED)
    assert done.status == Status.SUCCESSFUL
