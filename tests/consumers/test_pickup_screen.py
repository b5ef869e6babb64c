"""The public pickup screen: order numbers in two columns, and nothing personal."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from orders import services
from orders.models import Order
from tests.factories import ORDER_FIELDS

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def finish_all(order: Order, user: User) -> None:
    for step in order.steps.all():
        services.claim_step(step.pk, user)
        services.finish_step(step.pk, user)


async def test_anyone_gets_the_numbers_in_two_columns(connect: Callable[..., Any], alice: Any, order: Order) -> None:
    second = await sync_to_async(services.place_order)(**ORDER_FIELDS)
    await sync_to_async(finish_all)(second, alice)
    screen, accepted = await connect("/ws/pickup/")
    snapshot = await screen.receive()
    assert accepted and snapshot["board"] == "pickup"
    assert snapshot["orders"] == [
        {"number": 1, "label": "#001", "column": "being_made"},
        {"number": 2, "label": "#002", "column": "ready"},
    ]


async def test_nothing_personal_reaches_the_screen(connect: Callable[..., Any], alice: Any) -> None:
    screen, _ = await connect("/ws/pickup/")
    await screen.receive()
    order = await sync_to_async(services.place_order)(**ORDER_FIELDS)
    placed = await screen.receive()
    await sync_to_async(finish_all)(order, alice)
    await sync_to_async(services.mark_delivered)(order.pk, alice)
    sent = [placed, *await screen.drain()]
    assert placed["order"] == {"number": order.number, "label": "#001", "column": "being_made"}
    assert sent[-1] == {
        "type": "order.removed",
        "version": 1,
        "seq": sent[-1]["seq"],
        "change": sent[-1]["change"],
        "number": order.number,
    }
    text = json.dumps(sent)
    for private in ("Sam", "sam@example.com", "birthday", "alice"):
        assert private not in text
    # Nor the order's id: the screen's messages carry these fields only (a search of the text for the id would
    # find it in a seq of the same value).
    for message in sent:
        assert set(message) <= {"type", "version", "seq", "change", "number", "order"}
        assert set(message.get("order", {})) <= {"number", "label", "column"}


async def test_the_screen_moves_an_order_to_ready(connect: Callable[..., Any], alice: Any, order: Order) -> None:
    screen, _ = await connect("/ws/pickup/")
    await screen.receive()
    await sync_to_async(finish_all)(order, alice)
    sent = await screen.drain()
    assert [event["order"]["column"] for event in sent] == ["ready"]


async def test_the_screen_takes_snapshot_requests_and_nothing_else(connect: Callable[..., Any], order: Order) -> None:
    screen, _ = await connect("/ws/pickup/")
    first = await screen.receive()
    await screen.send("cancel", order_id=order.pk)
    assert (await screen.receive())["code"] == "unknown_type"
    await screen.send("snapshot")
    assert (await screen.receive())["seq"] == first["seq"] + 1


async def test_a_foreign_origin_is_refused(connect: Callable[..., Any]) -> None:
    _, accepted = await connect("/ws/pickup/", origin="https://evil.example")
    assert not accepted
