"""Messages lost with the layer (a FLUSHALL, a Redis restart) delay nothing: idle workers find due work themselves."""

import time

import pytest
import redis

from tests import processes, tasks
from tests.faults.conftest import enqueue_many, unfinished, wait_for
from tests.faults.counts import Counts, count

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.mark.timeout(90)
def test_a_worker_with_free_slots_runs_due_tasks_whose_messages_were_flushed_within_seconds(faults):
    port = processes.free_port()
    faults.redis(port)
    faults.use_layer(redis_url=f"redis://127.0.0.1:{port}/0")  # messages count as lost only after 60 s
    faults.dispatcher()
    ids = enqueue_many(tasks.record, [f"flushed-{number}" for number in range(40)])
    assert faults.flush_outbox()
    client = redis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
    client.flushall()  # every message is gone; the rows are READY and due
    client.close()
    flushed = time.monotonic()
    faults.worker()

    wait_for(lambda: unfinished(ids.values()) == 0, 20, "the tasks whose messages were flushed to run")

    print(f"every task done {time.monotonic() - flushed:.1f} s after the flush")
    assert count(ids) == Counts(lost=0, duplicated=0, unexpected=0, recovered=0)


@pytest.mark.timeout(90)
def test_tasks_enqueued_while_redis_is_down_run_before_it_comes_back(faults):
    port = processes.free_port()
    server = faults.redis(port)
    faults.use_layer(redis_url=f"redis://127.0.0.1:{port}/0")
    faults.dispatcher()
    faults.worker()
    started = {"started": tasks.record.enqueue(key="started").id}
    wait_for(lambda: unfinished(started.values()) == 0, 30, "the worker to run a first task")
    server.kill()  # the layer is gone: sends fail, the worker's reads fail

    ids = enqueue_many(tasks.record, [f"unsent-{number}" for number in range(20)])

    wait_for(lambda: unfinished(ids.values()) == 0, 15, "the tasks to run from the database alone")
    assert not server.alive()
    assert count({**started, **ids}) == Counts(lost=0, duplicated=0, unexpected=0, recovered=0)
