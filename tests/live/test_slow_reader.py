"""A client that stops reading, against real daphne: it is dropped once it stays behind, and nobody else waits."""

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import websockets
from asgiref.sync import sync_to_async

from consumers import protocol
from orders import services
from retry.outbox import outbox
from tests.factories import ORDER_FIELDS
from tests.live.conftest import Daphne, close_code, until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]

DAPHNE_ENV = {"BOARD_SEND_BUFFER": "4096", "BOARD_SLOW_GRACE": "1"}


def place_orders(count: int) -> None:
    for _ in range(count):
        services.place_order(**{**ORDER_FIELDS, "message": "m" * 60})


def small_socket(port: int) -> socket.socket:
    """A connected socket with a small receive buffer, so a client that stops reading is soon behind."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", port))
    return raw


async def test_a_client_that_stops_reading_is_dropped_and_others_go_on(
    live: Daphne, staff: Callable[..., Awaitable[Any]]
) -> None:
    alice = await staff("alice")
    await sync_to_async(place_orders)(400)
    assert await outbox.aflush()
    fast = await live.connect("/ws/kitchen/", alice)
    await until(fast, "snapshot")
    slow = await live.connect("/ws/kitchen/", alice, sock=small_socket(live.port), max_queue=1)
    with contextlib.suppress(websockets.ConnectionClosed):  # the server may drop it meanwhile
        for _ in range(30):  # about 300 KB each, never read: more than the kernel's buffers hold
            await slow.send('{"type": "snapshot", "version": 1}')
            await asyncio.sleep(0.2)
    await sync_to_async(services.place_order)(**ORDER_FIELDS)
    assert (await until(fast, "order"))["change"] == "placed"
    assert await close_code(slow, timeout=8) in (protocol.TOO_SLOW, 1006)
    await fast.close()
