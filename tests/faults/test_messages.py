"""Whatever arrives on a task channel, the worker's consumer survives it and runs the task messages behind it."""

import uuid
from pathlib import Path

import pytest

from retry.models import TaskRecord
from tests import outside_tasks
from tests.faults.conftest import Faults, enqueue_many, unfinished, wait_for

pytestmark = pytest.mark.services
#: Types a client of the layer could put on a task channel: attributes of the consumer, a near miss, non-strings.
HOSTILE_TYPES = ["send", "dispatch", "task_run", "websocket.connect", "__init__", 42, None]


def test_messages_of_other_types_are_skipped_and_the_task_messages_behind_them_run_at_once(
    production: Faults, tmp_path: Path
) -> None:
    trace = str(tmp_path / "runs")
    for kind in HOSTILE_TYPES:
        production.send("tasks.default", {"type": kind, "id": str(uuid.uuid4())})
    production.send("tasks.default", {"nothing": "typed"})
    ids = enqueue_many(outside_tasks.record, [f"after-{kind}" for kind in HOSTILE_TYPES], path=trace)
    assert production.flush_outbox()
    # No dispatcher: a task message the consumer lost would wait for a re-send that never comes.
    worker = production.worker()
    wait_for(lambda: unfinished(ids.values()) == 0, 20, "every task to finish")
    assert set(TaskRecord.objects.filter(pk__in=ids.values()).values_list("status", flat=True)) == {"SUCCESSFUL"}
    assert outside_tasks.runs(trace) == {key: 1 for key in ids}
    # The tasks may finish first: a worker with free slots takes due rows from the database, not only by message.
    wait_for(lambda: worker.log().count("Skipped a message") == len(HOSTILE_TYPES) + 1, 20, "every message skipped")
    assert "Traceback" not in worker.log()


def test_a_message_for_a_task_that_does_not_exist_is_logged_where_an_operator_sees_it(production: Faults) -> None:
    missing = str(uuid.uuid4())
    production.send("tasks.default", {"type": "task.run", "id": missing})
    worker = production.worker()
    wait_for(lambda: "not claimable" in worker.log(), 20, "the worker to report the message")
    assert (
        f"INFO retry.worker.runner Message for a task that is not claimable; dropped task_id={missing}" in worker.log()
    )
