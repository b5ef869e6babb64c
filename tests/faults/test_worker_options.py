"""The worker's command line, as an operator types it: the queues it runs, how many at once, how many before it
exits. Each worker is the real `runworker` with `project.settings` and environment variables."""

import json
from pathlib import Path
from typing import cast

import pytest

from retry.models import Heartbeat, TaskRecord
from tests import outside_tasks, processes
from tests.faults.conftest import Faults, enqueue_many, statuses, unfinished, wait_for

pytestmark = pytest.mark.services


def log_lines(process: processes.Process) -> list[dict[str, object]]:
    """The JSON log lines of ``process`` (started with LOG_FORMAT=json)."""
    return [json.loads(line) for line in process.log().splitlines() if line.startswith("{")]


def trace_lines(path: Path) -> list[str]:
    return [line.split()[0] for line in path.read_text().splitlines()]


def test_max_tasks_exits_cleanly_after_that_many_and_leaves_the_rest_ready(production: Faults, tmp_path: Path) -> None:
    trace = str(tmp_path / "runs")
    ids = enqueue_many(outside_tasks.record, [f"cake-{n}" for n in range(5)], path=trace)
    assert production.flush_outbox()

    worker = production.worker(arguments=["--max-tasks", "3"], LOG_FORMAT="json")
    assert worker.wait(30) == 0
    assert sorted(outside_tasks.runs(trace).values()) == [1, 1, 1]
    assert statuses() == {"SUCCESSFUL": 3, "READY": 2}
    assert "Traceback" not in worker.log()
    messages = [cast(str, line["message"]) for line in log_lines(worker)]
    assert "Ran its maximum number of tasks" in messages and messages[-1] == "Worker stopped"
    assert not any("handed back" in message for message in messages)  # nothing was running when it stopped

    # Nothing is lost: the next worker runs the other two, each once.
    production.worker("next")
    wait_for(lambda: unfinished(ids.values()) == 0, 30, "the two tasks left to finish")
    assert outside_tasks.runs(trace) == {key: 1 for key in ids}


def test_a_worker_of_one_queue_runs_only_that_queues_tasks(production: Faults, tmp_path: Path) -> None:
    trace = str(tmp_path / "runs")
    # The other queue's tasks are older: a worker that took every queue would run them first.
    others = enqueue_many(outside_tasks.record, [f"order-{n}" for n in range(3)], path=trace)
    emails = enqueue_many(outside_tasks.record.using(queue_name="emails"), [f"mail-{n}" for n in range(3)], path=trace)
    assert production.flush_outbox()

    worker = production.worker(arguments=["-Q", "emails", "--max-tasks", "3"], LOG_FORMAT="json")
    assert worker.wait(30) == 0
    assert outside_tasks.runs(trace) == {key: 1 for key in emails}
    assert set(TaskRecord.objects.filter(pk__in=others.values()).values_list("status", flat=True)) == {"READY"}
    [started] = [line for line in log_lines(worker) if line["message"] == "Worker started"]
    assert started["channels"] == ["tasks.emails"]


def test_queues_repeat_and_separate_with_commas(production: Faults) -> None:
    worker = production.worker(arguments=["-Q", "webhooks,emails", "--queue", "emails", "-Q", "maintenance"])
    workers = Heartbeat.objects.filter(kind=Heartbeat.Kind.WORKER)
    wait_for(workers.exists, 30, "the worker's heartbeat")
    assert list(workers.values_list("queues", flat=True)) == [["webhooks", "emails", "maintenance"]]
    worker.stop()
    assert worker.wait(10) == 0


def test_concurrency_one_runs_one_task_at_a_time(production: Faults, tmp_path: Path) -> None:
    trace = tmp_path / "runs"
    keys = [f"slice-{n}" for n in range(4)]
    enqueue_many(outside_tasks.spans, keys, path=str(trace), seconds=0.2)
    assert production.flush_outbox()

    worker = production.worker(arguments=["-c", "1", "--max-tasks", "4"], RETRY_CONCURRENCY="8", LOG_FORMAT="json")
    assert worker.wait(30) == 0
    lines = trace_lines(trace)
    assert sorted(lines) == sorted([f"{key}-{end}" for key in keys for end in ("start", "end")])
    # Each run ends before the next starts.
    assert all(lines[n].removesuffix("-start") == lines[n + 1].removesuffix("-end") for n in range(0, 8, 2))
    [started] = [line for line in log_lines(worker) if line["message"] == "Worker started"]
    assert started["concurrency"] == 1
