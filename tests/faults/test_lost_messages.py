"""Messages lost with the layer (a FLUSHALL, a Redis restart) delay nothing: idle workers find due work themselves."""

import time
from pathlib import Path

import pytest
import redis

from retry.models import TaskRecord
from tests import outside_tasks, processes
from tests.faults.conftest import Faults, enqueue_many, unfinished, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def all_successful(ids: dict[str, str]) -> bool:
    return set(TaskRecord.objects.filter(pk__in=ids.values()).values_list("status", flat=True)) == {"SUCCESSFUL"}


@pytest.mark.timeout(90)
def test_a_worker_with_free_slots_runs_due_tasks_whose_messages_were_flushed_within_seconds(
    production: Faults, tmp_path: Path
) -> None:
    trace = str(tmp_path / "runs")
    port = processes.free_port()
    production.redis(port)
    production.use_layer(redis_url=f"redis://127.0.0.1:{port}/0")  # messages count as lost only after 60 s
    production.dispatcher()
    ids = enqueue_many(outside_tasks.record, [f"flushed-{number}" for number in range(40)], path=trace)
    assert production.flush_outbox()
    client = redis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
    client.flushall()  # every message is gone; the rows are READY and due
    client.close()
    flushed = time.monotonic()
    production.worker()

    wait_for(lambda: unfinished(ids.values()) == 0, 20, "the tasks whose messages were flushed to run")

    print(f"every task done {time.monotonic() - flushed:.1f} s after the flush, the worker's start included")
    assert all_successful(ids)
    assert outside_tasks.runs(trace) == {key: 1 for key in ids}


@pytest.mark.timeout(90)
def test_tasks_enqueued_while_redis_is_down_run_before_it_comes_back(production: Faults, tmp_path: Path) -> None:
    trace = str(tmp_path / "runs")
    port = processes.free_port()
    server = production.redis(port)
    production.use_layer(redis_url=f"redis://127.0.0.1:{port}/0")
    production.dispatcher()
    production.worker()
    first = enqueue_many(outside_tasks.record, ["first"], path=trace)
    wait_for(lambda: unfinished(first.values()) == 0, 30, "the worker to run a first task")
    server.kill()  # the layer is gone: sends fail, the worker's reads fail

    ids = enqueue_many(outside_tasks.record, [f"unsent-{number}" for number in range(20)], path=trace)

    wait_for(lambda: unfinished(ids.values()) == 0, 15, "the tasks to run from the database alone")
    assert not server.alive()
    assert all_successful(ids)
    assert outside_tasks.runs(trace) == {key: 1 for key in [*first, *ids]}
