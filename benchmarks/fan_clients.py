"""Kitchen-board clients of the fan-out benchmark in a process of their own, each noting when order events reach it.

    python -m benchmarks.fan_clients COOKIE FIRST COUNT URL [URL ...]

Client number n (FIRST, FIRST + 1, ...) connects to the n-th URL in turn, so the clients of every process
together spread evenly over the servers. The process prints "ready" once every client holds its snapshot. Then
each line on stdin is a command: "after STAMP" prints one JSON line, each client's delay in seconds from the
time.time() STAMP to its first "order" event at or after it (null when none came within ROUND_TIMEOUT); "stop"
closes the clients and prints "done".
"""

import asyncio
import json
import resource
import sys
import time
from typing import Any

import websockets
from websockets.typing import Origin

#: Connections each process opens at the same time while its clients join.
CONNECT_BATCH = 25
#: Seconds a client may take to connect and get its snapshot.
CONNECT_TIMEOUT = 120.0
#: Seconds every client gets to see one change.
ROUND_TIMEOUT = 30.0


def raise_file_limit() -> None:
    """Let this process (and what it starts) open as many sockets as the hard limit allows."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Client:
    """One kitchen board's socket, and the time.time() of each "order" event it got."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.arrivals: list[float] = []
        self.news = asyncio.Event()
        self.reader = asyncio.ensure_future(self.read())

    async def read(self) -> None:
        try:
            async for frame in self.socket:
                # The type is the frame's first field (protocol.message): no need to decode the whole card.
                if isinstance(frame, str) and frame.startswith('{"type": "order"'):
                    self.arrivals.append(time.time())
                    self.news.set()
        except websockets.ConnectionClosed:
            pass

    async def first_after(self, stamp: float) -> float | None:
        """Seconds from ``stamp`` to the first event at or after it; None when none comes in time."""
        deadline = time.monotonic() + ROUND_TIMEOUT
        while True:
            found = next((arrival for arrival in self.arrivals if arrival >= stamp), None)
            if found is not None:
                return found - stamp
            self.news.clear()
            try:
                await asyncio.wait_for(self.news.wait(), deadline - time.monotonic())
            except TimeoutError:
                return None


async def connect(url: str, cookie: str) -> Client:
    origin = url.replace("ws://", "http://").split("/ws/", 1)[0]
    socket = await websockets.connect(
        url,
        additional_headers={"Cookie": cookie},
        origin=Origin(origin),
        max_size=2**24,
        open_timeout=CONNECT_TIMEOUT,
        ping_interval=None,
    )
    snapshot = await asyncio.wait_for(socket.recv(decode=True), CONNECT_TIMEOUT)
    assert isinstance(snapshot, str) and snapshot.startswith('{"type": "snapshot"'), snapshot[:200]
    return Client(socket)


async def serve(cookie: str, first: int, count: int, urls: list[str]) -> None:
    clients: list[Client] = []
    for start in range(first, first + count, CONNECT_BATCH):
        numbers = range(start, min(first + count, start + CONNECT_BATCH))
        clients += await asyncio.gather(*(connect(urls[number % len(urls)], cookie) for number in numbers))
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print("ready", flush=True)
    while (command := (await reader.readline()).decode().split()) and command[0] != "stop":
        if command[0] == "after":
            delays = await asyncio.gather(*(client.first_after(float(command[1])) for client in clients))
            print(json.dumps(delays), flush=True)
    await asyncio.gather(*(client.socket.close() for client in clients), return_exceptions=True)
    print("done", flush=True)


def main() -> None:
    raise_file_limit()
    cookie, first, count, *urls = sys.argv[1:]
    asyncio.run(serve(cookie, int(first), int(count), urls))


if __name__ == "__main__":
    main()
