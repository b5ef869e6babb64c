"""The dispatcher pass: due tasks without a live message are sent, and a full or hanging channel layer costs a pass
no more than what it sends (its transitions: tests/retry/transitions/test_dispatching.py)."""

import asyncio
import copy
import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django import Settings

from harness.layers import flush_channel_layer
from retry import clock, conf, transitions
from retry import outbox as outbox_module
from retry.dispatcher import Dispatcher
from retry.models import TaskRecord
from retry.outbox import outbox
from tests import tasks
from tests.retry.conftest import enqueued

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
LONG_AGO = timedelta(hours=1)


#: Messages a channel holds in the full-channel tests.
CAPACITY = 5


@pytest.fixture
def small_channels(settings: Settings) -> Iterator[Callable[[], None]]:
    """Gives the project's channel layer room for CAPACITY messages per channel, when called."""

    def shrink() -> None:
        layers = copy.deepcopy(settings.CHANNEL_LAYERS)
        layers["default"]["CONFIG"]["capacity"] = CAPACITY
        settings.CHANNEL_LAYERS = layers

    yield shrink
    flush_channel_layer()


def fill(queue: str, count: int) -> None:
    """Put ``count`` messages that are not task messages on a queue's channel."""

    async def send() -> None:
        layer = get_channel_layer()
        assert layer is not None
        for _ in range(count):
            await layer.send(conf.get().CHANNEL_PREFIX + queue, {"type": "filler"})

    async_to_sync(send)()


def claimed(key: str = "k", worker: str = "worker-1") -> TaskRecord:
    record = transitions.claim(str(enqueued(key).pk), worker)
    assert record is not None
    return record


def test_due_tasks_without_a_live_message_are_sent(layer_messages: Callable[[str], list[dict[str, object]]]) -> None:
    now = clock.db_now()
    never_sent = enqueued("never", notified_at=None)
    long_ago = enqueued("stale", notified_at=now - LONG_AGO)  # older than the layer's expiry: maybe lost
    just_sent = enqueued("fresh", notified_at=now)  # in flight
    not_due = enqueued("later", notified_at=None, run_after=now + LONG_AGO)
    assert outbox.flush()  # the messages of enqueue itself have reached the layer: drop them
    layer_messages("default")

    report = Dispatcher().tick()
    outbox.flush()

    assert report["sent"] == 2
    sent = {message["id"] for message in layer_messages("default")}
    assert sent == {str(never_sent.pk), str(long_ago.pk)}
    assert str(just_sent.pk) not in sent and str(not_due.pk) not in sent
    assert Dispatcher().tick()["sent"] == 0  # marked as sent: the next pass leaves them


def test_a_full_channel_costs_a_pass_what_it_sends_not_the_backlog(
    small_channels: Callable[[], None],
    layer_messages: Callable[[str], list[dict[str, object]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    due = [enqueued(f"due-{number}") for number in range(30)]
    assert outbox.flush()  # the messages of enqueue itself have reached the layer: drop them
    layer_messages("default")
    small_channels()
    fill("default", CAPACITY - 2)  # room for two
    TaskRecord.objects.update(notified_at=None)

    dispatcher = Dispatcher()
    for _ in range(2):
        caplog.clear()
        with CaptureQueriesContext(connection) as statements, caplog.at_level(logging.WARNING):
            report = dispatcher.tick()
            outbox.flush()
        updates = [s["sql"] for s in statements.captured_queries if s["sql"].startswith('UPDATE "retry_taskrecord"')]
        assert len(updates) <= 2  # the rows taken, then the refused ones handed back: never one per row
        assert [r.message for r in caplog.records if r.levelno >= logging.WARNING] == [
            "Channels refused task messages; their due tasks wait for backlog claims and the next pass"
        ]

    assert report["sent"] == 0  # the first pass filled the channel
    sent = [message["id"] for message in layer_messages("default") if message["type"] == "task.run"]
    assert len(sent) == 2 and set(sent) <= {str(task.pk) for task in due}
    assert TaskRecord.objects.filter(notified_at__isnull=True).count() == 28  # due, left to the backlog claims


def test_a_full_channel_holds_back_only_its_own_queue(
    small_channels: Callable[[], None], layer_messages: Callable[[str], list[dict[str, object]]]
) -> None:
    for number in range(10):
        enqueued(f"default-{number}")
    emails = tasks.on_emails_queue.enqueue("emails")
    outbox.flush()
    layer_messages("default"), layer_messages("emails")
    small_channels()
    fill("default", CAPACITY)
    TaskRecord.objects.update(notified_at=None)

    assert Dispatcher().tick()["sent"] == 1
    assert [message["id"] for message in layer_messages("emails")] == [str(emails.id)]


def test_a_layer_that_hangs_instead_of_refusing_does_not_hold_the_pass(
    layer_messages: Callable[[str], list[dict[str, object]]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for number in range(3):
        enqueued(f"hung-{number}")
    assert outbox.flush()
    layer_messages("default")
    TaskRecord.objects.update(notified_at=None)

    async def hang(channel: str, messages: list[dict[str, Any]]) -> tuple[int, None]:
        await asyncio.Event().wait()  # a Redis that takes the call and never answers
        return 0, None

    monkeypatch.setattr(outbox, "_send_in_order", hang)
    monkeypatch.setattr(outbox_module, "SEND_NOW_TIMEOUT", 0.2)
    with caplog.at_level(logging.WARNING):
        report = Dispatcher().tick()  # returns, so recovery, schedules and heartbeats go on
    assert report["sent"] == 0
    assert TaskRecord.objects.filter(notified_at__isnull=True).count() == 3  # left to the backlog claims
    assert "Channels refused task messages" in caplog.text
