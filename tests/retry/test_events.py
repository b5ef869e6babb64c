"""Every task state change: one log line with the task's fields at the level of its outcome, and the events of one
moment published for the live boards in one group message, after commit."""

import asyncio
import logging

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from retry import conf, events, logs
from retry.outbox import outbox
from tests import tasks
from tests.retry.rows import task


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_events_of_one_moment_arrive_together_after_commit() -> None:
    layer = get_channel_layer()
    assert layer is not None
    listener = async_to_sync(layer.new_channel)()
    assert outbox.flush()  # what earlier tests left on the way goes out before we listen
    async_to_sync(layer.group_add)(conf.get().EVENTS_GROUP, listener)
    try:
        with transaction.atomic():
            ids = [tasks.on_emails_queue.enqueue(f"e{i}").id for i in range(3)]
        assert outbox.flush()
        message = async_to_sync(asyncio.wait_for)(layer.receive(listener), 5)
    finally:
        async_to_sync(layer.group_discard)(conf.get().EVENTS_GROUP, listener)
    assert (message["type"], message["version"]) == ("task.changes", 1)
    assert [(e["task_id"], e["change"], e["queue"], e["attempt"]) for e in message["events"]] == [
        (task_id, "enqueued", "emails", 0) for task_id in ids
    ]
    assert {e["task_name"] for e in message["events"]} == {tasks.on_emails_queue.module_path}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "details", "level"),
    [
        ("started", {"worker_id": "oven:1:a"}, logging.INFO),
        ("succeeded", {"duration": 0.25}, logging.INFO),
        ("retry_scheduled", {"delay": 10.0, "error": "KeyError: 'x'"}, logging.WARNING),
        ("failed", {"error": "KeyError: 'x'"}, logging.ERROR),
        ("cancelled", {}, logging.WARNING),
    ],
)
def test_every_state_change_logs_one_line_with_the_task_fields(
    caplog: pytest.LogCaptureFixture, change: str, details: dict[str, object], level: int
) -> None:
    row = task("emails", attempts=2)
    caplog.set_level(logging.INFO, logger="retry.tasks")
    events.record(change, row, **details)
    (line,) = [r for r in caplog.records if r.name == "retry.tasks"]
    assert line.levelno == level
    expected = {"change": change, "task_id": str(row.pk), "task_name": row.task_path, "queue": "emails", "attempt": 2}
    assert {key: getattr(line, key) for key in [*expected, *details]} == {**expected, **details}
    assert f"task_id={row.pk}" in logs.KeyValueFormatter().format(line)
