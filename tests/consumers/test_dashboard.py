"""The dashboard feed: staff only, fresh figures after every task change, throttled."""

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import path

from consumers import protocol
from consumers.dashboard import DashboardConsumer
from retry import conf, transitions
from tests.retry.rows import task

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(30)]
APPLICATION = AuthMiddlewareStack(URLRouter([path("ws/dashboard/", DashboardConsumer.as_asgi())]))


def session_cookie(username: str, **fields: Any) -> bytes:
    user = get_user_model().objects.create_user(username, **fields)
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


@pytest.fixture
async def open_feed(layer):
    opened = []

    async def open_as(username: str | None, **fields: Any) -> tuple[WebsocketCommunicator, Any]:
        headers = [] if username is None else [(b"cookie", await sync_to_async(session_cookie)(username, **fields))]
        communicator = WebsocketCommunicator(APPLICATION, "/ws/dashboard/", headers=headers)
        opened.append(communicator)
        return communicator, await communicator.connect(timeout=5)

    yield open_as
    for communicator in opened:
        await communicator.disconnect()


def queue_of(message: dict[str, Any], name: str) -> dict[str, Any]:
    return next(q for q in message["figures"]["queues"] if q["queue"] == name)


async def test_staff_get_the_figures_on_connect(open_feed):
    await sync_to_async(task)("emails", enqueued=30)
    feed, (accepted, _) = await open_feed("olga", is_staff=True, is_superuser=True)
    assert accepted
    message = await feed.receive_json_from(timeout=5)
    assert (message["type"], message["version"]) == ("dashboard.figures", 1)
    assert queue_of(message, "emails")["ready"] == 1


async def test_the_feed_updates_when_a_task_changes(open_feed):
    record = await sync_to_async(task)("webhooks", enqueued=30)
    feed, _ = await open_feed("olga", is_staff=True, is_superuser=True)
    assert queue_of(await feed.receive_json_from(timeout=5), "webhooks")["dead"] == 0
    assert await sync_to_async(transitions.cancel)(str(record.pk))
    message = await feed.receive_json_from(timeout=5)
    assert (queue_of(message, "webhooks")["ready"], queue_of(message, "webhooks")["dead"]) == (0, 1)


async def test_a_burst_of_changes_makes_one_push(open_feed, layer):
    feed, _ = await open_feed("olga", is_staff=True, is_superuser=True)
    await feed.receive_json_from(timeout=5)
    for _ in range(20):
        await layer.group_send(conf.get().EVENTS_GROUP, {"type": "task.changed", "change": "started"})
    await feed.receive_json_from(timeout=5)
    assert await feed.receive_nothing(timeout=0.6)


async def test_a_refresh_request_gets_fresh_figures(open_feed):
    feed, _ = await open_feed("olga", is_staff=True, is_superuser=True)
    await feed.receive_json_from(timeout=5)
    await sync_to_async(task)("maintenance", enqueued=30)
    await feed.send_json_to({"type": "refresh", "version": 1})
    assert queue_of(await feed.receive_json_from(timeout=5), "maintenance")["ready"] == 1


@pytest.mark.parametrize(
    ("username", "fields"),
    [
        (None, {}),  # not logged in
        ("carol", {}),  # a customer
        ("sam", {"is_staff": True}),  # kitchen staff without the permission to view tasks
        ("eve", {"is_staff": True, "is_superuser": True, "is_active": False}),
    ],
)
async def test_others_are_closed_out_before_any_figures(open_feed, username, fields):
    feed, _ = await open_feed(username, **fields)
    closing = await feed.receive_output(timeout=5)
    assert closing["type"] == "websocket.close"
    assert closing["code"] == (protocol.NOT_ALLOWED if username in ("carol", "sam") else protocol.NOT_LOGGED_IN)
