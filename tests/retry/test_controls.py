"""Queue controls in the claim: paused queues left out, concurrency and rate limits kept by the claim itself."""

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.db.utils import IntegrityError
from django.test.utils import CaptureQueriesContext

from retry import clock, controls, transitions
from retry.dispatcher import Dispatcher
from retry.models import QueuePause, TaskLimit, TaskRecord
from retry.monitoring import operations
from tests import tasks
from tests.retry.worker.test_claiming import enqueue

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]
RECORD = "tests.tasks.record"
SLEEPS = "tests.tasks.sleeps"


@pytest.fixture(autouse=True)
def fresh_controls() -> Iterator[None]:
    """Each test reads the pauses and limits of its own database, and leaves no cached view to the next one."""
    controls.forget()
    yield
    controls.forget()


def limit(task_path: str = RECORD, **numbers: object) -> TaskLimit:
    made = TaskLimit.objects.create(task_path=task_path, **numbers)
    controls.forget()
    return made


def backlog(worker: str = "worker-1", more: int = 10, queues: tuple[str, ...] = ("default",)) -> list[TaskRecord]:
    return transitions.claim_many([], worker, queues=list(queues), more=more)


def running_of(task_path: str) -> list[object]:
    return list(TaskRecord.objects.filter(task_path=task_path, status="RUNNING").values_list("pk", flat=True))


def running(task_path: str = RECORD) -> int:
    return TaskRecord.objects.filter(task_path=task_path, status="RUNNING").count()


def test_a_paused_queue_is_claimed_by_no_one_until_it_is_resumed() -> None:
    queued = [enqueue(f"cake-{n}") for n in range(3)]
    emails = enqueue("email", task=tasks.on_emails_queue)
    assert operations.pause(["default"], "ops") == 1
    assert operations.pause(["default"], "ops") == 0  # paused already

    assert backlog(queues=("default",)) == []
    assert transitions.claim(queued[0], "worker-1") is None  # a message naming it claims nothing either
    assert [str(task.pk) for task in backlog(queues=("default", "emails"))] == [emails]  # other queues run on

    assert operations.resume(["default"], "ops") == 1
    assert {str(task.pk) for task in backlog()} == set(queued)


def test_the_pause_is_a_row_and_shows_who_paused() -> None:
    operations.pause(["emails"], "alice")
    assert list(QueuePause.objects.values_list("queue", "paused_by")) == [("emails", "alice")]
    assert controls.current().paused == {"emails"}


def test_pausing_an_unknown_queue_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'bulk' is not a queue of a retry backend"):
        operations.pause(["bulk"], "ops")
    assert not QueuePause.objects.exists()


def test_a_worker_sees_a_pause_made_elsewhere_within_the_ttl() -> None:
    enqueue("cake")
    assert controls.current().paused == frozenset()
    QueuePause.objects.create(queue="default", paused_by="another process")  # not through this process
    time.sleep(controls.TTL + 0.05)
    assert backlog() == []


def test_the_dispatcher_sends_nothing_of_a_paused_queue_and_everything_once_resumed() -> None:
    operations.pause(["default"], "ops")
    ids = {enqueue(f"cake-{n}") for n in range(3)}
    TaskRecord.objects.update(notified_at=clock.db_now() - timedelta(hours=1))  # their messages long expired
    assert Dispatcher().tick()["sent"] == 0

    operations.resume(["default"], "ops")
    unsent = TaskRecord.objects.filter(notified_at__isnull=True).values_list("pk", flat=True)
    assert {str(pk) for pk in unsent} == ids  # resumed: sent at the next pass, not after the message expiry
    assert Dispatcher().tick()["sent"] == 3


def test_a_concurrency_limit_caps_the_running_tasks_of_a_name_across_claims() -> None:
    limit(concurrency=2)
    for n in range(5):
        enqueue(f"cake-{n}")
    other = enqueue("email", task=tasks.on_emails_queue)

    first = backlog("worker-1", queues=("default", "emails"))
    assert len([task for task in first if task.task_path == RECORD]) == 2
    assert other in {str(task.pk) for task in first}  # names without a limit are not held back
    assert first.held_back  # type: ignore[attr-defined]
    assert backlog("worker-2") == []  # full: another worker takes none

    transitions.succeed(first[0] if first[0].task_path == RECORD else first[1], "done", 0.1)
    assert len(backlog("worker-2")) == 1
    assert running() == 2


def test_a_full_limit_holds_back_only_its_name() -> None:
    limit(concurrency=1)
    for n in range(3):
        enqueue(f"cake-{n}", priority=5)  # the limited name comes first in the backlog
    others = {enqueue(f"nap-{n}", task=tasks.sleeps) for n in range(3)}

    # The first claim reads the first four of the backlog and may start one of the limited name.
    assert sorted(task.task_path for task in backlog(more=4)) == [RECORD, SLEEPS]
    # Once the limit is full, claims read past its tasks.
    assert {str(task.pk) for task in backlog(more=4)} | {str(pk) for pk in running_of(SLEEPS)} == others
    assert running() == 1


def test_a_rate_limit_allows_its_starts_per_period_then_says_when_the_next_may_start() -> None:
    limit(rate=3, period=60)
    for n in range(5):
        enqueue(f"cake-{n}")

    first = backlog()
    assert len(first) == 3
    for task in first:
        transitions.succeed(task, "done", 0.01)  # ended: a rate counts starts, not running tasks
    second = backlog()
    assert second == []
    assert second.held_back  # type: ignore[attr-defined]
    assert 55 < second.retry_in <= 60  # type: ignore[attr-defined]

    starts = TaskLimit.objects.get().recent_starts  # the period moves on: the starts leave it
    TaskLimit.objects.update(recent_starts=[start - 61 for start in starts])
    assert len(backlog()) == 2


def test_a_rate_limit_counts_starts_across_workers() -> None:
    limit(rate=4, period=60)
    for n in range(10):
        enqueue(f"cake-{n}")
    assert len(backlog("worker-1", more=3)) + len(backlog("worker-2", more=3)) + len(backlog("worker-3")) == 4


def test_without_pause_or_limit_the_claim_is_the_plain_statement() -> None:
    enqueue("cake")
    controls.forget()
    controls.current()
    with CaptureQueriesContext(connections["default"]) as statements:
        assert len(backlog()) == 1
    assert len(statements.captured_queries) == 1  # one statement, as before queue controls
    assert "retry_tasklimit" not in statements.captured_queries[0]["sql"]


def test_a_deleted_limit_no_longer_holds_anything_back() -> None:
    made = limit(concurrency=1)
    for n in range(3):
        enqueue(f"cake-{n}")
    assert len(backlog()) == 1
    made.delete()
    controls.forget()
    assert len(backlog()) == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent claims from several connections")
def test_concurrent_claims_never_run_more_than_the_limit() -> None:
    limit(concurrency=3)
    for n in range(40):
        enqueue(f"cake-{n}")
    start = threading.Barrier(8)
    taken: list[int] = []

    def claimer(number: int) -> None:
        try:
            connections["default"].ensure_connection()  # connected: the claims alone race after the barrier
            start.wait()
            for _ in range(5):
                taken.append(len(backlog(f"worker-{number}", more=4)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claimer, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(taken) == running() == 3


def test_the_database_refuses_a_limit_that_limits_nothing_or_cannot_work() -> None:
    for numbers in ({}, {"concurrency": 0}, {"rate": 0}, {"rate": 1_001}, {"rate": 5, "period": 0}):
        with pytest.raises(IntegrityError), transaction.atomic():
            TaskLimit.objects.create(task_path=RECORD, **numbers)
    assert not TaskLimit.objects.exists()


def test_a_paused_queue_still_expires_its_tasks_past_their_deadline() -> None:
    operations.pause(["default"], "ops")
    late = enqueue("late", expires_at=clock.db_now() - timedelta(seconds=1))
    assert Dispatcher().tick()["expired"] == 1
    assert TaskRecord.objects.get(pk=late).status == "FAILED"


def test_a_lost_task_holds_its_slot_until_its_lease_expires() -> None:
    limit(concurrency=1)
    first, second = enqueue("first"), enqueue("second")
    assert [str(task.pk) for task in backlog()] == [first]  # its worker dies now
    assert backlog() == []
    TaskRecord.objects.filter(pk=first).update(lease_until=clock.db_now() - timedelta(seconds=1))
    assert Dispatcher().tick()["recovered"] == 1
    assert len(backlog()) == 1  # the slot is free again: one of the two runs
    assert {str(task.pk) for task in TaskRecord.objects.filter(status="RUNNING")} <= {first, second}
