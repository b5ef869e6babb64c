"""The order status page's feed: the order's public fields only, a new event after each change, an end when
the order is closed."""

import json
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.http import StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.test import AsyncClient

from orders import services, status_events
from orders.models import Order

pytestmark = pytest.mark.django_db(transaction=True)


def data(chunk: bytes) -> dict[str, Any]:
    event, payload = chunk.decode().split("\ndata: ", 1)
    assert event == "event: status"
    return cast(dict[str, Any], json.loads(payload))


def streamed(response: HttpResponseBase) -> AsyncIterator[bytes]:
    """The body of a streaming response served over ASGI, chunk by chunk."""
    assert isinstance(response, StreamingHttpResponse)
    return cast(AsyncIterator[bytes], response.streaming_content)


async def test_the_feed_shows_only_public_fields_and_follows_each_change(
    async_client: AsyncClient, order: Order, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status_events, "POLL_INTERVAL", 0.05)
    response = await async_client.get(f"/orders/{order.number}/events")
    chunks = aiter(streamed(response))
    assert await anext(chunks) == b"retry: 2000\n\n"
    first = data(await anext(chunks))
    scoop = await order.steps.afirst()
    assert scoop is not None
    await sync_to_async(services.claim_step)(scoop.pk, alice)
    second = data(await anext(chunks))

    assert first == {
        "status": "received",
        "status_label": "Received",
        "final": False,
        "steps": [
            {"kind": kind, "status": "todo", "status_label": "To do"} for kind in ("scoop", "spread", "decorate")
        ],
    }
    assert (second["status"], second["steps"][0]["status"]) == ("in_progress", "claimed")
    assert order.customer_name not in json.dumps([first, second])


async def test_the_feed_of_a_closed_order_sends_one_event_and_ends(
    async_client: AsyncClient, order: Order, alice: User
) -> None:
    await sync_to_async(services.cancel_order)(order.pk, alice)
    response = await async_client.get(f"/orders/{order.number}/events")
    chunks = [chunk async for chunk in streamed(response)]
    assert len(chunks) == 2
    assert data(chunks[1])["final"] is True


async def test_the_feed_of_an_unknown_order_is_404(async_client: AsyncClient) -> None:
    assert (await async_client.get("/orders/999/events")).status_code == 404
    assert not await Order.objects.aexists()
