"""Clients of the task feed for the tests (the open_feed fixture is in conftest): staff sessions, task changes."""

from collections.abc import Callable
from typing import Any

from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from retry import conf

STAFF = {"is_staff": True, "is_superuser": True}


def session_cookie(username: str, **fields: Any) -> bytes:
    user = get_user_model().objects.create_user(username, **fields)
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


async def watching(open_feed: Callable[..., Any]) -> WebsocketCommunicator:
    """A staff member's feed, its first figures read."""
    feed: WebsocketCommunicator
    feed, (accepted, _) = await open_feed("olga", **STAFF)
    assert accepted
    assert (await feed.receive_json_from(timeout=5))["type"] == "dashboard.figures"
    return feed


async def task_changes(layer: Any) -> None:
    """What retry.events publishes when tasks change state."""
    event = {"type": "task.changed", "version": 1, "task_id": "x", "change": "started"}
    await layer.group_send(conf.get().EVENTS_GROUP, {"type": "task.changes", "events": [event]})
