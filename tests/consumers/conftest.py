"""Fixtures of the board tests: staff sessions, orders, websocket clients (layer and worker: tests/conftest.py)."""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from consumers import kitchen_board, routing
from orders import services
from orders.models import Order
from retry.outbox import outbox
from tests.factories import ORDER_FIELDS

ORIGIN = "http://localhost"


def make_user(username: str, **fields: Any) -> Any:
    return get_user_model().objects.create_user(username, password="cake-pass-1", **fields)


def kitchen_staff(username: str) -> Any:
    """A staff member holding every permission the kitchen board's actions need."""
    from django.contrib.auth.models import Permission

    user = make_user(username, is_staff=True)
    codenames = {permission.split(".")[1] for permission in kitchen_board.PERMISSIONS.values()}
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="orders", codename__in=codenames))
    return user


def session_of(user: Any) -> str:
    """A logged-in session for ``user``: the value of its session cookie."""
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@sync_to_async
def step_ids(order: Order) -> dict[str, int]:
    """The id of each of the order's steps by kind."""
    return dict(order.steps.values_list("kind", "id"))


def step_of(card: dict[str, Any], kind: str) -> dict[str, Any]:
    return cast(dict[str, Any], next(step for step in card["steps"] if step["kind"] == kind))


@pytest.fixture
async def alice(layer: Any) -> Any:
    return await sync_to_async(kitchen_staff)("alice")


@pytest.fixture
async def bob(layer: Any) -> Any:
    return await sync_to_async(kitchen_staff)("bob")


@pytest.fixture
async def order(layer: Any) -> Order:
    """A new order, its events (and its tasks') already published, so a board connected next gets only later ones."""
    placed = await sync_to_async(services.place_order)(**ORDER_FIELDS)
    assert await outbox.aflush()
    return placed


class Board:
    """A websocket client of a board, with helpers to read what it is sent."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator
        self.seq = 0

    async def send(self, kind: str, **fields: Any) -> None:
        await self.communicator.send_json_to({"type": kind, "version": 1, **fields})

    async def receive(self, timeout: float = 5) -> dict[str, Any]:
        message: dict[str, Any] = await self.communicator.receive_json_from(timeout=timeout)
        if "seq" in message:
            self.seq = message["seq"]
        return message

    async def until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5) -> dict[str, Any]:
        """The first message that satisfies ``predicate``; earlier ones are dropped."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.receive(timeout)
                if predicate(message):
                    return message

    async def reply(self) -> dict[str, Any]:
        return await self.until(lambda message: message["type"] in ("ok", "error"))

    async def drain(self, timeout: float = 0.5) -> list[dict[str, Any]]:
        """Every message sent until the board stays quiet for ``timeout`` seconds."""
        messages = []
        while not await self.communicator.receive_nothing(timeout=timeout):
            messages.append(await self.receive())
        return messages

    async def quiet(self, timeout: float = 0.3) -> bool:
        return await self.communicator.receive_nothing(timeout=timeout)


@pytest.fixture
async def connect(layer: Any) -> AsyncIterator[Callable[..., Any]]:
    """Open a board websocket: connect(path, user=..., origin=...) returns (Board, accepted)."""
    opened: list[WebsocketCommunicator] = []

    async def open_board(path: str = "/ws/kitchen/", user: Any = None, origin: str = ORIGIN) -> tuple[Board, bool]:
        headers = [(b"origin", origin.encode()), (b"host", b"localhost")]
        if user is not None:
            cookie = await sync_to_async(session_of)(user)
            headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
        communicator = WebsocketCommunicator(routing.websocket_application(), path, headers=headers)
        opened.append(communicator)
        accepted, _ = await communicator.connect(timeout=5)
        return Board(communicator), accepted

    yield open_board
    for communicator in opened:
        # A receive that timed out has cancelled the consumer already.
        if not communicator.future.done():
            await communicator.disconnect()
