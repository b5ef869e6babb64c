"""Webhook receivers that answer with what no receiver should: every delivery still ends in a final state,
and what was recorded is storable text of a bounded size (PostgreSQL refuses NUL; SQLite takes anything)."""

import pytest
from django.tasks.base import TaskResultStatus as Status

from orders import deliveries, webhook_client
from retry import text
from tests.orders.test_webhook_delivery import (
    attempts_of,
    delivery_of,
    place_and_settle,
    through_the_worker,
    webhook_task,
)


@through_the_worker
@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/garbage", "not an HTTP response: 'ICY \\x00\\x00 "),  # a status line of NUL bytes and 60 KB of text
        ("/endless", "500: the receiver failed"),  # a chunked body of NUL bytes that never ends
        ("/garbage-headers", "503: the receiver failed"),  # NUL bytes in the reason and the headers
        ("/trickle-status", "timed out"),  # the status line one byte every 50 ms
    ],
)
async def test_a_hostile_receiver_ends_the_delivery_failed_with_a_short_clean_error(
    worker, receiver, settings, path, says
):
    settings.WEBHOOK_TIMEOUT = 0.5
    order = await place_and_settle(receiver.url(path), "the delivery to give up")

    delivery = await delivery_of(order)
    assert (delivery.state, delivery.attempts) == ("failed", deliveries.MAX_ATTEMPTS)
    assert says in delivery.error
    assert "\x00" not in delivery.error
    assert len(delivery.error) <= deliveries.ERROR_LIMIT
    record = await webhook_task()
    assert (record.status, record.attempts) == (Status.FAILED, deliveries.MAX_ATTEMPTS)
    assert says in record.error_message
    for attempt in await attempts_of(record):
        assert "\x00" not in attempt.error_message + attempt.error_traceback
        assert len(attempt.error_message) <= text.MESSAGE_LIMIT


@through_the_worker
async def test_an_unforeseen_error_full_of_nul_ends_the_row_and_the_task_failed(worker, receiver, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("no \x00 such luck \ud800" + "!" * 60_000)

    monkeypatch.setattr(webhook_client, "post_json", explode)
    order = await place_and_settle(receiver.url("/ok"), "the delivery to give up")

    delivery = await delivery_of(order)
    assert (delivery.state, delivery.attempts, delivery.sending_until) == ("failed", deliveries.MAX_ATTEMPTS, None)
    assert delivery.error.startswith("RuntimeError: no \ufffd such luck \ufffd!!!")
    record = await webhook_task()
    assert (record.status, record.error_class) == (Status.FAILED, "retry.policy.GiveUp")
    assert record.error_message.startswith("RuntimeError: no \ufffd such luck")
    assert len(record.error_message) <= text.MESSAGE_LIMIT
    assert len(record.error_traceback) <= text.TRACEBACK_LIMIT
    assert "characters cut" in record.error_message


@through_the_worker
async def test_a_2xx_with_an_endless_body_is_delivered_after_reading_only_the_cap(worker, receiver):
    order = await place_and_settle(receiver.url("/huge"), "the delivery")  # 100 MiB offered

    delivery = await delivery_of(order)
    assert (delivery.state, delivery.attempts, delivery.response_status, delivery.error) == ("delivered", 1, 200, "")
