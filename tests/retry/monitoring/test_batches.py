"""Batch actions: the request returns at once, a worker runs the batch task to its end, 500 tasks a transaction,
and a batch task run again carries on where it stopped."""

import asyncio
import logging
from pathlib import Path
from typing import Any, cast

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission
from django.db import connection
from django.tasks.base import TaskResultStatus as Status
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from retry.models import AuditEntry, TaskRecord
from retry.monitoring import batches, operations, search
from tests.conftest import running_worker, uses_services
from tests.retry.rows import task

pytestmark = [pytest.mark.services]
#: The matches of the large batch test: 100,000 on PostgreSQL (a minute); 10,000 in the SQLite pass, where the
#: request and the batches behave the same and the minute is better spent elsewhere.
MANY = 100_000 if uses_services() else 10_000


def insert_ready(count: int, queue: str) -> None:
    """``count`` ready tasks in one statement: copies of a first one, each with an id of its own and kwargs {"n": i}."""
    first = task(queue)
    columns = [cast(str, field.column) for field in TaskRecord._meta.concrete_fields]
    copied = ", ".join(column for column in columns if column not in ("id", "kwargs"))
    if connection.vendor == "postgresql":
        series, new_id, kwargs = (
            "generate_series(1, %s) AS series(i)",
            "gen_random_uuid()",
            "jsonb_build_object('n', i)",
        )
        with_series = ""
    else:
        with_series = "WITH RECURSIVE series(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM series WHERE i < %s) "
        series, new_id, kwargs = "series", "lower(hex(randomblob(16)))", "json_object('n', i)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"{with_series}INSERT INTO retry_taskrecord (id, kwargs, {copied}) "
            f"SELECT {new_id}, {kwargs}, {copied} FROM retry_taskrecord, {series} WHERE retry_taskrecord.id = %s",
            [count, first.pk.hex if connection.vendor == "sqlite" else first.pk],
        )
    first.delete()


def operator_client() -> Client:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("otto", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_taskrecord", "change_taskrecord"]))
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(600)
async def test_cancelling_100_000_matches_on_postgresql_returns_at_once_and_a_worker_finishes_the_batch(
    layer: Any, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Waits for a worker to go through MANY rows, a log line and a signal for each: a minute on PostgreSQL.
    settings.STATIC_ROOT = tmp_path
    caplog.set_level(logging.ERROR, logger="retry.tasks")  # 100,000 "cancelled" lines would only slow it down
    caplog.set_level(logging.ERROR, logger="django.tasks")
    await sync_to_async(insert_ready)(MANY, "emails")
    client = await sync_to_async(operator_client)()
    data = {"action": "cancel", "queue": "emails", "confirmed": "yes"}
    response = await sync_to_async(client.post)(reverse("admin:retry_search_act"), data)
    entry = await sync_to_async(AuditEntry.objects.get)()
    assert response.status_code == 302
    # The request counted the matches and enqueued the batch task; no task was touched.
    assert (entry.total, entry.processed, entry.state) == (MANY, 0, AuditEntry.State.RUNNING)
    assert await sync_to_async(TaskRecord.objects.filter(queue="emails", status=Status.READY).count)() == MANY

    async with running_worker(["default"], dispatcher=False):
        # Read once a second: on SQLite, a reader 50 times a second slows the batch's writes down.
        while not await sync_to_async(lambda: AuditEntry.objects.get().finished)():
            await asyncio.sleep(1)

    entry = await sync_to_async(AuditEntry.objects.get)()
    assert (entry.processed, entry.changed) == (MANY, MANY)
    cancelled = TaskRecord.objects.filter(queue="emails", status=Status.FAILED, error_class__endswith="TaskCancelled")
    assert await sync_to_async(cancelled.count)() == MANY
    batch_task = await sync_to_async(TaskRecord.objects.get)(pk=entry.task_id)
    assert batch_task.status == Status.SUCCESSFUL
    assert batch_task.return_value == {"processed": MANY, "changed": MANY}


@pytest.mark.django_db
def test_a_batch_task_run_again_carries_on_after_the_last_batch_that_committed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(operations, "BATCH_SIZE", 3)
    for n in range(7):
        task("emails", Status.FAILED, finished=10, attempts=3, kwargs={"n": n})
    entry = batches.start("retry_now", search.read({"queue": ["emails"]}), "otto", enqueue=False)
    calls = []

    def failing_second(ids: list[str]) -> int:
        calls.append(len(ids))
        if len(calls) == 2:
            raise ConnectionError("database went away")
        return operations.retry_batch(ids)

    monkeypatch.setitem(operations.BATCH_ACTIONS, "retry_now", failing_second)
    with pytest.raises(ConnectionError):
        batches.run(entry.pk)
    entry.refresh_from_db()
    assert (entry.processed, entry.changed, entry.state) == (3, 3, AuditEntry.State.RUNNING)
    assert TaskRecord.objects.filter(status=Status.READY).count() == 3  # the failed batch rolled back

    finished = batches.run(entry.pk)  # the batch task's retry
    assert (finished.processed, finished.changed, finished.state) == (7, 7, AuditEntry.State.DONE)
    assert calls == [3, 3, 3, 1]
    assert batches.run(entry.pk).processed == 7  # once finished, a duplicate run does nothing more
    assert calls == [3, 3, 3, 1]


@pytest.mark.django_db
def test_a_large_batch_action_carries_on_in_a_task_of_its_own_after_each_bounded_attempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from retry.monitoring import batch_task

    monkeypatch.setattr(operations, "BATCH_SIZE", 2)
    monkeypatch.setattr(batch_task, "PER_ATTEMPT", 4)
    for n in range(7):
        task("emails", Status.FAILED, finished=10, attempts=3, kwargs={"n": n})
    entry = batches.start("retry_now", search.read({"queue": ["emails"]}), "otto")
    first = entry.task_id
    assert batch_task.run_batch_action.call(entry.pk) == {"processed": 4, "changed": 4}
    entry.refresh_from_db()
    assert entry.state == AuditEntry.State.RUNNING and entry.task_id != first
    continuation = TaskRecord.objects.get(pk=entry.task_id)
    assert (continuation.task_path, continuation.args, continuation.status) == (batches.BATCH_TASK, [entry.pk], "READY")
    assert batch_task.run_batch_action.call(entry.pk) == {"processed": 7, "changed": 7}
    entry.refresh_from_db()
    assert entry.state == AuditEntry.State.DONE and entry.task_id == str(continuation.pk)  # nothing more enqueued


@pytest.mark.django_db
def test_a_filter_never_matches_batch_actions_so_one_never_cancels_another() -> None:
    from retry.monitoring import batch_task

    assert f"{batch_task.__name__}.run_batch_action" == batches.BATCH_TASK
    for n in range(3):
        task("emails", Status.SUCCESSFUL, finished=10, kwargs={"n": n})
    purge = batches.start("purge", search.TaskFilter(), "alice")  # enqueued, READY, not yet run
    cancel = batches.start("cancel", search.TaskFilter(), "bob", enqueue=False)
    assert batches.run(cancel.pk).total == 0
    assert TaskRecord.objects.get(pk=purge.task_id).status == Status.READY
    assert batches.run(purge.pk).changed == 3  # it runs, and its audit row ends
    purge.refresh_from_db()
    assert purge.state == AuditEntry.State.DONE


@pytest.mark.django_db
def test_an_action_goes_only_through_the_tasks_it_can_change() -> None:
    task("emails", Status.FAILED, finished=10)
    task("emails", Status.SUCCESSFUL, finished=10)
    task("emails")
    totals = {action: batches.matches(action, search.read({"queue": "emails"})).count() for action in batches.ELIGIBLE}
    assert totals == {"retry_now": 1, "cancel": 1, "purge": 2}
    with pytest.raises(ValueError, match="'requeue_dead' is no action on a filter"):
        batches.start("requeue_dead", search.read({}), "otto")
