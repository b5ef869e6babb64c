"""Faults of the channel layer: Redis stops and comes back, a channel fills up, a worker sits idle a long time."""

import time
from typing import Any

import pytest

from retry.models import Heartbeat, TaskRecord
from tests import processes, tasks
from tests.faults.conftest import Faults, enqueue_many, unfinished, wait_for
from tests.faults.counts import Counts, count

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
NOTHING_WRONG = Counts(lost=0, duplicated=0, unexpected=0, recovered=0)
#: No process dies here: a lease of 10 s, so that no claim of a live worker on a loaded machine expires (the
#: harness's 1 s lease once made two tasks READY again while their worker still ran them, counted as recovered).
QUIET: dict[str, Any] = {"RETRY_LEASE": "10"}


def keys(prefix: str, number: int) -> list[str]:
    return [f"{prefix}-{index}" for index in range(number)]


@pytest.mark.timeout(90)
def test_tasks_enqueued_before_and_during_a_redis_outage_all_complete(faults: Faults) -> None:
    port = processes.free_port()
    redis = faults.redis(port)
    # Messages count as lost 3 s after they were sent, so the dispatcher sends again soon after Redis returns.
    faults.use_layer(redis_url=f"redis://127.0.0.1:{port}/0", expiry=3)
    faults.dispatcher(**QUIET)
    worker = faults.worker(RETRY_CONCURRENCY=2, **QUIET)
    # Slow tasks and two slots: most messages still wait in Redis when it dies.
    before = enqueue_many(tasks.sleeps, keys("before", 20), seconds=0.3)

    redis.kill()  # SIGKILL, no persistence: the queued messages are gone
    during = enqueue_many(tasks.record, keys("during", 20))  # the sends fail; the rows stay READY
    time.sleep(1)
    redis.start()
    processes.wait_until_listening(port)

    ids = {**before, **during}
    wait_for(lambda: unfinished(ids.values()) == 0, 45, "every task to complete after Redis came back")
    assert count(ids) == NOTHING_WRONG
    assert worker.alive()


@pytest.mark.timeout(60)
def test_tasks_refused_by_a_full_channel_all_complete_once_workers_start(faults: Faults) -> None:
    faults.use_layer(capacity=10)
    ids = {}
    for key in keys("full", 50):
        ids[key] = tasks.record.enqueue(key=key).id
        # One send at a time: concurrent sends can all pass channels-redis' capacity check before any lands.
        assert faults.flush_outbox()
    # The channel took 10 messages and refused 40 with ChannelFull: those rows wait for the dispatcher.
    assert TaskRecord.objects.filter(pk__in=ids.values(), notified_at__isnull=True).count() == 40

    faults.dispatcher(**QUIET)
    faults.worker("worker-1", **QUIET)
    faults.worker("worker-2", **QUIET)

    wait_for(lambda: unfinished(ids.values()) == 0, 40, "every task to complete")
    assert count(ids) == NOTHING_WRONG


@pytest.mark.timeout(60)
def test_a_worker_idle_longer_than_the_redis_socket_timeout_still_takes_tasks(faults: Faults) -> None:
    # No dispatcher: a message the worker lost would not be sent again, so only a healthy listener passes.
    worker = faults.worker(**QUIET)
    wait_for(lambda: Heartbeat.objects.filter(kind=Heartbeat.Kind.WORKER).exists(), 30, "the worker to start")
    time.sleep(8)  # redis-py's default socket timeout is 5 s; channels-redis blocks 5 s in BZPOPMIN

    ids = enqueue_many(tasks.record, ["after-idle"])

    wait_for(lambda: unfinished(ids.values()) == 0, 5, "the idle worker to run the task")
    assert count(ids) == NOTHING_WRONG
    assert worker.alive()
    assert "Channel layer unavailable" not in worker.log()


@pytest.mark.timeout(60)
def test_a_burst_of_300_enqueues_in_one_transaction_sends_every_message(faults: Faults) -> None:
    ids = enqueue_many(tasks.record, keys("burst", 300))
    assert faults.flush_outbox()
    assert TaskRecord.objects.filter(pk__in=ids.values(), notified_at__isnull=True).count() == 0
