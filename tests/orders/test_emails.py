"""Order e-mails: each sent exactly once per order and kind, across retries, duplicates and a failing SMTP server."""

import socket
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.core import mail
from django.tasks.base import TaskResultStatus as Status
from pytest_django import Settings

from orders import emails, services, tasks
from orders.models import Order
from retry import conf
from retry.models import TaskRecord
from retry.policy import GiveUp
from retry.worker.process import RetryWorker
from tests.factories import ORDER_FIELDS
from tests.orders.conftest import finish_all
from tests.retry.conftest import all_finished, wait_for

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


class FlakySMTP:
    """An aiosmtpd handler that answers "451 try again" to the first `refusals` messages, then takes them."""

    def __init__(self, refusals: int, code: str = "451 try again") -> None:
        self.refusals = refusals
        self.code = code
        self.received: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refusals > 0:
            self.refusals -= 1
            return self.code
        self.received.append(cast(bytes, envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server(settings: Settings) -> Iterator[Callable[..., FlakySMTP]]:
    """Start a local SMTP server with `smtp_server(refusals)`; Django's mailer is pointed at it."""
    controllers = []

    def start(refusals: int, code: str = "451 try again") -> FlakySMTP:
        handler = FlakySMTP(refusals, code)
        controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        controllers.append(controller)
        options = {"host": "127.0.0.1", "port": controller.port, "timeout": 5}
        settings.MAILERS = {"default": {"BACKEND": SMTP_BACKEND, "OPTIONS": options}}
        return handler

    yield start
    for controller in controllers:
        controller.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return cast(int, probe.getsockname()[1])


def subjects() -> list[str]:
    return [cast(str, message.subject) for message in mail.outbox]


@pytest.mark.django_db
def test_the_received_email_goes_out_once_and_is_recorded(order: Order) -> None:
    assert emails.send_order_email(order.pk, "received") is True
    assert emails.send_order_email(order.pk, "received") is False

    order.refresh_from_db()
    assert order.received_notified_at is not None
    [message] = mail.outbox
    assert message.to == ["sam@example.com"]
    assert message.subject == f"Your cake order {order.label} is in"
    assert "Happy birthday, Sam!" in message.body
    assert message.extra_headers["Message-ID"].startswith(f"<order-{order.pk}-received@")


@pytest.mark.django_db
def test_plain_text_is_not_html_escaped(db: None) -> None:
    order = services.place_order(**{**ORDER_FIELDS, "customer_name": "Róisín O'Brien & Co"})
    emails.send_order_email(order.pk, "received")
    assert "Hello Róisín O'Brien & Co," in mail.outbox[0].body


@pytest.mark.django_db
def test_a_ready_email_is_not_sent_once_the_order_is_delivered(ready_order: Order, alice: User) -> None:
    services.mark_delivered(ready_order.pk, alice)
    assert emails.send_order_email(ready_order.pk, "ready") is False
    assert mail.outbox == []


@pytest.mark.django_db
def test_the_query_finds_orders_whose_email_never_went_out(order: Order, ready_order: Order, alice: User) -> None:
    cancelled = services.cancel_order(services.place_order(**ORDER_FIELDS).pk, alice)
    assert set(Order.objects.email_not_sent("received")) == {ready_order, cancelled}
    assert list(Order.objects.email_not_sent("ready")) == [ready_order]
    assert list(Order.objects.email_not_sent("cancelled")) == [cancelled]

    emails.send_order_email(ready_order.pk, "ready")
    emails.send_order_email(cancelled.pk, "cancelled")
    assert not Order.objects.email_not_sent("ready").exists()
    assert not Order.objects.email_not_sent("cancelled").exists()


@pytest.mark.django_db
def test_each_status_change_enqueues_its_email_once_in_the_same_transaction(order: Order, alice: User) -> None:
    finish_all(order, alice)
    keys = sorted(TaskRecord.objects.filter(task_path="orders.tasks.send_order_email").values_list("idempotency_key"))
    assert keys == [(f"order-{order.pk}-email-ready",), (f"order-{order.pk}-email-received",)]
    record = TaskRecord.objects.get(idempotency_key=f"order-{order.pk}-email-ready")
    assert (record.queue, record.kwargs) == ("emails", {"order_id": order.pk, "kind": "ready"})


@pytest.mark.django_db
def test_an_unknown_kind_or_order_gives_up(order: Order) -> None:
    with pytest.raises(GiveUp, match="not an order e-mail"):
        emails.send_order_email(order.pk, "birthday")
    with pytest.raises(GiveUp, match="no order with id"):
        emails.send_order_email(order.pk + 1000, "received")


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
async def test_a_whole_lifecycle_sends_each_email_exactly_once(worker: RetryWorker, alice: User) -> None:
    order = await sync_to_async(services.place_order)(**ORDER_FIELDS)
    await sync_to_async(finish_all)(order, alice)
    await wait_for(lambda: len(mail.outbox) == 2, what="the received and ready e-mails")
    await sync_to_async(services.mark_delivered)(order.pk, alice)
    other = await sync_to_async(services.place_order)(**ORDER_FIELDS)
    await sync_to_async(services.cancel_order)(other.pk, alice)
    await wait_for(all_finished, what="the e-mail tasks")

    assert sorted(subjects()) == sorted(
        [
            f"Your cake order {order.label} is in",
            f"Your cake {order.label} is ready for pickup",
            f"Your cake order {other.label} is in",
            f"Your cake order {other.label} is cancelled",
        ]
    )


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
async def test_duplicate_messages_and_duplicate_tasks_send_one_email(worker: RetryWorker, layer: Any) -> None:
    order = await sync_to_async(services.place_order)(**ORDER_FIELDS)
    record = await TaskRecord.objects.aget(task_path="orders.tasks.send_order_email")
    channel = conf.get().CHANNEL_PREFIX + "emails"
    for _ in range(3):
        await layer.send(channel, {"type": "task.run", "id": str(record.pk)})
    # A second task for the same e-mail, past the idempotency key: the order's marker still stops it.
    await sync_to_async(tasks.send_order_email.enqueue)(order_id=order.pk, kind="received")
    await wait_for(all_finished, what="the e-mail tasks")

    assert subjects() == [f"Your cake order {order.label} is in"]
    results = TaskRecord.objects.filter(task_path="orders.tasks.send_order_email").values_list("return_value")
    assert sorted([cast(bool, value) async for (value,) in results]) == [False, True]


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
async def test_a_refusing_smtp_server_leads_to_retries_then_one_email(
    worker: RetryWorker, smtp_server: Callable[..., FlakySMTP]
) -> None:
    server = smtp_server(refusals=2)
    order = await sync_to_async(services.place_order)(**ORDER_FIELDS)
    await wait_for(all_finished, what="the e-mail to be sent")

    record = await TaskRecord.objects.aget(task_path="orders.tasks.send_order_email")
    assert (record.status, record.attempts) == (Status.SUCCESSFUL, 3)
    assert len(server.received) == 1
    assert f"Subject: Your cake order {order.label} is in".encode() in server.received[0]
    await order.arefresh_from_db()
    assert order.received_notified_at is not None


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
async def test_a_permanent_smtp_refusal_gives_up_and_leaves_the_email_unsent(
    worker: RetryWorker, smtp_server: Callable[..., FlakySMTP]
) -> None:
    server = smtp_server(refusals=1, code="554 no such mailbox")
    order = await sync_to_async(services.place_order)(**ORDER_FIELDS)
    await wait_for(all_finished, what="the e-mail task to give up")

    record = await TaskRecord.objects.aget(task_path="orders.tasks.send_order_email")
    assert (record.status, record.attempts, record.error_class) == (Status.FAILED, 1, "retry.policy.GiveUp")
    assert server.received == []
    assert await Order.objects.email_not_sent("received").filter(pk=order.pk).aexists()
