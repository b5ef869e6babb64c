"""Bulk enqueue: one statement per batch (COPY on PostgreSQL), with the checks and guarantees of a single enqueue."""

import logging
import math
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.tasks.signals import task_enqueued
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from retry import api, bulk
from retry.exceptions import InvalidTaskArguments
from retry.models import TaskRecord
from retry.outbox import outbox
from tests import tasks
from tests.retry import rows

pytestmark = [pytest.mark.services, pytest.mark.django_db]  # producers pass what remotes sent


def writes(queries: CaptureQueriesContext) -> int:
    """The statements that wrote task rows: COPY on PostgreSQL, INSERT elsewhere."""
    verb = "COPY" if connection.vendor == "postgresql" else "INSERT INTO"
    return sum(1 for query in queries.captured_queries if query["sql"].startswith(f'{verb} "retry_taskrecord"'))


@pytest.fixture
def enqueued_signals() -> Iterator[list[str]]:
    sent = []

    def receiver(sender, task_result, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(task_result.id)

    task_enqueued.connect(receiver)
    yield sent
    task_enqueued.disconnect(receiver)


def test_five_thousand_tasks_take_one_statement_per_batch(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks, enqueued_signals: list[str]
) -> None:
    with django_capture_on_commit_callbacks(execute=True), CaptureQueriesContext(connection) as queries:
        results = bulk.enqueue_many(tasks.record, [{"key": f"cake-{n}"} for n in range(5000)])

    assert writes(queries) == math.ceil(5000 / bulk.BATCH_SIZE) == 5
    on_tasks = [query["sql"] for query in queries.captured_queries if "retry_taskrecord" in query["sql"]]
    assert len(on_tasks) == 5  # the writes are all it asks of the task table
    assert [result.kwargs for result in results] == [{"key": f"cake-{n}"} for n in range(5000)]
    assert TaskRecord.objects.filter(pk__in=[result.id for result in results], status="READY").count() == 5000
    assert sorted(enqueued_signals) == sorted(result.id for result in results)  # Django's signal, for each


def test_one_bad_call_refuses_them_all_and_names_it() -> None:
    calls: list[Mapping[str, object]] = [{"key": "fine"}, {"key": "fine too"}, {"key": float("nan")}]
    with pytest.raises(InvalidTaskArguments, match=r"^Call 2: .*argument 'key'"):
        bulk.enqueue_many(tasks.record, calls)
    assert not TaskRecord.objects.exists()


def test_the_rows_belong_to_the_callers_transaction(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks, enqueued_signals: list[str]
) -> None:
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        bulk.enqueue_many(tasks.record, [{"key": "rolled back"}] * 3)
        raise RuntimeError("the caller fails")
    assert not TaskRecord.objects.exists()
    assert (callbacks, enqueued_signals) == ([], [])  # no message, no signal for tasks that never were


def test_idempotency_keys_return_the_unfinished_task_that_has_them() -> None:
    earlier = api.enqueue(tasks.record, key="earlier", idempotency_key="import:1")
    calls = [
        bulk.Call(kwargs={"key": "one"}, idempotency_key="import:1"),  # an unfinished task has it: that task
        bulk.Call(kwargs={"key": "two"}, idempotency_key="import:2"),
        bulk.Call(kwargs={"key": "two again"}, idempotency_key="import:2"),  # an earlier call has it
        bulk.Call(args=["three"]),
    ]
    results = bulk.enqueue_many(tasks.record, calls)
    assert results[0].id == earlier.id and results[1].id == results[2].id
    assert TaskRecord.objects.count() == 3
    assert [result.id for result in bulk.enqueue_many(tasks.record, calls[:3])] == [r.id for r in results[:3]]
    assert TaskRecord.objects.count() == 3


def test_a_finished_tasks_key_is_free_again() -> None:
    rows.task(status="SUCCESSFUL", idempotency_key="import:1", finished=10)
    [result] = bulk.enqueue_many(tasks.record, [bulk.Call(kwargs={"key": "k"}, idempotency_key="import:1")])
    assert TaskRecord.objects.get(pk=result.id).status == "READY"


@pytest.mark.django_db(transaction=True)
def test_the_first_due_tasks_get_a_message_after_commit_the_others_wait_for_the_workers(
    layer_messages: Callable[[str], list[dict[str, object]]],
) -> None:
    with transaction.atomic():
        results = bulk.enqueue_many(tasks.record, [{"key": f"k{n}"} for n in range(bulk.WAKE_UP + 50)])
        outbox.flush()
        assert layer_messages("default") == []
    outbox.flush()
    assert len(layer_messages("default")) == bulk.WAKE_UP
    unsent = TaskRecord.objects.filter(pk__in=[result.id for result in results], notified_at__isnull=True)
    assert unsent.count() == 50  # the dispatcher sends these, or a worker with free slots takes them first


def test_the_call_is_logged_and_published_as_one_event(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="retry.tasks")
    bulk.enqueue_many(tasks.record, [{"key": f"k{n}"} for n in range(300)])
    [line] = [record for record in caplog.records if record.name == "retry.tasks"]
    assert (vars(line)["change"], vars(line)["count"], vars(line)["task_name"], vars(line)["queue"]) == (
        "enqueued_many",
        300,
        "tests.tasks.record",
        "default",
    )


def test_a_task_of_another_backend_is_refused(settings: Settings) -> None:
    from django.tasks import task

    settings.TASKS = {**settings.TASKS, "immediate": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    elsewhere = task(backend="immediate")(tasks.record.func)
    with pytest.raises(Exception, match="not a RetryBackend"):
        bulk.enqueue_many(elsewhere, [{"key": "k"}])


def test_a_row_written_in_bulk_holds_what_a_single_enqueue_writes() -> None:
    """Every column, through COPY on PostgreSQL: the options of the task, its policy, its times, its arguments."""
    task = tasks.on_emails_queue.using(run_after=timezone.now() + timedelta(minutes=5))
    kwargs = {"key": "zürich \u2603 \U0001f370"}
    single = TaskRecord.objects.get(pk=task.enqueue(key=kwargs["key"]).id)
    [bulked] = bulk.enqueue_many(task, [kwargs])
    stored = TaskRecord.objects.get(pk=bulked.id)
    own = {"id", "enqueued_at", "run_after", "notified_at"}
    columns = [field.attname for field in TaskRecord._meta.local_concrete_fields if field.attname not in own]
    assert {name: getattr(stored, name) for name in columns} == {name: getattr(single, name) for name in columns}
    assert stored.run_after - stored.enqueued_at == pytest.approx(timedelta(minutes=5), abs=timedelta(seconds=5))
    assert (stored.notified_at, stored.status, stored.kwargs) == (None, "READY", kwargs)
