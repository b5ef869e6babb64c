"""Kitchen boards under a stream of order events, by hand: what each client is sent, and daphne's memory.

5,000 events about a 625-order board, a few of them late by up to 25 ms as Redis delivers them, none lost; fast
clients read everything, and with --slow one more client stops reading after its snapshot. Run with the
shared PostgreSQL and Redis (it makes and drops a database of its own, and uses a Redis prefix of its own):

    .venv/bin/python -m benchmarks.boards [--slow [--greedy]] [--root <a checkout to serve from>]
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from websockets.typing import Origin

PG = "postgres://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/0"
#: Share of events that arrive late, and by how much at most (seconds): what one run on Redis showed.
LATE_SHARE, LATE_BY = 257 / 5004, 0.025


def setup(database: str, prefix: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="project.settings", DATABASE_URL=f"{PG}/{database}", REDIS_URL=REDIS, REDIS_PREFIX=prefix
    )
    os.environ.setdefault("LOG_LEVEL", "warning")
    from benchmarks import databases

    databases.create_postgres(f"{PG}/postgres", database)
    import django

    django.setup()


def seed(orders: int) -> tuple[list[int], str]:
    """``orders`` open orders, and a staff session's cookie."""
    from benchmarks.fanning import kitchen_fixture
    from orders import services
    from orders.models import Order

    _, _, cookie = kitchen_fixture()
    fields = {"customer_name": "Bench", "customer_email": "bench@example.com", "flavour": "vanilla", "size": "medium"}
    for _ in range(orders - 1):
        services.place_order(**fields, message="Happy birthday")
    return list(Order.objects.values_list("pk", flat=True)), cookie


class Client:
    """A kitchen board client that counts what it is sent; a slow one stops reading after its snapshot."""

    def __init__(self, slow: bool = False, greedy: bool = False) -> None:
        self.slow = slow
        self.greedy = greedy
        self.counts: dict[str, int] = {}
        self.bytes = 0
        self.closed: tuple[float, int | None] | None = None
        self.last = time.monotonic()

    async def run(self, url: str, cookie: str, origin: str) -> None:
        import websockets

        options: dict[str, Any] = {"max_queue": 1} if self.slow else {}
        async with websockets.connect(
            url, additional_headers={"Cookie": cookie}, origin=cast("Origin", origin), max_size=2**24, **options
        ) as socket:
            self.socket = socket
            try:
                async for frame in socket:
                    self.bytes += len(frame)
                    kind = json.loads(frame)["type"]
                    self.counts[kind] = self.counts.get(kind, 0) + 1
                    self.last = time.monotonic()
                    if self.slow:
                        if self.greedy:  # asks for a snapshot five times a second (the rate limit)
                            self.asking = asyncio.ensure_future(self.ask(socket))
                        await socket.wait_closed()  # reads nothing more
            except websockets.ConnectionClosed:
                pass
            self.closed = (time.monotonic(), socket.close_code)

    async def ask(self, socket: Any) -> None:
        import websockets

        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await socket.send('{"type": "snapshot", "version": 1}')
                await asyncio.sleep(0.2)


async def publish(order_ids: list[int], events: int) -> float:
    """Change a random order and announce it, ``events`` times; a few events go out late. Returns the start."""
    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    from orders.models import Order

    layer, source, rng = get_channel_layer(), uuid.uuid4().hex, random.Random(4)
    assert layer is not None
    late: set[asyncio.Task[Any]] = set()
    started = time.monotonic()
    for number in range(1, events + 1):
        order_id = rng.choice(order_ids)
        await sync_to_async(Order.objects.filter(pk=order_id).update)(message=f"bench {number}")
        event = {"type": "order.changed", "version": 1, "order_id": order_id, "change": "step_claimed"}
        send = layer.group_send("boards.kitchen", {**event, "source": source, "n": number})
        if rng.random() < LATE_SHARE:
            late.add(asyncio.ensure_future(later(rng.uniform(0, LATE_BY), send)))
        else:
            await send
    await asyncio.gather(*late)
    return started


async def later(delay: float, send: Any) -> None:
    await asyncio.sleep(delay)
    await send


async def measure(
    port: int, pid: int, cookie: str, order_ids: list[int], options: argparse.Namespace
) -> dict[str, Any]:
    from benchmarks import processes

    url, origin = f"ws://127.0.0.1:{port}/ws/kitchen/", f"http://127.0.0.1:{port}"
    clients = [Client() for _ in range(options.clients)] + (
        [Client(slow=True, greedy=options.greedy)] if options.slow else []
    )
    running = [asyncio.ensure_future(client.run(url, cookie, origin)) for client in clients]
    while any(not client.counts for client in clients):
        await asyncio.sleep(0.1)
    before, peak = processes.rss_kib(pid), 0

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, processes.rss_kib(pid))
            await asyncio.sleep(0.2)

    sampler = asyncio.ensure_future(sample())
    started = await publish(order_ids, options.events)
    while time.monotonic() - max(client.last for client in clients if not client.slow) < 3:
        await asyncio.sleep(0.2)
    sampler.cancel()
    for client in clients:
        await client.socket.close()
    await asyncio.gather(*running, return_exceptions=True)
    return {
        "events": options.events,
        "orders": len(order_ids),
        "rss_before_mib": round(before / 1024, 1),
        "rss_peak_mib": round(peak / 1024, 1),
        "clients": [
            {
                "slow": client.slow,
                "messages": client.counts,
                "mib": round(client.bytes / 2**20, 2),
                "closed_after_s": round(client.closed[0] - started, 1) if client.slow and client.closed else None,
                "close_code": client.closed[1] if client.closed else None,
            }
            for client in clients
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--orders", type=int, default=625)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--slow", action="store_true", help="one more client, which stops reading")
    parser.add_argument("--greedy", action="store_true", help="the slow client asks for snapshots meanwhile")
    options = parser.parse_args()
    database, prefix = f"bench_boards_{os.getpid()}", f"bench-boards-{uuid.uuid4().hex[:8]}"
    setup(database, prefix)
    from benchmarks import databases, processes
    from harness import servers
    from harness.layers import flush_channel_layer

    try:
        order_ids, cookie = seed(options.orders)
        flush_channel_layer()
        port = servers.free_port()
        daphne = str(Path(sys.executable).with_name("daphne"))
        command = [daphne, "--bind", "127.0.0.1", "--port", str(port), "--proxy-headers", "project.asgi:application"]
        import subprocess

        server = subprocess.Popen(
            command, cwd=options.root, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            servers.wait_until_listening(port, timeout=20)
            print(json.dumps(asyncio.run(measure(port, server.pid, cookie, order_ids, options)), indent=1))
        finally:
            processes.stop([server])
    finally:
        flush_channel_layer()
        from django.db import connections

        connections.close_all()
        databases.drop_postgres(f"{PG}/postgres", database)


if __name__ == "__main__":
    main()
