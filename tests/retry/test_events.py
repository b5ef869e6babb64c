"""Task state changes published for the live boards: the events of one moment in one group message."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from retry import conf
from retry.outbox import outbox
from tests import tasks

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_the_events_of_one_moment_arrive_together_after_commit():
    layer = get_channel_layer()
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
