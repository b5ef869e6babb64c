"""The order status page's live feed: server-sent events with the order's public fields, read from the database.

Reading the row, rather than listening to the boards' group events (at most once), means every page ends
equal to the database whatever the channel layer loses, at the cost of one small query per open page per
POLL_INTERVAL.
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.views.decorators.http import require_GET

from orders.models import Order

#: Seconds between two reads of the order.
POLL_INTERVAL = 1.0
#: Seconds a stream lasts; the browser then connects again, so no connection lives for ever.
STREAM_SECONDS = 600.0
#: Milliseconds the browser waits before it connects again.
RECONNECT_MS = 2000


@require_GET
async def order_events(request: HttpRequest, number: int) -> StreamingHttpResponse:
    """Stream a `status` event now and after each change, until the order is delivered or cancelled."""
    if await sync_to_async(public_state)(number) is None:
        raise Http404(f"There is no order #{number:03d}.")
    response = StreamingHttpResponse(stream(number), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a buffering proxy (nginx) would hold the events back
    return response


async def stream(number: int) -> AsyncIterator[str]:
    yield f"retry: {RECONNECT_MS}\n\n"
    sent, ends = None, time.monotonic() + STREAM_SECONDS
    while time.monotonic() < ends:
        state = await sync_to_async(public_state)(number)
        if state is None:
            return
        if state != sent:
            sent = state
            yield f"event: status\ndata: {json.dumps(state)}\n\n"
        if state["final"]:
            return
        await asyncio.sleep(POLL_INTERVAL)


def public_state(number: int) -> dict[str, Any] | None:
    """What the status page shows: no name, e-mail, message or webhook."""
    order = Order.objects.prefetch_related("steps").filter(number=number).first()
    if order is None:
        return None
    return {
        "status": order.status,
        "status_label": order.get_status_display(),
        "final": not order.is_open,
        "steps": [
            {"kind": step.kind, "status": step.status, "status_label": step.get_status_display()}
            for step in order.steps.all()
        ],
    }
