"""The outbox: task messages leave after their caller, many in one call, and a refused one goes to on_failure."""

import asyncio
import os
import subprocess
import threading
from collections.abc import Callable
from typing import Any, NoReturn, cast

import pytest
from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull
from django.db import connections
from django.test import override_settings

from retry import redis_batch
from retry.messages import run_message
from retry.models import TaskRecord
from retry.outbox import outbox
from tests import processes, tasks
from tests.conftest import SHARED_REDIS, running_worker
from tests.retry.conftest import all_finished, receive_all, wait_for


class Refusals:
    """Collects the on_failure calls of an outbox; they arrive from one of its threads."""

    def __init__(self) -> None:
        self.errors: dict[str, BaseException] = {}
        self._lock = threading.Lock()

    def for_task(self, task_id: str, *, raises: bool = False) -> Callable[[BaseException], None]:
        def on_failure(error: BaseException) -> None:
            with self._lock:
                self.errors[task_id] = error
            if raises:
                raise RuntimeError("marking the row failed")

        return on_failure


def send_a_burst(layer: object, refusals: Refusals) -> list[str]:
    """25 task messages to a channel with room for 10: the first 10 arrive in order, the other 15 are refused."""
    ids = [f"task-{number}" for number in range(25)]
    for task_id in ids:
        outbox.send("tasks.burst", run_message(task_id), refusals.for_task(task_id))
    assert outbox.flush(timeout=10)
    assert receive_all(layer, "tasks.burst") == [run_message(task_id) for task_id in ids[:10]]
    assert sorted(refusals.errors) == sorted(ids[10:])
    return ids


@pytest.mark.services
def test_a_burst_fills_a_redis_channel_to_capacity_in_order_and_refuses_the_rest(redis_layer: Any) -> None:
    # The capacity check and the adds are one atomic call: exactly 10 fit, however the burst was cut.
    refusals = Refusals()
    send_a_burst(redis_layer, refusals)
    assert all(isinstance(error, ChannelFull) for error in refusals.errors.values())


@pytest.mark.services
@pytest.mark.parametrize("redis_layer", [2000], indirect=True)
def test_a_burst_larger_than_one_call_arrives_whole_and_in_order(redis_layer: Any) -> None:
    refusals = Refusals()
    ids = [f"task-{number}" for number in range(2 * redis_batch.MAX_BATCH + 100)]
    for task_id in ids:
        outbox.send("tasks.burst", run_message(task_id), refusals.for_task(task_id))
    assert outbox.flush(timeout=20)

    assert receive_all(redis_layer, "tasks.burst") == [run_message(task_id) for task_id in ids]
    assert refusals.errors == {}


@pytest.mark.services
def test_a_process_local_channel_gets_its_message_through_the_layers_own_send(redis_layer: Any) -> None:
    channel = async_to_sync(redis_layer.new_channel)()
    outbox.send(channel, {"type": "task.run", "id": "local"}, Refusals().for_task("local"))
    assert outbox.flush(timeout=10)
    assert async_to_sync(redis_layer.receive)(channel) == {"type": "task.run", "id": "local"}


def test_an_on_failure_that_raises_does_not_keep_the_others_from_running() -> None:
    refusals = Refusals()
    layer = {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1}}
    with override_settings(CHANNEL_LAYERS={"default": layer}):
        outbox.send("tasks.full", run_message("fits"), refusals.for_task("fits"))
        outbox.send("tasks.full", run_message("first"), refusals.for_task("first", raises=True))
        outbox.send("tasks.full", run_message("second"), refusals.for_task("second"))
        assert outbox.flush(timeout=10)
    assert sorted(refusals.errors) == ["first", "second"]


def test_messages_left_for_a_loop_that_closed_go_out_on_the_outbox_loop(
    layer_messages: Callable[[str], list[dict[str, object]]],
) -> None:
    refusals = Refusals()
    loop = asyncio.new_event_loop()  # registered, but closed before it ever runs
    outbox.use_loop(loop)
    try:
        outbox.send("tasks.default", run_message("stranded"), refusals.for_task("stranded"))
    finally:
        outbox.use_loop(None)
        loop.close()
    outbox.send("tasks.default", run_message("later"), refusals.for_task("later"))
    assert outbox.flush(timeout=10)
    assert sorted(cast(str, message["id"]) for message in layer_messages("default")) == ["later", "stranded"]
    assert refusals.errors == {}


def produce(code: str, prefix: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``code`` in ``manage.py shell -c`` under the production settings, on the test's database and Redis."""
    env |= {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": processes.database_url(connections["default"].settings_dict),
        "REDIS_URL": SHARED_REDIS,
        "REDIS_PREFIX": prefix,
    }
    done = subprocess.run(processes.manage("shell", "-c", code), env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert "Traceback" not in done.stderr.decode(), done.stderr.decode()
    return done


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_producer_that_exits_right_after_enqueueing_has_sent_its_task_message(redis_layer: Any) -> None:
    producer = produce("from orders import tasks; print(tasks.clean_up.enqueue().id)", redis_layer.prefix)
    task_id = producer.stdout.decode().split()[-1]
    # Right after the process is gone, its message is in Redis (not left for the dispatcher, a minute later).
    assert receive_all(redis_layer, "tasks.maintenance") == [run_message(task_id)]


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_producer_whose_messages_are_refused_at_exit_leaves_them_to_the_dispatcher(redis_layer: Any) -> None:
    code = (
        "from django.db import transaction; from orders import tasks\n"
        "with transaction.atomic():\n"
        "    [tasks.clean_up.enqueue() for _ in range(200)]"
    )
    produce(code, redis_layer.prefix, CHANNEL_CAPACITY="1")
    assert len(receive_all(redis_layer, "tasks.maintenance")) == 1  # the rest wait in the database
    assert TaskRecord.objects.filter(status="READY").count() == 200


@pytest.fixture
def unverified_release(monkeypatch: pytest.MonkeyPatch) -> None:
    """channels-redis claims a release the batch send was not verified with; a batch send would fail the test."""

    async def no_batch(*args: object) -> NoReturn:
        raise AssertionError("the batch send was used")

    monkeypatch.setattr(redis_batch, "installed_version", lambda: "4.4.0")
    monkeypatch.setattr(redis_batch, "send_many", no_batch)


@pytest.mark.services
def test_an_unverified_release_sends_through_the_public_send_with_the_same_refusals(
    redis_layer: Any, unverified_release: None, caplog: pytest.LogCaptureFixture
) -> None:
    refusals = Refusals()
    ids = send_a_burst(redis_layer, refusals)
    assert all(isinstance(error, ChannelFull) for error in refusals.errors.values())

    # The dispatcher's blocking send: in order, until the first refusal.
    sent, refusal = outbox.send_now("tasks.burst", [run_message(task_id) for task_id in ids[:12]])
    assert (sent, type(refusal)) == (10, ChannelFull)
    assert receive_all(redis_layer, "tasks.burst") == [run_message(task_id) for task_id in ids[:10]]
    warnings = [record for record in caplog.records if record.name == "retry.redis_batch"]
    assert len(warnings) == 1 and "channels-redis 4.4.0" in vars(warnings[0])["reason"]


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
async def test_an_unverified_release_still_gets_a_task_to_its_worker(
    redis_layer: Any, unverified_release: None
) -> None:
    # No look for work without a message while the test runs: only the message can start the task.
    with override_settings(RETRY_DISPATCH_INTERVAL=3600):
        async with running_worker(["default"], dispatcher=False):
            result = await tasks.record.aenqueue("through-send")
            await wait_for(all_finished, what="the task its message names")
    await result.arefresh()
    assert result.status == "SUCCESSFUL"
