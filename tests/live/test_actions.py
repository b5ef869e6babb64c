"""Kitchen board actions against real daphne: each needs the model permission it amounts to, checked per action."""

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission
from websockets.asyncio.client import ClientConnection

from orders import services
from orders.models import Order, Step
from tests.factories import ORDER_FIELDS
from tests.live.conftest import Daphne, receive, until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


async def reply_to(client: ClientConnection, kind: str, **fields: object) -> dict[str, Any]:
    import json

    await client.send(json.dumps({"type": kind, "version": 1, "ref": kind, **fields}))
    while (message := await receive(client)).get("ref") != kind:
        pass
    return message


@pytest.fixture
async def order(live: Daphne) -> Order:
    return await sync_to_async(services.place_order)(**ORDER_FIELDS)


async def status_of(order: Order) -> str:
    return (await Order.objects.aget(pk=order.pk)).status


async def test_staff_without_permissions_can_watch_but_change_nothing(
    live: Daphne, staff: Callable[..., Awaitable[Any]], order: Order
) -> None:
    sam = await staff("sam")
    client = await live.connect("/ws/kitchen/", sam)
    assert [card["id"] for card in (await until(client, "snapshot"))["orders"]] == [order.pk]
    scoop = await Step.objects.aget(order=order, kind="scoop")
    for kind, fields in [("cancel", {"order_id": order.pk}), ("claim", {"step_id": scoop.pk}), ("next", {})]:
        reply = await reply_to(client, kind, **fields)
        assert (reply["type"], reply["code"]) == ("error", "not_permitted"), kind
    assert await status_of(order) == Order.Status.RECEIVED
    assert (await Step.objects.aget(pk=scoop.pk)).status == Step.Status.TODO
    await client.close()


async def test_each_action_needs_its_own_permission(
    live: Daphne, staff: Callable[..., Awaitable[Any]], order: Order
) -> None:
    cook = await staff("cook", "orders.change_step")
    client = await live.connect("/ws/kitchen/", cook)
    await until(client, "snapshot")
    scoop = await Step.objects.aget(order=order, kind="scoop")
    assert (await reply_to(client, "claim", step_id=scoop.pk))["type"] == "ok"
    assert (await reply_to(client, "finish", step_id=scoop.pk))["type"] == "ok"
    assert (await reply_to(client, "cancel", order_id=order.pk))["code"] == "not_permitted"
    assert await status_of(order) == Order.Status.IN_PROGRESS
    await client.close()


async def test_a_permission_taken_away_is_refused_at_the_next_action(
    live: Daphne, staff: Callable[..., Awaitable[Any]], order: Order
) -> None:
    manager = await staff("manager", "orders.change_step", "orders.change_order")
    client = await live.connect("/ws/kitchen/", manager)
    await until(client, "snapshot")
    await sync_to_async(manager.user_permissions.remove)(await Permission.objects.aget(codename="change_order"))
    assert (await reply_to(client, "cancel", order_id=order.pk))["code"] == "not_permitted"
    assert await status_of(order) == Order.Status.RECEIVED
    await client.close()
