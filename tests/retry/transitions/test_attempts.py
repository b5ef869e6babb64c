"""The transitions of an attempt: claims of named tasks and of a queue's backlog, fenced endings, lease renewals."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection
from django.tasks.base import TaskResultStatus as Status
from django.utils import timezone

from retry import clock, transitions
from retry.dispatcher import Dispatcher
from retry.models import TaskRecord
from retry.policy import RetryDecision
from tests import tasks
from tests.retry.conftest import enqueued

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]
LONG_AGO = timedelta(hours=1)


def enqueue(key: str, task=tasks.record, **changes: object) -> str:  # type: ignore[no-untyped-def]
    return str(enqueued(key, task, **changes).pk)


def test_named_tasks_are_claimed_once_each_in_one_call() -> None:
    first, second = enqueue("a"), enqueue("b")
    running = enqueue("c")
    assert transitions.claim(running, "worker-0") is not None

    claimed = transitions.claim_many([first, second, first, running], "worker-1")

    assert sorted(str(record.pk) for record in claimed) == sorted([first, second])
    assert {(record.status, record.attempts, record.worker_id) for record in claimed} == {
        (Status.RUNNING, 1, "worker-1")
    }
    assert transitions.claim_many([first, second], "worker-2") == []  # already running


def test_free_slots_take_the_backlog_by_priority_then_due_time_and_only_from_the_workers_queues() -> None:
    now = clock.db_now()
    named = enqueue("named")
    old = enqueue("old", run_after=now - timedelta(minutes=5))
    new = enqueue("new", run_after=now - timedelta(minutes=1))
    urgent = enqueue("urgent", priority=10)
    enqueue("later", run_after=now + timedelta(hours=1))  # not due
    enqueue("overdue", expires_at=now - timedelta(minutes=1))  # past its start-by deadline
    enqueue("elsewhere", task=tasks.on_emails_queue)  # another queue

    claimed = transitions.claim_many([named], "worker-1", queues=["default"], more=2)

    assert {str(record.pk) for record in claimed} == {named, urgent, old}
    everything = transitions.claim_many([], "worker-1", queues=["default"], more=10)
    assert {str(record.pk) for record in everything} == {new}
    assert transitions.claim_many([], "worker-1", queues=[], more=10) == []  # a worker of no queue takes nothing


def test_the_backlog_of_several_queues_is_taken_by_priority_across_them() -> None:
    low = enqueue("low")  # default queue, priority 0
    high = enqueue("high", task=tasks.on_emails_queue)  # emails queue, priority 5
    both = ["default", "emails"]

    assert [str(record.pk) for record in transitions.claim_many([], "worker-1", queues=both, more=1)] == [high]
    assert [str(record.pk) for record in transitions.claim_many([], "worker-1", queues=both, more=5)] == [low]


def test_a_claim_takes_its_named_tasks_and_the_backlog_of_several_queues_in_one_statement() -> None:
    named = enqueue("named", task=tasks.on_emails_queue, priority=-10)  # below the backlog's best two
    low, high = enqueue("low"), enqueue("high", task=tasks.on_emails_queue)
    enqueue("lowest", priority=-5)

    claimed = transitions.claim_many([named], "worker-1", queues=["default", "emails"], more=2)

    assert {str(record.pk) for record in claimed} == {named, high, low}


def test_a_lease_renewal_skips_a_row_another_statement_is_ending_instead_of_waiting_for_it() -> None:
    from django.db import connections

    if connections["default"].vendor != "postgresql":
        pytest.skip("row locks are a PostgreSQL matter; SQLite has one writer at a time")
    busy, free = (transitions.claim(enqueue(key), "worker-1") for key in ("busy", "free"))
    assert busy is not None and free is not None
    ending = connections.create_connection("default")  # a second connection, as a batch of successes would use
    try:
        ending.set_autocommit(False)
        with ending.cursor() as cursor:
            cursor.execute("SELECT id FROM retry_taskrecord WHERE id = %s FOR UPDATE", [busy.pk])
        assert transitions.renew_leases("worker-1", [str(busy.pk), str(free.pk)]) == 1
    finally:
        ending.rollback()
        ending.close()
    renewed = TaskRecord.objects.get(pk=free.pk)
    assert renewed.lease_until is not None and free.lease_until is not None
    assert renewed.lease_until > free.lease_until
    assert TaskRecord.objects.get(pk=busy.pk).lease_until == busy.lease_until


def test_a_late_finisher_overwrites_nothing() -> None:
    record = transitions.claim(enqueue("late"), "worker-1")
    assert record is not None
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


def test_a_failed_attempt_and_its_retry_are_stamped_with_one_moment() -> None:
    # The retry is due exactly its delay after the attempt ended: the two rows are written by two statements, and a
    # retry waiting out a lease must not start a few milliseconds before the lease's end.
    record = transitions.claim(enqueue("retried"), "worker-1")
    assert record is not None

    assert transitions.fail(record, ValueError("once"), RetryDecision(1.5, "retry"), duration=0.1) is True

    task = TaskRecord.objects.get(pk=record.pk)
    (attempt,) = task.attempt_set.all()
    assert task.run_after - attempt.finished_at == timedelta(seconds=1.5)


def test_a_lost_attempt_and_its_recovery_are_stamped_with_one_moment() -> None:
    record = transitions.claim(enqueue("lost"), "worker-1")
    assert record is not None
    TaskRecord.objects.filter(pk=record.pk).update(lease_until=timezone.now() - LONG_AGO)
    Dispatcher().tick()

    task = TaskRecord.objects.get(pk=record.pk)
    (attempt,) = task.attempt_set.all()
    assert attempt.next_delay is not None
    assert task.run_after - attempt.finished_at == timedelta(seconds=attempt.next_delay)


def test_successes_written_together_are_all_or_nothing() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the shared write is one statement on PostgreSQL; SQLite writes them in one transaction")
    # A forgotten task's row is deleted by a statement of its own after the shared write: if that statement is
    # refused, no success of the batch stays written, so that each can be written again on its own.
    kept = transitions.claim(enqueue("kept"), "worker-1")
    forgotten = transitions.claim(enqueue("forgotten", task=tasks.forgettable), "worker-1")
    assert kept is not None and forgotten is not None
    with connection.cursor() as cursor:
        cursor.execute(REFUSE_DELETES)
    try:
        with pytest.raises(DatabaseError):
            transitions.succeed_many([(kept, "value", 0.1), (forgotten, None, 0.1)])
        assert TaskRecord.objects.get(pk=kept.pk).status == Status.RUNNING
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER refuse_deletes ON retry_taskrecord")
    assert transitions.succeed(kept, "value", duration=0.1) is True


REFUSE_DELETES = """
CREATE OR REPLACE FUNCTION refuse_delete() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'deletes refused'; END $$ LANGUAGE plpgsql;
CREATE TRIGGER refuse_deletes BEFORE DELETE ON retry_taskrecord FOR EACH ROW EXECUTE FUNCTION refuse_delete();
"""
