"""Access ends when it ends, on every socket: each client message and each pushed batch reads the session again."""

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission, User
from django.contrib.sessions.models import Session

from consumers import protocol
from orders import services
from retry import conf
from tests.factories import ORDER_FIELDS
from tests.live.conftest import Daphne, close_code, receive, until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

VIEW_TASKS = "retry.view_taskrecord"


def log_out(user: Any) -> None:
    Session.objects.all().delete()


def deactivate(user: Any) -> None:
    user.is_active = False
    user.save()


def demote(user: Any) -> None:
    user.is_staff = False
    user.save()


def forbid_tasks(user: Any) -> None:
    user.user_permissions.remove(Permission.objects.get(codename="view_taskrecord"))


#: Each way access ends, and the close code the socket then sends.
REVOCATIONS = [
    (log_out, protocol.NOT_LOGGED_IN),
    (deactivate, protocol.NOT_LOGGED_IN),
    (demote, protocol.NOT_ALLOWED),
    (forbid_tasks, protocol.NOT_ALLOWED),
]


async def task_changes(layer: Any) -> None:
    """What retry.events publishes when tasks change state."""
    event = {"type": "task.changed", "version": 1, "task_id": "x", "change": "started"}
    await layer.group_send(conf.get().EVENTS_GROUP, {"type": "task.changes", "events": [event]})


@pytest.mark.parametrize(("revoke", "code"), REVOCATIONS)
async def test_the_dashboard_closes_on_the_next_message_after_access_ends(
    live: Daphne, staff: Callable[..., Awaitable[Any]], revoke: Callable[[User], object], code: int
) -> None:
    olga = await staff("olga", VIEW_TASKS)
    client = await live.connect("/ws/dashboard/", olga)
    await until(client, "dashboard.figures")
    await sync_to_async(revoke)(olga)
    await client.send('{"type": "refresh", "version": 1}')
    assert (await receive(client))["code"] == "access_lost"
    assert await close_code(client) == code


@pytest.mark.parametrize(("revoke", "code"), REVOCATIONS)
async def test_the_dashboard_closes_on_the_next_push_after_access_ends(
    live: Daphne, staff: Callable[..., Awaitable[Any]], revoke: Callable[[User], object], code: int
) -> None:
    from channels.layers import get_channel_layer

    olga = await staff("olga", VIEW_TASKS)
    client = await live.connect("/ws/dashboard/", olga)
    await until(client, "dashboard.figures")
    await sync_to_async(revoke)(olga)
    await task_changes(get_channel_layer())
    assert await close_code(client) == code


async def test_the_dashboard_feed_goes_on_while_access_lasts(
    live: Daphne, staff: Callable[..., Awaitable[Any]]
) -> None:
    from channels.layers import get_channel_layer

    olga = await staff("olga", VIEW_TASKS)
    client = await live.connect("/ws/dashboard/", olga)
    await until(client, "dashboard.figures")
    await task_changes(get_channel_layer())
    assert (await receive(client))["type"] == "dashboard.figures"
    await client.send('{"type": "refresh", "version": 1}')
    assert (await receive(client))["type"] == "dashboard.figures"
    await client.close()


#: Each way a kitchen board's access ends, and the close code it then sends.
KITCHEN_REVOCATIONS = REVOCATIONS[:3]


@pytest.mark.parametrize(("revoke", "code"), KITCHEN_REVOCATIONS)
async def test_the_kitchen_board_closes_on_the_next_message_after_access_ends(
    live: Daphne, staff: Callable[..., Awaitable[Any]], revoke: Callable[[User], object], code: int
) -> None:
    alice = await staff("alice")
    client = await live.connect("/ws/kitchen/", alice)
    await until(client, "snapshot")
    await sync_to_async(revoke)(alice)
    await client.send('{"type": "snapshot", "version": 1, "ref": "r1"}')
    reply = await receive(client)
    assert (reply["code"], reply["ref"]) == ("access_lost", "r1")
    assert await close_code(client) == code


@pytest.mark.parametrize(("revoke", "code"), KITCHEN_REVOCATIONS)
async def test_the_kitchen_board_closes_on_the_next_push_after_access_ends(
    live: Daphne, staff: Callable[..., Awaitable[Any]], revoke: Callable[[User], object], code: int
) -> None:
    alice = await staff("alice")
    client = await live.connect("/ws/kitchen/", alice)
    await until(client, "snapshot")
    await sync_to_async(revoke)(alice)
    await sync_to_async(services.place_order)(**ORDER_FIELDS)
    assert await close_code(client) == code
