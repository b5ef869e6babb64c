"""Kitchen-board clients of the fan-out benchmark in a process of their own, each noting when order events reach it.

    python -m benchmarks.fan_clients COOKIE FIRST COUNT URL [URL ...]

Client number n (FIRST, FIRST + 1, ...) connects to the n-th URL in turn, so the clients of every process
together spread evenly over the servers. The process prints "ready" once every client holds its snapshot. Then
each line on stdin is a command: "after STAMP" prints one JSON line, each client's delay in seconds from the
time.time() STAMP to its first "order" event at or after it (null when none came within ROUND_TIMEOUT); "stop"
closes the clients and prints "done".

Each client is a bare RFC 6455 client on an asyncio protocol: the handshake, the server's frames read as they
come (an event counts when its whole frame has arrived), pings answered. The clients share the machine's two
cores with the servers they measure: on the `websockets` library, with a waiting task per client, 5,000 clients
took 480 ms of CPU per event (about 100 µs a frame), more than both daphne processes took to send it; these take
about 35 µs a frame.
"""

import asyncio
import base64
import bisect
import json
import os
import resource
import sys
import time
from urllib.parse import urlsplit

#: Connections each process opens at the same time while its clients join.
CONNECT_BATCH = 25
#: Seconds a client may take to connect and get its snapshot.
CONNECT_TIMEOUT = 120.0
#: Seconds every client gets to see one change.
ROUND_TIMEOUT = 30.0
#: Seconds between two looks at whether every client has the event.
POLL = 0.02
#: How the frames the benchmark looks for begin (protocol.message puts the type first).
SNAPSHOT, ORDER = b'{"type": "snapshot"', b'{"type": "order"'
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


def raise_file_limit() -> None:
    """Let this process (and what it starts) open as many sockets as the hard limit allows."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def client_frame(opcode: int, payload: bytes = b"") -> bytes:
    """A client's frame: masked, as RFC 6455 requires (payloads under 126 bytes: pongs and closes)."""
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return bytes((0x80 | opcode, 0x80 | len(payload))) + mask + masked


def handshake(url: str, cookie: str) -> bytes:
    parts = urlsplit(url)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {parts.path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        f"Origin: http://{parts.netloc}",
        f"Cookie: {cookie}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Client(asyncio.Protocol):
    """One kitchen board's socket, and the time.time() of each "order" event it got."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.buffer = bytearray()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        self.arrivals: list[float] = []
        self.snapshot: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            head, found, rest = self.buffer.partition(b"\r\n\r\n")
            if not found:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self.fail(RuntimeError(head[:200].decode(errors="replace")))
                return
            self.upgraded, self.buffer = True, bytearray(rest)
        while (frame := self.next_frame()) is not None:
            self.take(*frame)

    def next_frame(self) -> tuple[int, bytes] | None:
        """The opcode and payload of the first whole frame in the buffer, taken out of it (server frames are not
        masked); None until one has arrived."""
        buffer = self.buffer
        if len(buffer) < 2:
            return None
        size, start = buffer[1] & 0x7F, 2
        if size >= 126:
            start = 4 if size == 126 else 10
            if len(buffer) < start:
                return None
            size = int.from_bytes(buffer[2:start], "big")
        if len(buffer) < start + size:
            return None
        opcode, payload = buffer[0] & 0x0F, bytes(buffer[start : start + size])
        del buffer[: start + size]
        return opcode, payload

    def take(self, opcode: int, payload: bytes) -> None:
        if opcode == TEXT and payload.startswith(ORDER):
            self.arrivals.append(time.time())
        elif opcode == TEXT and payload.startswith(SNAPSHOT) and not self.snapshot.done():
            self.snapshot.set_result(None)
        elif opcode == PING and self.transport is not None:
            self.transport.write(client_frame(PONG, payload))

    def fail(self, error: BaseException) -> None:
        if not self.snapshot.done():
            self.snapshot.set_exception(error)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, error: Exception | None) -> None:
        if not self.snapshot.done():
            self.snapshot.set_exception(error or ConnectionError("closed before the snapshot"))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(CLOSE, (1000).to_bytes(2, "big")))
            self.transport.close()

    def first_after(self, stamp: float) -> float | None:
        """Seconds from ``stamp`` to the first event at or after it; None while there is none."""
        found = self.arrivals[bisect.bisect_left(self.arrivals, stamp) :]
        return found[0] - stamp if found else None


async def delays_after(clients: list[Client], stamp: float) -> list[float | None]:
    """Each client's delay from ``stamp`` to its first event after it, once every client has one or the time is up.

    Looked at every POLL seconds rather than awaited per client: a wake-up per client and event would cost this
    process as much as reading the frames.
    """
    deadline = time.monotonic() + ROUND_TIMEOUT
    waiting = clients
    while waiting and time.monotonic() < deadline:
        await asyncio.sleep(POLL)
        waiting = [client for client in waiting if not client.arrivals or client.arrivals[-1] < stamp]
    return [client.first_after(stamp) for client in clients]


async def connect(url: str, cookie: str) -> Client:
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    request = handshake(url, cookie)
    assert parts.hostname is not None and parts.port is not None, url
    _, client = await loop.create_connection(lambda: Client(request), parts.hostname, parts.port)
    await asyncio.wait_for(client.snapshot, CONNECT_TIMEOUT)
    return client


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
            delays = await delays_after(clients, float(command[1]))
            print(json.dumps(delays), flush=True)
    for client in clients:
        client.close()
    await asyncio.sleep(0.5)  # the close frames leave before the process does
    print("done", flush=True)


def main() -> None:
    raise_file_limit()
    cookie, first, count, *urls = sys.argv[1:]
    asyncio.run(serve(cookie, int(first), int(count), urls))


if __name__ == "__main__":
    main()
