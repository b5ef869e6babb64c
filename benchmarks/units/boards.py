"""What the live boards cost: a daphne process's memory and CPU per kitchen-board connection, its CPU per message
pushed, and the Redis commands of one board event (the sender's and the web process's together)."""

import asyncio
import time
from typing import Any

from asgiref.sync import sync_to_async

from benchmarks import fanning, processes
from benchmarks.units import probes
from harness import servers

#: Events sent to the connected boards, one at a time: each waits until every client has it.
EVENTS = 50


def measure(clients: int, probe: probes.Probe) -> dict[str, Any]:
    user, step_id, cookie = fanning.kitchen_fixture()
    port = servers.free_port()
    web = processes.daphne(port)
    try:
        servers.wait_until_listening(port, timeout=30)
        return asyncio.run(connect_and_push(web.pid, port, cookie, clients, user, step_id, probe))
    finally:
        processes.stop([web])


async def connect_and_push(
    pid: int, port: int, cookie: str, size: int, user: Any, step_id: int, probe: probes.Probe
) -> dict[str, Any]:
    url, headers, origin = f"ws://127.0.0.1:{port}/ws/kitchen/", {"Cookie": cookie}, f"http://127.0.0.1:{port}"
    await (await fanning.connect(url, headers, origin)).close()  # warm: imports, the first session read
    await asyncio.sleep(1.0)
    rss_before, cpu_before = processes.rss_kib(pid), probes.cpu_seconds(pid)
    clients = []
    for start in range(0, size, fanning.CONNECT_BATCH):
        batch = range(start, min(size, start + fanning.CONNECT_BATCH))
        clients += await asyncio.gather(*(fanning.connect(url, headers, origin) for _ in batch))
    await asyncio.sleep(2.0)
    rss_after, cpu_connected = processes.rss_kib(pid), probes.cpu_seconds(pid)
    try:
        await asyncio.sleep(5.0)
        cpu_idle = probes.cpu_seconds(pid) - cpu_connected
        before = await sync_to_async(probe.snapshot)()
        cpu_pushing = probes.cpu_seconds(pid)
        delivered = 0
        for _ in range(EVENTS):
            delivered += len(await fanning.one_change(clients, user, step_id))
        cpu_pushing = probes.cpu_seconds(pid) - cpu_pushing
        after = await sync_to_async(probe.snapshot)()
    finally:
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
    events = probes.difference(before, after, EVENTS)
    return {
        "board": "ws/kitchen/",
        "clients": size,
        "kib_per_connection": round((rss_after - rss_before) / size, 1),
        "rss_mib_with_clients": round(rss_after / 1024, 1),
        "cpu_ms_per_connect": round((cpu_connected - cpu_before) * 1000 / size, 2),
        "cpu_percent_idle_with_clients": round(cpu_idle / 5.0 * 100, 1),
        "events": EVENTS,
        "delivered": delivered,
        "cpu_us_per_message_pushed": round(cpu_pushing * 1e6 / max(1, delivered), 1),
        "redis_commands_per_event": events["redis_commands"],
        "redis_by_command_per_event": events["redis_by_command"],
        "statements_per_event": events["statements"],
        "wal_bytes_per_event": events["wal_bytes"],
        "at": time.strftime("%H:%M"),
    }
