"""Order events that arrive late or never, against real daphne and Redis: a late number is no loss, and a lost one
is repaired with the cards that changed, not the whole board."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from websockets.asyncio.client import ClientConnection

from orders import events, services
from orders.models import Order
from retry.outbox import outbox
from tests.factories import ORDER_FIELDS
from tests.live.conftest import Daphne, receive, until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


class Sender:
    """Order events of a sender of the test's own, numbered as it chooses."""

    def __init__(self) -> None:
        self.source = uuid.uuid4().hex

    async def send(self, number: int, order: Order) -> None:
        event = {"type": "order.changed", "version": 1, "order_id": order.pk, "change": "placed"}
        layer = get_channel_layer()
        assert layer is not None
        await layer.group_send(events.KITCHEN_GROUP, {**event, "source": self.source, "n": number})


async def heard(client: ClientConnection, timeout: float) -> list[dict[str, Any]]:
    """Every message the client gets within ``timeout`` seconds."""
    got = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                got.append(await receive(client))
    except TimeoutError:
        return got


@pytest.fixture
async def board(
    live: Daphne, staff: Callable[..., Awaitable[Any]]
) -> AsyncIterator[tuple[ClientConnection, list[Order]]]:
    alice = await staff("alice")
    orders = [await sync_to_async(services.place_order)(**ORDER_FIELDS) for _ in range(3)]
    assert await outbox.aflush()  # their own events are out before the board connects
    client = await live.connect("/ws/kitchen/", alice)
    await until(client, "snapshot")
    yield client, orders
    await client.close()


async def test_numbers_late_by_less_than_their_own_wait_are_no_loss(
    board: tuple[ClientConnection, list[Order]],
) -> None:
    client, (first, second, third) = board
    sender = Sender()
    await sender.send(1, first)
    await sender.send(3, second)  # 2 is late
    await asyncio.sleep(0.1)
    await sender.send(2, third)
    await asyncio.sleep(0.3)
    await sender.send(5, first)  # 4 is late, and still within its own wait when 2's would have ended
    await asyncio.sleep(0.2)
    await sender.send(4, second)
    got = await heard(client, 1.2)
    assert [message["type"] for message in got if message["type"] != "order"] == []
    assert all(message["change"] == "placed" for message in got)


async def test_a_lost_number_is_repaired_with_the_cards_that_changed(
    board: tuple[ClientConnection, list[Order]],
) -> None:
    client, (first, second, _) = board
    sender = Sender()
    # A change whose event is lost: the card of the second order differs from what the client has.
    await Order.objects.filter(pk=second.pk).aupdate(customer_name="Renamed")
    await sender.send(1, first)
    await sender.send(3, first)  # 2 never comes
    got = await heard(client, 1.5)
    assert [message["type"] for message in got] == ["order"]
    assert (got[0]["change"], got[0]["order"]["customer_name"]) == ("resync", "Renamed")
