"""Webhook deliveries through the real worker, against a real HTTP server on 127.0.0.1: what is sent, retried,
given up and recorded, also when the receiver answers with what no receiver should (every delivery still ends in
a final state, and what was recorded is storable text of a bounded size: PostgreSQL refuses NUL)."""

import json
from collections.abc import Callable
from typing import Any, NoReturn, cast

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.tasks.base import TaskResultStatus as Status
from pytest_django import Settings

from orders import services, tasks
from orders.models import Order, WebhookDelivery
from orders.webhooks import client, deliveries, signing
from retry import conf, text
from retry.models import TaskAttempt, TaskRecord
from retry.policy import GiveUp, Retry
from retry.worker.process import RetryWorker
from tests.factories import ORDER_FIELDS
from tests.orders.conftest import SECRET
from tests.orders.webhooks.receiver import Receiver
from tests.retry.conftest import all_finished, wait_for

TASK = "orders.tasks.deliver_webhook"


def place(url: str) -> Order:
    return services.place_order(**ORDER_FIELDS, webhook_url=url)


async def aplace(url: str) -> Order:
    return await sync_to_async(place)(url)


def through_the_worker[T: Callable[..., object]](test: T) -> T:
    """Marks a test that runs the real worker: the services, committed transactions, a time limit."""
    for mark in (pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)):
        test = mark(test)
    return test


async def place_and_settle(url: str, what: str) -> Order:
    """Place an order with this webhook URL and wait until the worker has finished every task."""
    order = await aplace(url)
    await wait_for(all_finished, what=what)
    return order


@sync_to_async
def delivery_of(order: Order) -> WebhookDelivery:
    return WebhookDelivery.objects.get(order=order)


@sync_to_async
def webhook_task() -> TaskRecord:
    return TaskRecord.objects.get(task_path=TASK)


@sync_to_async
def attempts_of(record: TaskRecord) -> list[TaskAttempt]:
    return list(TaskAttempt.objects.filter(task=record).order_by("number"))


@through_the_worker
async def test_the_documented_event_arrives_signed_and_is_recorded(worker: RetryWorker, receiver: Receiver) -> None:
    order = await place_and_settle(receiver.url("/ok"), "the delivery")

    [hit] = receiver.hits
    assert hit.signature_ok
    event = json.loads(hit.body)
    delivery = await delivery_of(order)
    assert event == {
        "id": delivery.webhook_id,
        "type": "order.status_changed",
        "timestamp": event["timestamp"],
        "data": {
            "order_id": order.pk,
            "number": order.number,
            "status": "received",
            "created_at": deliveries.iso(order.created_at),
            "ready_at": None,
            "delivered_at": None,
            "cancelled_at": None,
        },
    }
    assert hit.headers["webhook-id"] == delivery.webhook_id
    signing.verify(SECRET, hit.headers, hit.body)
    assert (delivery.state, delivery.attempts, delivery.response_status, delivery.error) == ("delivered", 1, 200, "")
    assert delivery.duration is not None
    assert delivery.duration > 0
    record = await webhook_task()
    assert (record.queue, record.status, record.kwargs) == (
        "webhooks",
        Status.SUCCESSFUL,
        {"delivery_id": delivery.pk, "order_id": order.pk},
    )


@through_the_worker
async def test_two_server_errors_then_success_deliver_once_in_three_attempts(
    worker: RetryWorker, receiver: Receiver
) -> None:
    order = await place_and_settle(receiver.url("/flaky/2"), "the retries")

    assert [hit.signature_ok for hit in receiver.hits] == [True, True, True]
    assert len({hit.headers["webhook-id"] for hit in receiver.hits}) == 1
    assert len({hit.body for hit in receiver.hits}) == 1
    delivery = await delivery_of(order)
    assert (delivery.state, delivery.attempts, delivery.response_status) == ("delivered", 3, 200)
    record = await webhook_task()
    assert (record.status, record.attempts) == (Status.SUCCESSFUL, 3)


@through_the_worker
async def test_a_404_fails_at_once(worker: RetryWorker, receiver: Receiver) -> None:
    order = await place_and_settle(receiver.url("/status/404"), "the delivery to fail")

    assert len(receiver.hits) == 1
    delivery = await delivery_of(order)
    assert (delivery.state, delivery.attempts, delivery.response_status) == ("failed", 1, 404)
    assert "404: the receiver refused the request" in delivery.error
    record = await webhook_task()
    assert (record.status, record.attempts, record.error_class) == (Status.FAILED, 1, "retry.policy.GiveUp")


@through_the_worker
async def test_a_429_is_retried_no_sooner_than_its_retry_after(
    worker: RetryWorker, receiver: Receiver, settings: Settings
) -> None:
    settings.RETRY_MAX_DELAY = 5.0  # the tests' 0.5 s cap would cut the receiver's 1 s short
    order = await place_and_settle(receiver.url("/flaky/1?status=429&retry_after=1"), "the delayed retry")

    first, second = receiver.hits
    assert second.received_at - first.received_at >= 1.0
    delivery = await delivery_of(order)
    assert (delivery.state, delivery.attempts) == ("delivered", 2)
    attempts = await attempts_of(await webhook_task())
    assert attempts[0].next_delay == pytest.approx(1.0)
    assert attempts[0].error_class == "retry.policy.Retry"


@through_the_worker
async def test_a_hanging_receiver_times_out_and_is_retried(
    worker: RetryWorker, receiver: Receiver, settings: Settings
) -> None:
    settings.WEBHOOK_TIMEOUT = 0.5
    order = await place_and_settle(receiver.url("/flaky/1?status=hang"), "the retry after the timeout")

    assert len(receiver.hits) == 2
    delivery = await delivery_of(order)
    assert (delivery.state, delivery.attempts) == ("delivered", 2)
    first = (await attempts_of(await webhook_task()))[0]
    assert "timed out: no complete response within 0.5 s" in first.error_message
    assert (first.finished_at - first.started_at).total_seconds() < 2  # the deadline, not the receiver, ended it


@through_the_worker
async def test_duplicate_messages_and_a_duplicate_task_deliver_once(
    worker: RetryWorker, receiver: Receiver, layer: Any
) -> None:
    order = await aplace(receiver.url("/ok"))
    record = await webhook_task()
    delivery = await delivery_of(order)
    channel = conf.get().CHANNEL_PREFIX + "webhooks"
    for _ in range(3):
        await layer.send(channel, {"type": "task.run", "id": str(record.pk)})
    # A second task for the same delivery, past the idempotency key: the row's delivered_at stops it.
    await sync_to_async(tasks.deliver_webhook.enqueue)(delivery_id=delivery.pk, order_id=order.pk)
    await wait_for(all_finished, what="the webhook tasks")

    assert len(receiver.hits) == 1
    await delivery.arefresh_from_db()
    assert (delivery.state, delivery.attempts) == ("delivered", 1)
    values = TaskRecord.objects.filter(task_path=TASK).values_list("return_value", flat=True)
    assert sorted([cast(str, value) async for value in values]) == ["200: delivered", "nothing to send"]


@through_the_worker
async def test_a_410_switches_the_webhook_off(worker: RetryWorker, receiver: Receiver, alice: User) -> None:
    order = await place_and_settle(receiver.url("/status/410"), "the delivery")

    await order.arefresh_from_db()
    assert order.webhook_enabled is False
    delivery = await delivery_of(order)
    assert (delivery.state, delivery.response_status) == ("failed", 410)
    await sync_to_async(services.cancel_order)(order.pk, alice)
    await wait_for(all_finished, what="the cancellation's tasks")
    assert await WebhookDelivery.objects.filter(order=order).acount() == 1
    assert len(receiver.hits) == 1


@pytest.mark.django_db
def test_each_status_change_records_one_delivery(receiver: Receiver, alice: User) -> None:
    order = place(receiver.url("/ok"))
    services.cancel_order(order.pk, alice)
    statuses = list(WebhookDelivery.objects.filter(order=order).order_by("id").values_list("status", flat=True))
    assert statuses == ["received", "cancelled"]
    assert TaskRecord.objects.filter(task_path=TASK, kwargs__order_id=order.pk).count() == 2


@pytest.mark.django_db
def test_orders_without_a_webhook_record_no_delivery(order: Order) -> None:
    assert not WebhookDelivery.objects.exists()
    assert not TaskRecord.objects.filter(task_path=TASK).exists()


@pytest.mark.django_db
def test_an_unsafe_address_at_delivery_time_fails_for_good_without_a_connection(
    receiver: Receiver, settings: Settings
) -> None:
    order = place(receiver.url("/ok"))
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    delivery = WebhookDelivery.objects.get(order=order)
    with pytest.raises(GiveUp, match=r"127\.0\.0\.1 is a loopback address"):
        deliveries.deliver_webhook(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == "failed"
    assert delivery.error == "unsafe URL: 127.0.0.1 is a loopback address"
    assert receiver.hits == []


@pytest.mark.django_db
def test_without_secrets_nothing_is_sent_and_the_row_says_why(receiver: Receiver, settings: Settings) -> None:
    order = place(receiver.url("/ok"))
    settings.WEBHOOK_SECRETS = []
    delivery = WebhookDelivery.objects.get(order=order)
    with pytest.raises(GiveUp, match="WEBHOOK_SECRETS is empty"):
        deliveries.deliver_webhook(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == "failed"
    assert receiver.hits == []


@pytest.mark.django_db
def test_an_attempt_under_way_makes_a_concurrent_one_wait(receiver: Receiver) -> None:
    order = place(receiver.url("/ok"))
    delivery = WebhookDelivery.objects.get(order=order)
    assert deliveries.start_attempt(delivery.pk) is not None
    with pytest.raises(Retry, match="under way"):
        deliveries.deliver_webhook(delivery.pk)
    assert receiver.hits == []


@pytest.mark.django_db
def test_the_last_allowed_attempt_gives_up_and_says_so(receiver: Receiver) -> None:
    order = place(receiver.url("/status/503"))
    delivery = WebhookDelivery.objects.get(order=order)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=deliveries.MAX_ATTEMPTS - 1)
    with pytest.raises(GiveUp):
        deliveries.deliver_webhook(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == "failed"
    assert delivery.error.endswith(f"(given up after {deliveries.MAX_ATTEMPTS} attempts)")


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
    worker: RetryWorker, receiver: Receiver, settings: Settings, path: str, says: str
) -> None:
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
async def test_an_unforeseen_error_full_of_nul_ends_the_row_and_the_task_failed(
    worker: RetryWorker, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("no \x00 such luck \ud800" + "!" * 60_000)

    monkeypatch.setattr(client, "post_json", explode)
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
async def test_a_2xx_with_an_endless_body_is_delivered_after_reading_only_the_cap(
    worker: RetryWorker, receiver: Receiver
) -> None:
    order = await place_and_settle(receiver.url("/huge"), "the delivery")  # 100 MiB offered

    delivery = await delivery_of(order)
    assert (delivery.state, delivery.attempts, delivery.response_status, delivery.error) == ("delivered", 1, 200, "")
