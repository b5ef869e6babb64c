"""Tasks run by a real worker over the channel layer: in-memory and SQLite, then Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError, transaction
from django.tasks import Task
from django.tasks.base import TaskResultStatus as Status
from pytest_django import Settings

from retry import conf, transitions
from retry.models import RUN_ALONE_AFTER, Outcome, TaskAttempt, TaskRecord
from retry.worker import runner, threads
from retry.worker.process import RetryWorker
from tests import tasks
from tests.conftest import running_worker
from tests.retry.conftest import all_finished, effects, runs, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


@sync_to_async
def attempts_of(task_id: str) -> list[TaskAttempt]:
    return list(TaskAttempt.objects.filter(task_id=task_id).order_by("number"))  # type: ignore[misc]  # Django takes a UUID's text; the plugin wants a UUID


@sync_to_async
def record_of(task_id: str) -> TaskRecord:
    return TaskRecord.objects.get(pk=task_id)


async def test_a_task_runs_once_and_keeps_its_result(worker: RetryWorker) -> None:
    result = await tasks.record.aenqueue("plain")
    await wait_for(all_finished, what="the task to finish")
    await result.arefresh()
    assert result.status == Status.SUCCESSFUL
    assert result.return_value == "plain"
    assert result.attempts == 1
    assert await sync_to_async(runs)("plain") == 1


async def test_a_task_that_fails_twice_then_succeeds_ends_successful_after_three_attempts(worker: RetryWorker) -> None:
    result = await tasks.fails_then_succeeds.aenqueue("flaky", failures=2)
    await wait_for(all_finished, what="the retries to finish")
    record = await record_of(result.id)
    attempts = await attempts_of(result.id)
    assert record.status == Status.SUCCESSFUL
    assert record.attempts == 3
    assert [a.outcome for a in attempts] == [Outcome.RETRIED, Outcome.RETRIED, Outcome.SUCCEEDED]
    # The recorded delays follow the policy: base 0.05 s doubling, no jitter in tests, capped at 0.5 s.
    assert [a.next_delay for a in attempts] == [pytest.approx(0.05), pytest.approx(0.1), None]
    assert attempts[1].started_at - attempts[0].finished_at >= timedelta(seconds=0.05)
    assert "run 2 of flaky fails on purpose" in attempts[1].error_message


async def test_a_task_that_always_fails_ends_failed_after_max_attempts(worker: RetryWorker) -> None:
    result = await tasks.always_fails.aenqueue("doomed")
    await wait_for(all_finished, what="the task to be given up")
    record = await record_of(result.id)
    assert record.status == Status.FAILED
    assert record.attempts == record.max_attempts == 3
    assert record.error_class == "tests.tasks.Flaky"
    assert await sync_to_async(runs)("doomed") == 3
    await result.arefresh()
    assert [e.exception_class_path for e in result.errors] == ["tests.tasks.Flaky"] * 3


@pytest.mark.parametrize(
    ("task", "error_class"),
    [
        (tasks.gives_up_on_key_error, "builtins.KeyError"),  # listed in give_up_on
        (tasks.retries_only_flaky, "builtins.ValueError"),  # not in retry_on
        (tasks.raises_give_up, "retry.policy.GiveUp"),  # the task says so
        (tasks.returns_non_json, "builtins.TypeError"),  # a result that is not JSON, as Django's docs say
    ],
)
async def test_exception_rules_give_up_at_once(worker: RetryWorker, task: Task[..., Any], error_class: str) -> None:
    key = f"rule-{uuid.uuid4().hex[:8]}"
    result = await task.aenqueue(key)
    await wait_for(all_finished, what="the task to be given up")
    record = await record_of(result.id)
    assert (record.status, record.attempts, record.error_class) == (Status.FAILED, 1, error_class)


@pytest.mark.parametrize("how", ["SystemExit", "exit", "KeyboardInterrupt"])
@pytest.mark.parametrize("task", [tasks.ends_its_process, tasks.async_ends_its_process])
async def test_a_task_that_raises_what_ends_a_process_fails_alone_and_the_worker_runs_on(
    worker: RetryWorker, task: Task[..., Any], how: str
) -> None:
    bystander = await tasks.sleeps.aenqueue("bystander", seconds=0.5)
    await wait_for(lambda: runs("bystander") == 1, what="the bystander to start")
    result = await task.aenqueue("ender", how=how)
    await wait_for(all_finished, what="both tasks to finish")

    record = await record_of(result.id)
    expected = "builtins.KeyboardInterrupt" if how == "KeyboardInterrupt" else "builtins.SystemExit"
    assert (record.status, record.attempts, record.error_class) == (Status.FAILED, 2, expected)
    assert [a.outcome for a in await attempts_of(result.id)] == [Outcome.RETRIED, Outcome.FAILED]
    bystander_record = await record_of(bystander.id)
    assert (bystander_record.status, bystander_record.attempts) == (Status.SUCCESSFUL, 1)
    after = await tasks.record.aenqueue("after-ender")
    await wait_for(all_finished, what="a later task")
    assert (await record_of(after.id)).status == Status.SUCCESSFUL


@sync_to_async
def enqueue_beside(kind: str, bystanders: int) -> tuple[str, list[str]]:
    """One task returning a ``kind`` of hostile value among ``bystanders`` plain ones, all due at once."""
    with transaction.atomic():
        ids = [tasks.record.enqueue(f"beside-{number}").id for number in range(bystanders)]
        return tasks.returns_hostile.enqueue("hostile", kind=kind).id, ids


@pytest.mark.parametrize(
    ("kind", "error_class", "message"),
    [
        ("nan", "builtins.ValueError", "the return value is nan, which JSON cannot hold"),
        ("infinity", "builtins.ValueError", "the return value[1]['deep'] is -inf, which JSON cannot hold"),
        ("nul", "builtins.ValueError", "the return value['text'] contains a NUL character"),
        ("nul-in-key", "builtins.ValueError", "the return value key 'a\\x00' contains a NUL character"),
        ("lone-surrogate", "builtins.ValueError", "the return value[0] contains a lone surrogate"),
        ("too-deep", "builtins.ValueError", "the return value is nested too deeply"),
        ("datetime", "builtins.TypeError", "Unsupported type: <class 'datetime.datetime'>"),
        ("set", "builtins.TypeError", "Unsupported type: <class 'set'>"),
    ],
)
async def test_a_return_value_the_database_cannot_store_fails_its_task_alone_and_at_once(
    worker: RetryWorker, kind: str, error_class: str, message: str
) -> None:
    hostile, bystanders = await enqueue_beside(kind, bystanders=2 * conf.get().CONCURRENCY)
    await wait_for(all_finished, what="every task to finish")

    record = await record_of(hostile)
    assert (record.status, record.attempts, record.error_class) == (Status.FAILED, 1, error_class)
    assert message in record.error_message
    assert await sync_to_async(runs)("hostile") == 1
    finished = [await record_of(task_id) for task_id in bystanders]
    assert {(task.status, task.attempts) for task in finished} == {(Status.SUCCESSFUL, 1)}
    assert [await sync_to_async(runs)(f"beside-{number}") for number in range(len(bystanders))] == [1] * len(bystanders)


@pytest.mark.django_db(transaction=True)
async def test_a_batch_of_successes_the_database_refuses_is_written_row_by_row_and_harms_no_other_row(
    layer: Any,
) -> None:
    ids = [(await tasks.record.aenqueue(f"good-{number}")).id for number in range(3)]
    claimed = await sync_to_async(transitions.claim_many)(ids, "worker-1")
    worker = runner.Runner(queues=["default"])
    # NaN slipped past the checks: both databases refuse it, and with it the whole batched statement.
    values = ["ok", float("nan"), "ok"]

    written = await worker._succeed_many([(record, value, 0.1) for record, value in zip(claimed, values, strict=True)])

    assert written == [True, False, True]
    finished = [await record_of(str(record.pk)) for record in claimed]
    assert [(task.status, task.attempts) for task in finished] == [
        (Status.SUCCESSFUL, 1),
        (Status.FAILED, 1),
        (Status.SUCCESSFUL, 1),
    ]
    assert finished[1].error_class in {"django.db.utils.DataError", "django.db.utils.IntegrityError"}
    await asyncio.get_running_loop().run_in_executor(None, threads.close_thread_connections, worker._executor)


@pytest.mark.django_db(transaction=True)
async def test_a_row_that_meets_another_database_error_waits_for_its_lease_and_the_rest_of_the_batch_is_written(
    layer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [(await tasks.record.aenqueue(f"good-{number}")).id for number in range(3)]
    claimed = await sync_to_async(transitions.claim_many)(ids, "worker-1")
    worker = runner.Runner(queues=["default"])
    succeed_many = transitions.succeed_many

    def deadlocked_on_the_first(results: list[tuple[TaskRecord, object, float]]) -> list[bool]:
        if any(str(record.pk) == str(claimed[0].pk) for record, _, _ in results):
            raise OperationalError("deadlock detected")  # the batch, then that row alone
        return succeed_many(results)

    monkeypatch.setattr(transitions, "succeed_many", deadlocked_on_the_first)
    monkeypatch.setattr(transitions.attempts, "succeed_many", deadlocked_on_the_first)  # what succeed() calls
    written = await worker._succeed_many([(record, "ok", 0.1) for record in claimed])

    assert written == [False, True, True]
    finished = [await record_of(str(record.pk)) for record in claimed]
    assert [task.status for task in finished] == [Status.RUNNING, Status.SUCCESSFUL, Status.SUCCESSFUL]
    await asyncio.get_running_loop().run_in_executor(None, threads.close_thread_connections, worker._executor)


async def test_a_task_recovered_more_than_once_runs_alone_once_the_others_end_and_nothing_starts_beside_it(
    worker: RetryWorker,
) -> None:
    before = [await tasks.sleeps_timed.aenqueue(f"before-{number}", seconds=0.4) for number in range(3)]
    await wait_for(lambda: all(runs(f"before-{number}") for number in range(3)), what="the first tasks to start")
    alone = await sync_to_async(enqueue_recovered)(RUN_ALONE_AFTER)
    after = [await tasks.sleeps_timed.aenqueue(f"after-{number}", seconds=0.1) for number in range(3)]
    await wait_for(all_finished, what="every task to finish")

    record = await record_of(alone)
    assert (record.status, record.attempts, record.recoveries, record.failures) == (
        Status.SUCCESSFUL,
        RUN_ALONE_AFTER + 1,
        RUN_ALONE_AFTER,
        1,
    )
    assert record.return_value is not None
    started, ended = record.return_value
    for other in [await record_of(result.id) for result in before + after]:
        assert (other.status, other.attempts) == (Status.SUCCESSFUL, 1)
        assert other.return_value is not None
        other_started, other_ended = other.return_value
        assert other_ended <= started or other_started >= ended  # none overlapped the task that ran alone


def enqueue_recovered(recoveries: int) -> str:
    """A task lost ``recoveries`` times beside others, as the dispatcher leaves it."""
    with transaction.atomic():
        task_id = tasks.sleeps_timed.enqueue("alone", seconds=0.3).id
        TaskRecord.objects.filter(pk=task_id).update(attempts=recoveries, recoveries=recoveries)
    return task_id


def priority_inversions(task_ids: list[str]) -> tuple[int, int]:
    """Pairs of ``task_ids`` where the one of higher priority was claimed later, and the number of pairs."""
    claims = [
        (priority, cast(datetime, started_at))
        for priority, started_at in TaskRecord.objects.filter(pk__in=task_ids).values_list("priority", "started_at")
    ]
    pairs = list(itertools.combinations(claims, 2))
    return sum(1 for (p1, s1), (p2, s2) in pairs if (p1 - p2) * ((s1 - s2).total_seconds()) > 0), len(pairs)


async def test_a_free_slot_takes_the_highest_priority_due_task_whichever_message_woke_it(
    layer: Any, transactional_db: None, settings: Settings
) -> None:
    settings.RETRY_CONCURRENCY = 4
    priorities = random.Random(5).sample(range(32), 32)
    async with running_worker(["default"]):
        await sync_to_async(lambda: [tasks.sleeps.enqueue(f"busy-{n}", seconds=1) for n in range(4)])()
        await wait_for(lambda: TaskRecord.objects.filter(status="RUNNING").count() == 4, what="every slot to be busy")
        # Messages go out in this order, one each; the priorities are shuffled.
        ordered = [(await tasks.record.using(priority=p).aenqueue(f"ordered-{p}")).id for p in priorities]
        await wait_for(lambda: not TaskRecord.objects.filter(pk__in=ordered, status="READY").exists(), what="all")

    assert await sync_to_async(priority_inversions)(ordered) == (0, 496)


async def test_a_task_can_ask_to_be_retried_after_a_delay(worker: RetryWorker, settings: Settings) -> None:
    result = await tasks.asks_for_retry.aenqueue("later", delay=0.3)
    await wait_for(all_finished, what="the requested retry")
    attempts = await attempts_of(result.id)
    assert [a.outcome for a in attempts] == [Outcome.RETRIED, Outcome.SUCCEEDED]
    assert attempts[0].next_delay == pytest.approx(0.3)
    assert attempts[1].started_at - attempts[0].finished_at >= timedelta(seconds=0.3)


async def test_async_task_functions_run_in_the_event_loop(worker: RetryWorker) -> None:
    result = await tasks.async_record.aenqueue("async")
    await wait_for(all_finished, what="the async task")
    await result.arefresh()
    # The stubs take an async task's result for its coroutine.
    assert (result.status, result.return_value) == (Status.SUCCESSFUL, "async")  # type: ignore[comparison-overlap]
    assert await sync_to_async(effects)("async") == 1


async def test_ignore_result_tasks_leave_no_row_once_they_succeed(worker: RetryWorker) -> None:
    result = await tasks.forgettable.aenqueue("gone")
    await wait_for(lambda: runs("gone") == 1 and all_finished(), what="the task")
    assert not await TaskRecord.objects.filter(pk=result.id).aexists()


async def test_tasks_receive_their_context(worker: RetryWorker) -> None:
    result = await tasks.knows_its_attempt.aenqueue("context")
    await wait_for(all_finished, what="the task")
    await result.arefresh()
    assert (result.status, result.return_value, result.attempts) == (Status.SUCCESSFUL, 2, 2)  # counted from 1


async def test_tasks_run_concurrently_up_to_the_limit(worker: RetryWorker) -> None:
    limit = conf.get().CONCURRENCY
    results = [await tasks.sleeps.aenqueue(f"slow-{i}", seconds=0.5) for i in range(limit)]
    await wait_for(lambda: TaskRecord.objects.filter(status="RUNNING").count() >= min(limit, 4), what="overlap")
    await wait_for(all_finished, what="the slow tasks")
    assert {(await record_of(r.id)).status for r in results} == {Status.SUCCESSFUL}


async def test_duplicate_and_stray_messages_are_harmless(worker: RetryWorker, layer: Any) -> None:
    result = await tasks.sleeps.aenqueue("dup", seconds=0.2)
    channel = conf.get().CHANNEL_PREFIX + "default"
    for message in [
        {"type": "task.run", "id": result.id},  # a duplicate
        {"type": "task.run", "id": result.id},  # and another
        {"type": "task.run", "id": str(uuid.uuid4())},  # an unknown id
        {"type": "task.run", "id": "not-a-uuid"},  # a bad id
        {"type": "task.run"},  # no id
        {"type": "something.else"},  # an unknown type
        {"id": result.id},  # no type at all: Channels' plain Worker would die here
    ]:
        await layer.send(channel, message)
    await wait_for(all_finished, what="the task")
    after = await tasks.record.aenqueue("after-strays")
    await wait_for(all_finished, what="a later task")
    assert await sync_to_async(runs)("dup") == 1
    assert (await record_of(after.id)).status == Status.SUCCESSFUL


async def test_a_task_enqueued_for_later_waits_for_its_time(worker: RetryWorker) -> None:
    from django.utils import timezone

    result = await tasks.record.using(run_after=timezone.now() + timedelta(seconds=0.6)).aenqueue("deferred")
    await asyncio.sleep(0.3)
    assert await sync_to_async(runs)("deferred") == 0
    await wait_for(all_finished, what="the deferred task")
    record = await record_of(result.id)
    assert record.started_at is not None
    assert record.started_at >= record.run_after


async def test_other_queues_are_served_on_their_own_channel(worker: RetryWorker) -> None:
    result = await tasks.on_emails_queue.aenqueue("emailish")
    await wait_for(all_finished, what="the emails-queue task")
    record = await record_of(result.id)
    assert (record.queue, record.priority, record.status) == ("emails", 5, Status.SUCCESSFUL)
