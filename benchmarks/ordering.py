"""Orders placed through POST /api/orders at a steady rate, each on a connection of its own, as customers do.

The schedule is open loop: each POST starts at its planned moment whatever the earlier ones are doing, so a
slow answer never delays the next order.
"""

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

#: Seconds one POST may take, connection included.
TIMEOUT = 60.0
FLAVOURS = ("vanilla", "chocolate", "strawberry", "pistachio", "mango", "stracciatella")
SIZES = ("small", "medium", "large")


@dataclass
class Placed:
    """One POST: when it was planned and sent, when it was answered, and what the answer said."""

    number: int
    planned: float  # time.monotonic()
    lag: float  # seconds between the planned moment and the send
    sent: float  # time.time(), the clock the boards and the task rows are compared with
    seconds: float | None = None  # from the send to the whole answer
    status: int | None = None
    order_id: int | None = None
    error: str | None = None


def order_fields(number: int, run: str) -> dict[str, str]:
    """A valid order; each has an e-mail address of its own, as each customer does."""
    return {
        "customer_name": f"Customer {number}",
        "customer_email": f"customer-{run}-{number}@example.com",
        "flavour": FLAVOURS[number % len(FLAVOURS)],
        "size": SIZES[number % len(SIZES)],
        "message": f"Happy birthday #{number}",
    }


async def place(
    port: int, count: int, rate: float, first: int, run: str, extra: dict[str, str] | None = None
) -> list[Placed]:
    """POST ``count`` orders at ``rate`` per second, numbered from ``first`` (each with ``extra`` fields too);
    returns every POST's outcome."""
    start = time.monotonic() + 0.05
    posts = []
    for index in range(count):
        planned = start + index / rate
        delay = planned - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        placed = Placed(first + index, planned, time.monotonic() - planned, time.time())
        posts.append(asyncio.ensure_future(post(port, placed, order_fields(first + index, run) | (extra or {}))))
    return list(await asyncio.gather(*posts))


async def post(port: int, placed: Placed, fields: dict[str, str]) -> Placed:
    started = time.monotonic()
    body = json.dumps(fields).encode()
    head = (
        f"POST /api/orders HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    try:
        answer = await asyncio.wait_for(exchange(port, head.encode() + body), TIMEOUT)
        placed.status, content = parse(answer)
        if placed.status == 201:
            placed.order_id = int(content["id"])
        else:
            placed.error = str(content)[:200]
    except (OSError, TimeoutError, ValueError) as error:
        placed.error = repr(error)
    placed.seconds = time.monotonic() - started
    return placed


async def exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        return await reader.read()  # the server closes the connection after its answer
    finally:
        writer.close()


def parse(answer: bytes) -> tuple[int, Any]:
    """The status code and the body of an HTTP/1.1 answer that has a Content-Length: JSON, or the text (a 500)."""
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode(errors="replace").strip()
